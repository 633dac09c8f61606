//! What the user sees: progress lines (flushed line by line, so CI logs
//! show them live), colour where a person is watching, GitHub Actions
//! groups and annotations, and the texts that explain stopped tasks.

use std::io::IsTerminal;
use std::time::Instant;

use serde_json::Value;

use crate::tasks::why_stopped;

use crate::cli::OutputFormat;
use crate::error::Error;

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

/// Prints progress. Lines inherited from the bash script ("Using image
/// name: …") are printed as they are; lines of the wait carry the seconds
/// elapsed since the run started, which is what a reader of a CI log needs.
/// With `--output json`, all of it goes to stderr so that stdout carries
/// only the JSON document.
pub struct Reporter {
    started: Instant,
    to_stderr: bool,
    color: bool,
    github: bool,
}

impl Reporter {
    /// A reporter for a run that started at `started`.
    pub fn new(
        started: Instant,
        format: OutputFormat,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Reporter {
        let to_stderr = format == OutputFormat::Json;
        let terminal = if to_stderr {
            std::io::stderr().is_terminal()
        } else {
            std::io::stdout().is_terminal()
        };
        Reporter {
            started,
            to_stderr,
            color: terminal && wants_color(env),
            github: is_github_actions(env),
        }
    }

    fn line(&self, text: &str) {
        if self.to_stderr {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }

    /// A plain line.
    pub fn say(&self, line: impl AsRef<str>) {
        self.line(line.as_ref());
    }

    /// A line announcing success, green where colour is wanted.
    pub fn success(&self, line: impl AsRef<str>) {
        if self.color {
            self.line(&format!("{GREEN}{}{RESET}", line.as_ref()));
        } else {
            self.line(line.as_ref());
        }
    }

    /// A progress line of the wait, stamped with the elapsed time.
    pub fn progress(&self, line: impl AsRef<str>) {
        let elapsed = self.started.elapsed().as_secs_f64();
        for (i, part) in line.as_ref().lines().enumerate() {
            if i == 0 {
                self.line(&format!("[{elapsed:>6.1}s] {part}"));
            } else {
                self.line(&format!("          {part}"));
            }
        }
    }

    /// Starts a collapsible group of lines in a GitHub Actions log.
    pub fn group(&self, title: &str) {
        if self.github {
            self.line(&format!("::group::{}", escape_workflow_command(title)));
        }
    }

    /// Ends the group [`Reporter::group`] started.
    pub fn end_group(&self) {
        if self.github {
            self.line("::endgroup::");
        }
    }
}

/// Prints the error that ends a run: `ERROR: …` on stderr (red where colour
/// is wanted) and, in GitHub Actions, an `::error::` annotation too.
pub fn print_error(error: &Error, env: &dyn Fn(&str) -> Option<String>) {
    if std::io::stderr().is_terminal() && wants_color(env) {
        eprintln!("{RED}ERROR:{RESET} {error}");
    } else {
        eprintln!("ERROR: {error}");
    }
    if error.is_usage() {
        eprintln!("Run 'ecs-deploy --help' for usage.");
    }
    if is_github_actions(env) {
        eprintln!(
            "::error title=ecs-deploy::{}",
            escape_workflow_command(&error.to_string())
        );
    }
}

/// Colour unless `NO_COLOR` is set (no-color.org; empty counts as unset).
fn wants_color(env: &dyn Fn(&str) -> Option<String>) -> bool {
    env("NO_COLOR").is_none()
}

fn is_github_actions(env: &dyn Fn(&str) -> Option<String>) -> bool {
    env("GITHUB_ACTIONS").as_deref() == Some("true")
}

/// GitHub's escaping for workflow-command data: `%`, CR and LF.
fn escape_workflow_command(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Stopped tasks grouped by what stopped them, so that a hundred tasks
/// failing the same way read as one line with a count.
#[derive(Debug, Default)]
pub struct StoppedTasks {
    groups: Vec<StopGroup>,
}

#[derive(Debug)]
struct StopGroup {
    why: String,
    count: usize,
    first_task: String,
}

impl StoppedTasks {
    /// Adds tasks; returns a line per group this batch touched: the whole
    /// explanation for a new group, a short count for one already shown.
    pub fn add(&mut self, tasks: &[Value]) -> Vec<String> {
        let mut touched: Vec<(usize, usize, bool)> = Vec::new(); // (group, added, is new)
        for task in tasks {
            let why = why_stopped(task);
            let group = match self.groups.iter().position(|g| g.why == why) {
                Some(i) => {
                    self.groups[i].count += 1;
                    i
                }
                None => {
                    self.groups.push(StopGroup {
                        why,
                        count: 1,
                        first_task: task_id(task).to_string(),
                    });
                    self.groups.len() - 1
                }
            };
            match touched.iter_mut().find(|(g, _, _)| *g == group) {
                Some((_, added, _)) => *added += 1,
                None => touched.push((group, 1, self.groups[group].count == 1)),
            }
        }
        touched
            .into_iter()
            .map(|(group, added, is_new)| {
                let group = &self.groups[group];
                if is_new {
                    group.describe()
                } else {
                    let tasks = if added == 1 { "task" } else { "tasks" };
                    format!(
                        "{added} more {tasks} stopped like task {} ({} so far)",
                        group.first_task, group.count
                    )
                }
            })
            .collect()
    }

    /// Every group, for the explanation of a failed deployment.
    pub fn summary(&self) -> Vec<String> {
        self.groups.iter().map(StopGroup::describe).collect()
    }
}

impl StopGroup {
    fn describe(&self) -> String {
        let who = if self.count == 1 {
            format!("task {}", self.first_task)
        } else {
            format!("{} tasks (e.g. {})", self.count, self.first_task)
        };
        format!("{who} stopped: {}", self.why)
    }
}

/// The task id: the last part of its ARN.
fn task_id(task: &Value) -> &str {
    let arn = task["taskArn"].as_str().unwrap_or("?");
    arn.rsplit('/').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn workflow_commands_are_escaped() {
        assert_eq!(
            escape_workflow_command("50% done\nnext\r"),
            "50%25 done%0Anext%0D"
        );
    }

    #[test]
    fn no_color_turns_colour_off() {
        assert!(wants_color(&|_| None));
        assert!(!wants_color(&|_| Some("1".into())));
    }

    fn task(id: &str, reason: &str, exit: i64) -> Value {
        json!({
            "taskArn": format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{id}"),
            "stoppedReason": reason,
            "stopCode": "EssentialContainerExited",
            "containers": [
                {"name": "app", "exitCode": exit, "reason": "OutOfMemoryError: Container killed due to memory usage"},
                {"name": "sidecar"}
            ]
        })
    }

    #[test]
    fn groups_tasks_that_stopped_the_same_way() {
        let mut stopped = StoppedTasks::default();
        let first = stopped.add(&[task("a1", "Essential container in task exited", 1)]);
        assert_eq!(first.len(), 1);
        assert!(first[0].starts_with("task a1 stopped: Essential"));
        let batch: Vec<Value> = (0..150)
            .map(|i| task(&format!("b{i}"), "Essential container in task exited", 1))
            .chain([task("c1", "Task failed ELB health checks", 143)])
            .collect();
        let lines = stopped.add(&batch);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], "150 more tasks stopped like task a1 (151 so far)");
        assert!(lines[1].starts_with("task c1 stopped: Task failed ELB health checks"));
        let summary = stopped.summary();
        assert!(
            summary[0].starts_with("151 tasks (e.g. a1) stopped: Essential"),
            "{}",
            summary[0]
        );
        assert_eq!(summary.len(), 2);
    }
}
