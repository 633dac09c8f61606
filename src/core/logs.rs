//! Why a task failed, in the application's own words (design §12): which
//! containers of a stopped task failed it, where their logs go (the
//! revision's `logConfiguration`), and the log groups a revision needs
//! before any of its tasks can start. Pure: `deploy` reads the lines.

use serde::Serialize;
use serde_json::Value;

/// A log line is cut to this many characters: enough for a stack trace's
/// line or a JSON log record, not for a megabyte of one.
pub const MAX_LINE_CHARS: usize = 500;

/// Where a container's log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    /// The `awslogs` driver: a CloudWatch Logs group (in `region` where the
    /// options say, else the task's), one stream a task:
    /// `<prefix>/<container>/<task id>`.
    Awslogs {
        group: String,
        region: Option<String>,
        prefix: String,
    },
    /// `awslogs` without `awslogs-stream-prefix`: streams are named after
    /// the Docker container id, which ECS does not report.
    AwslogsWithoutPrefix { group: String },
    /// Another driver (`awsfirelens`, `splunk`, …): not for us to read.
    Elsewhere { driver: String },
    /// No `logConfiguration`: the log goes nowhere ECS keeps.
    Nowhere,
}

/// A container's log lines, read for one failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerLog {
    pub container: String,
    /// The id of the task whose log it is.
    pub task: String,
    /// Its last lines, oldest first, each cut to [`MAX_LINE_CHARS`].
    pub lines: Vec<String>,
}

