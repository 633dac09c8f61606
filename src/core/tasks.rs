//! What stopped tasks say: why one stopped, many that stopped the same way
//! as one line, and whether a one-off task (`--run-task --wait-for-success`)
//! succeeded — it did when it stopped and every essential container exited
//! 0. Pure.

use serde_json::Value;

use super::logs::ContainerLog;

/// What a `DescribeTasks` snapshot says about a one-off task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskVerdict {
    /// Not stopped yet; the task's `lastStatus`.
    Running(String),
    Succeeded,
    /// Stopped, and why that is a failure.
    Failed(String),
}

/// The names of the essential containers of a task definition (ECS treats
/// a container without `essential` as essential).
pub fn essential_containers(task_definition: &Value) -> Vec<String> {
    task_definition["containerDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["essential"].as_bool().unwrap_or(true))
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

/// Judges a task against the names of its essential containers.
pub fn judge(task: &Value, essential: &[String]) -> TaskVerdict {
    let status = task["lastStatus"].as_str().unwrap_or("UNKNOWN");
    if status != "STOPPED" {
        return TaskVerdict::Running(status.to_string());
    }
    let containers = task["containers"].as_array().cloned().unwrap_or_default();
    let failed: Vec<String> = essential
        .iter()
        .filter_map(|name| {
            let container = containers.iter().find(|c| c["name"] == name.as_str());
            match container.and_then(|c| c["exitCode"].as_i64()) {
                Some(0) => None,
                Some(code) => Some(format!("{name} exited with {code}")),
                None => Some(format!("{name} has no exit code (it never ran)")),
            }
        })
        .collect();
    if failed.is_empty() {
        TaskVerdict::Succeeded
    } else {
        TaskVerdict::Failed(format!("{}. {}", failed.join(", "), why_stopped(task)))
    }
}

/// Why a task stopped: its `stoppedReason` and, for each container that
/// exited or has a reason, its exit code and reason.
pub fn why_stopped(task: &Value) -> String {
    let mut why = task["stoppedReason"]
        .as_str()
        .unwrap_or("no reason given")
        .to_string();
    if let Some(code) = task["stopCode"].as_str() {
        why.push_str(&format!(" [{code}]"));
    }
    for container in task["containers"].as_array().into_iter().flatten() {
        let exit = container["exitCode"].as_i64();
        let reason = container["reason"].as_str();
        if exit.is_none() && reason.is_none() {
            continue;
        }
        let name = container["name"].as_str().unwrap_or("?");
        why.push_str(&format!("\n  {name}:"));
        if let Some(code) = exit {
            why.push_str(&format!(" exit code {code}"));
        }
        if let Some(reason) = reason {
            if exit.is_some() {
                why.push(',');
            }
            why.push_str(&format!(" {reason}"));
        }
    }
    why
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
    /// The first task, whose containers' logs say why it stopped.
    first: Value,
    /// Those logs, once looked at (`None` before).
    logs: Option<Vec<ContainerLog>>,
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
                        first_task: task_id(task["taskArn"].as_str().unwrap_or("?")).to_string(),
                        first: task.clone(),
                        logs: None,
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

    /// Every group, for the explanation of a failed deployment (with the
    /// last line of each log read for it).
    pub fn summary(&self) -> Vec<String> {
        self.groups
            .iter()
            .map(|group| {
                let mut text = group.describe();
                for log in group.logs.iter().flatten() {
                    if let Some(last) = log.lines.last() {
                        text.push_str(&format!("\n  last log line of {}: {last}", log.container));
                    }
                }
                text
            })
            .collect()
    }

    /// The first task of each kind of failure whose logs have not been
    /// looked at yet: one look per kind, however many tasks fail that way.
    pub fn awaiting_logs(&self) -> Vec<Value> {
        self.groups
            .iter()
            .filter(|g| g.logs.is_none())
            .map(|g| g.first.clone())
            .collect()
    }

    /// What the logs of `task` (the first of its kind) said; none read is
    /// still looked at.
    pub fn logs_read(&mut self, task: &str, logs: Vec<ContainerLog>) {
        if let Some(group) = self.groups.iter_mut().find(|g| g.first_task == task) {
            group.logs = Some(logs);
        }
    }

    /// Every log read, kind by kind, for the report.
    pub fn logs(&self) -> Vec<ContainerLog> {
        self.groups
            .iter()
            .flat_map(|g| g.logs.iter().flatten().cloned())
            .collect()
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
pub fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(status: &str, app_exit: Option<i64>, sidecar_exit: i64) -> Value {
        let mut app = json!({"name": "app", "reason": "boom"});
        if let Some(code) = app_exit {
            app["exitCode"] = json!(code);
        }
        json!({
            "lastStatus": status,
            "stoppedReason": "Essential container in task exited",
            "containers": [app, {"name": "sidecar", "exitCode": sidecar_exit}]
        })
    }

    fn essential() -> Vec<String> {
        essential_containers(&json!({"containerDefinitions": [
            {"name": "app"}, {"name": "sidecar", "essential": false}
        ]}))
    }

    fn stopped_task() -> Value {
        json!({
            "stoppedReason": "Essential container in task exited",
            "stopCode": "EssentialContainerExited",
            "containers": [
                {"name": "app", "exitCode": 137, "reason": "OutOfMemoryError: Container killed due to memory usage"},
                {"name": "sidecar"}
            ]
        })
    }

    #[test]
    fn explains_a_stopped_task() {
        assert_eq!(
            why_stopped(&stopped_task()),
            "Essential container in task exited [EssentialContainerExited]\n  app: exit code 137, OutOfMemoryError: Container killed due to memory usage"
        );
        assert_eq!(why_stopped(&json!({})), "no reason given");
    }

    #[test]
    fn essential_defaults_to_true() {
        assert_eq!(essential(), ["app"]);
    }

    #[test]
    fn succeeds_only_when_every_essential_container_exited_zero() {
        assert_eq!(
            judge(&task("RUNNING", None, 0), &essential()),
            TaskVerdict::Running("RUNNING".into())
        );
        // A non-essential container may fail.
        assert_eq!(
            judge(&task("STOPPED", Some(0), 3), &essential()),
            TaskVerdict::Succeeded
        );
        let TaskVerdict::Failed(why) = judge(&task("STOPPED", Some(2), 0), &essential()) else {
            panic!()
        };
        assert!(
            why.starts_with("app exited with 2. Essential container in task exited"),
            "{why}"
        );
        assert!(why.contains("app: exit code 2, boom"), "{why}");
        let TaskVerdict::Failed(why) = judge(&task("STOPPED", None, 0), &essential()) else {
            panic!()
        };
        assert!(why.contains("never ran"), "{why}");
    }

    fn stopped_with(id: &str, reason: &str, exit: i64) -> Value {
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
        let first = stopped.add(&[stopped_with("a1", "Essential container in task exited", 1)]);
        assert_eq!(first.len(), 1);
        assert!(first[0].starts_with("task a1 stopped: Essential"));
        let batch: Vec<Value> = (0..150)
            .map(|i| stopped_with(&format!("b{i}"), "Essential container in task exited", 1))
            .chain([stopped_with("c1", "Task failed ELB health checks", 143)])
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

    #[test]
    fn each_kind_of_failure_has_its_logs_looked_at_once() {
        let mut stopped = StoppedTasks::default();
        stopped.add(&[
            stopped_with("a1", "Essential container in task exited", 1),
            stopped_with("a2", "Essential container in task exited", 1),
        ]);
        let awaiting = stopped.awaiting_logs();
        assert_eq!(awaiting.len(), 1);
        assert_eq!(task_id(awaiting[0]["taskArn"].as_str().unwrap()), "a1");
        let log = ContainerLog {
            container: "app".into(),
            task: "a1".into(),
            lines: vec!["starting".into(), "FATAL: DATABASE_URL is not set".into()],
        };
        stopped.logs_read("a1", vec![log.clone()]);
        assert!(stopped.awaiting_logs().is_empty());
        stopped.add(&[stopped_with("a3", "Essential container in task exited", 1)]);
        assert!(stopped.awaiting_logs().is_empty(), "the same kind again");
        assert!(
            stopped.summary()[0]
                .ends_with("\n  last log line of app: FATAL: DATABASE_URL is not set"),
            "{}",
            stopped.summary()[0]
        );
        assert_eq!(stopped.logs(), [log]);
    }
}
