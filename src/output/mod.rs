//! What the user sees: progress lines (flushed line by line, so CI logs
//! show them live), colour where a person is watching, GitHub Actions
//! groups and annotations; the result as data ([`report`]).

/// The result of a run as data: `--output json`, `$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`.
pub mod report;
/// Untrusted text made safe to print; best-effort writes.
pub mod safe;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::IsTerminal;
use std::time::Instant;

use self::safe::Stream;
use crate::error::Error;
use crate::request::OutputFormat;

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

tokio::task_local! {
    /// The lines [`Reporter::hold`] holds back for the work it runs.
    static HELD: RefCell<Vec<String>>;
}

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
    /// A group is open in the GitHub Actions log.
    in_group: Cell<bool>,
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
            in_group: Cell::new(false),
        }
    }

    fn stream(&self) -> Stream {
        if self.to_stderr {
            Stream::Stderr
        } else {
            Stream::Stdout
        }
    }

    fn line(&self, text: &str) {
        self.write(safe::guard(text));
    }

    /// Writes text already guarded, unless the work printing it is held.
    fn write(&self, text: String) {
        let mut text = Some(text);
        let _unheld = HELD.try_with(|held| held.borrow_mut().extend(text.take()));
        if let Some(text) = text {
            safe::write_raw(self.stream(), &text);
        }
    }

    /// Runs `work`, holding back every line it prints: its result, and the
    /// lines for [`Reporter::release`]. Work done in parallel (the services
    /// of a run) so prints in a set order, not in the order answers come.
    pub async fn hold<T>(&self, work: impl Future<Output = T>) -> (T, Vec<String>) {
        HELD.scope(RefCell::new(Vec::new()), async {
            let value = work.await;
            (value, HELD.with(|held| held.take()))
        })
        .await
    }

    /// Prints lines [`Reporter::hold`] held back.
    pub fn release(&self, lines: Vec<String>) {
        for line in lines {
            self.write(line);
        }
    }

    /// A plain line.
    pub fn say(&self, line: impl AsRef<str>) {
        self.line(line.as_ref());
    }

    /// A line announcing success, green where colour is wanted.
    pub fn success(&self, line: impl AsRef<str>) {
        if self.color {
            let text = safe::guard(line.as_ref());
            self.write(format!("{GREEN}{text}{RESET}"));
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
            safe::write_raw(
                self.stream(),
                &format!("::group::{}", escape_workflow_command(title)),
            );
            self.in_group.set(true);
        }
    }

    /// Ends the group [`Reporter::group`] started, if one is open (an
    /// interrupt ends it too, so that the error after it is not folded away).
    pub fn end_group(&self) {
        if self.in_group.replace(false) {
            safe::write_raw(self.stream(), "::endgroup::");
        }
    }
}

/// Prints the error that ends a run: `ERROR: …` on stderr (red where colour
/// is wanted) and, in GitHub Actions, an `::error::` annotation too.
pub fn print_error(error: &Error, env: &dyn Fn(&str) -> Option<String>) {
    let text = safe::guard(&format!("ERROR: {error}"));
    if std::io::stderr().is_terminal() && wants_color(env) {
        let rest = text.strip_prefix("ERROR:").unwrap_or(&text);
        safe::write_raw(Stream::Stderr, &format!("{RED}ERROR:{RESET}{rest}"));
    } else {
        safe::write_raw(Stream::Stderr, &text);
    }
    if error.is_usage() {
        safe::write_line(Stream::Stderr, "Run 'ecs-deploy --help' for usage.");
    }
    if is_github_actions(env) {
        safe::write_raw(
            Stream::Stderr,
            &format!(
                "::error title=ecs-deploy::{}",
                escape_workflow_command(&error.to_string())
            ),
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

/// GitHub's escaping for workflow-command data: `%`, CR and LF (after the
/// other control characters are gone).
fn escape_workflow_command(text: &str) -> String {
    safe::guard(text)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_work_gives_its_lines_back_in_order() {
        let reporter = Reporter::new(Instant::now(), OutputFormat::Text, &|_| None);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let work = |name: &'static str| {
            let reporter = &reporter;
            async move {
                reporter.say(format!("{name} sent"));
                tokio::task::yield_now().await;
                reporter.say(format!("{name} answered \x1b[31m"));
                name
            }
        };
        let (first, second) = runtime.block_on(async {
            tokio::join!(reporter.hold(work("web")), reporter.hold(work("worker")))
        });
        assert_eq!(
            first,
            ("web", vec!["web sent".into(), "web answered [31m".into()])
        );
        assert_eq!(second.1, ["worker sent", "worker answered [31m"]);
    }

    #[test]
    fn workflow_commands_are_escaped() {
        assert_eq!(
            escape_workflow_command("50% done\nnext\r\x1b[31m"),
            "50%25 done%0Anext[31m"
        );
    }

    #[test]
    fn no_color_turns_colour_off() {
        assert!(wants_color(&|_| None));
        assert!(!wants_color(&|_| Some("1".into())));
    }
}