impl LogSource {
    /// Where `container` of `task_definition` logs.
    pub fn of(task_definition: &Value, container: &str) -> LogSource {
        let definition = task_definition["containerDefinitions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == container);
        let Some(config) = definition.map(|c| &c["logConfiguration"]) else {
            return LogSource::Nowhere;
        };
        let option = |key: &str| {
            config["options"][key]
                .as_str()
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        match config["logDriver"].as_str() {
            None => LogSource::Nowhere,
            Some("awslogs") => match (option("awslogs-group"), option("awslogs-stream-prefix")) {
                (Some(group), Some(prefix)) => LogSource::Awslogs {
                    group,
                    region: option("awslogs-region"),
                    prefix,
                },
                (Some(group), None) => LogSource::AwslogsWithoutPrefix { group },
                (None, _) => LogSource::Elsewhere {
                    driver: "awslogs without an awslogs-group".into(),
                },
            },
            Some(driver) => LogSource::Elsewhere {
                driver: driver.to_string(),
            },
        }
    }

    /// Why the log of `container` is not read here, for the one line that
    /// says where it goes instead; `None` where it is read.
    pub fn not_read(&self, container: &str) -> Option<String> {
        match self {
            LogSource::Awslogs { .. } => None,
            LogSource::AwslogsWithoutPrefix { group } => Some(format!(
                "the log of {container} is in CloudWatch Logs group {group}, in a stream named after the Docker container (no awslogs-stream-prefix): not read here"
            )),
            LogSource::Elsewhere { driver } => Some(format!(
                "the log of {container} goes to the {driver} log driver: not read here"
            )),
            LogSource::Nowhere => Some(format!(
                "{container} has no logConfiguration, so its log was not kept"
            )),
        }
    }
}

impl ContainerLog {
    /// The lines under a stopped task's reason: which log, then each line.
    pub fn describe(&self) -> String {
        let whose = format!("{} (task {})", self.container, self.task);
        if self.lines.is_empty() {
            return format!("the log of {whose} is empty");
        }
        let mut text = match self.lines.len() {
            1 => format!("the last log line of {whose}:"),
            n => format!("the last {n} log lines of {whose}:"),
        };
        for line in &self.lines {
            text.push_str("\n  | ");
            text.push_str(line);
        }
        text
    }
}

/// The stream `awslogs` writes a task's container to.
pub fn stream(prefix: &str, container: &str, task_id: &str) -> String {
    format!("{prefix}/{container}/{task_id}")
}

/// The log groups a revision needs before any of its tasks can start:
/// each `awslogs` group (and its region, where set) that ECS will not
/// create (`awslogs-create-group` is not `true`), once each.
pub fn required_log_groups(task_definition: &Value) -> Vec<(String, Option<String>)> {
    let mut groups: Vec<(String, Option<String>)> = Vec::new();
    for container in task_definition["containerDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let config = &container["logConfiguration"];
        let option = |key: &str| config["options"][key].as_str().filter(|v| !v.is_empty());
        if config["logDriver"] != "awslogs" || option("awslogs-create-group") == Some("true") {
            continue;
        }
        if let Some(group) = option("awslogs-group") {
            let needed = (
                group.to_string(),
                option("awslogs-region").map(str::to_string),
            );
            if !groups.contains(&needed) {
                groups.push(needed);
            }
        }
    }
    groups
}

/// The containers that failed a stopped task: essential ones that exited
/// non-zero, failed their health check, or were killed for memory. (A
/// container that exited 0 or never ran did not fail it.)
pub fn failed_containers(task: &Value, essential: &[String]) -> Vec<String> {
    task["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            c["name"]
                .as_str()
                .is_some_and(|name| essential.iter().any(|e| e == name))
        })
        .filter(|c| {
            let exited_badly = c["exitCode"].as_i64().is_some_and(|code| code != 0);
            let unhealthy = c["healthStatus"] == "UNHEALTHY";
            let out_of_memory = c["reason"]
                .as_str()
                .is_some_and(|r| r.contains("OutOfMemory"));
            exited_badly || unhealthy || out_of_memory
        })
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

/// A log line as it may be shown: at most [`MAX_LINE_CHARS`] characters,
/// with an ellipsis where it was cut.
pub fn cut(line: &str) -> String {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line.to_string(),
    }
}

/// What of a revision the diagnosis reads — each container's name,
/// whether it is essential, and where it logs — so that a run can keep it
/// for every revision it registers (hundreds, in a large run) at a fraction
/// of the whole task definition's size.
pub fn log_view(task_definition: &Value) -> Value {
    let containers: Vec<Value> = task_definition["containerDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let mut view = serde_json::Map::new();
            for key in ["name", "essential", "logConfiguration"] {
                if let Some(value) = c.get(key) {
                    view.insert(key.to_string(), value.clone());
                }
            }
            Value::Object(view)
        })
        .collect();
    serde_json::json!({ "containerDefinitions": containers })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn revision() -> Value {
        json!({"containerDefinitions": [
            {"name": "app", "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/web", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "web"}}},
            {"name": "worker", "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/web", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "worker"}}},
            {"name": "bare", "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/bare", "awslogs-create-group": "true"}}},
            {"name": "router", "logConfiguration": {"logDriver": "awsfirelens"}},
            {"name": "sidecar"}
        ]})
    }

    #[test]
    fn where_each_container_logs() {
        let td = revision();
        assert_eq!(
            LogSource::of(&td, "app"),
            LogSource::Awslogs {
                group: "/ecs/web".into(),
                region: Some("eu-west-1".into()),
                prefix: "web".into()
            }
        );
        assert_eq!(
            LogSource::of(&td, "bare"),
            LogSource::AwslogsWithoutPrefix {
                group: "/ecs/bare".into()
            }
        );
        assert_eq!(
            LogSource::of(&td, "router"),
            LogSource::Elsewhere {
                driver: "awsfirelens".into()
            }
        );
        assert_eq!(LogSource::of(&td, "sidecar"), LogSource::Nowhere);
        assert_eq!(LogSource::of(&td, "missing"), LogSource::Nowhere);
        assert_eq!(LogSource::of(&td, "app").not_read("app"), None);
        assert_eq!(
            LogSource::of(&td, "router").not_read("router").unwrap(),
            "the log of router goes to the awsfirelens log driver: not read here"
        );
        assert_eq!(stream("web", "app", "abc123"), "web/app/abc123");
    }

    #[test]
    fn the_log_view_of_a_revision_tells_what_the_whole_does() {
        let mut td = revision();
        td["family"] = json!("web");
        td["containerDefinitions"][0]["essential"] = json!(false);
        td["containerDefinitions"][0]["environment"] = json!([{"name": "A", "value": "1"}]);
        let view = log_view(&td);
        for container in ["app", "worker", "bare", "router", "sidecar", "missing"] {
            assert_eq!(
                LogSource::of(&view, container),
                LogSource::of(&td, container)
            );
        }
        assert_eq!(
            crate::core::tasks::essential_containers(&view),
            crate::core::tasks::essential_containers(&td)
        );
        assert_eq!(view["containerDefinitions"][0].get("environment"), None);
        assert_eq!(view.get("family"), None);
    }

    #[test]
    fn groups_ecs_will_not_create_are_needed_once_each() {
        assert_eq!(
            required_log_groups(&revision()),
            [("/ecs/web".to_string(), Some("eu-west-1".to_string()))]
        );
        assert!(required_log_groups(&json!({})).is_empty());
    }

    #[test]
    fn the_containers_that_failed_a_task() {
        let task = json!({"containers": [
            {"name": "app", "exitCode": 1},
            {"name": "sidecar", "exitCode": 0},
            {"name": "probe", "healthStatus": "UNHEALTHY"},
            {"name": "hog", "reason": "OutOfMemoryError: Container killed due to memory usage"},
            {"name": "helper", "exitCode": 2},
            {"name": "never"}
        ]});
        let essential: Vec<String> = ["app", "sidecar", "probe", "hog", "never"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            failed_containers(&task, &essential),
            ["app", "probe", "hog"]
        );
    }

    #[test]
    fn long_lines_are_cut() {
        assert_eq!(cut("short"), "short");
        let long = "é".repeat(MAX_LINE_CHARS + 10);
        let cut = cut(&long);
        assert_eq!(cut.chars().count(), MAX_LINE_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn a_log_reads_as_its_lines_under_whose_it_is() {
        let log = |lines: &[&str]| ContainerLog {
            container: "app".into(),
            task: "abc".into(),
            lines: lines.iter().map(|l| l.to_string()).collect(),
        };
        assert_eq!(
            log(&["starting", "FATAL: DATABASE_URL is not set"]).describe(),
            "the last 2 log lines of app (task abc):\n  | starting\n  | FATAL: DATABASE_URL is not set"
        );
        assert_eq!(log(&[]).describe(), "the log of app (task abc) is empty");
    }
}
