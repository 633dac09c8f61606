//! The rules for a one-off task (`--run-task --wait-for-success`): it
//! succeeded when it stopped and every essential container exited 0. Pure.

use serde_json::Value;

use crate::output::why_stopped;

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
}
