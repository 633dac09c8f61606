//! The CodeDeploy judge (design §10): what `GetDeployment` and
//! `GetDeploymentTarget` say of a blue/green deployment of a CODE_DEPLOY
//! service, and what of it is news worth a line.

use std::collections::HashMap;

use serde::Deserialize;

use super::{CodeDeployFailure, Failure, Verdict};

/// A deployment as `GetDeployment` describes it (`deploymentInfo`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub deployment_id: String,
    /// `Created`, `Queued`, `InProgress`, `Baking`, `Ready`, `Succeeded`,
    /// `Failed` or `Stopped`.
    pub status: String,
    #[serde(default)]
    pub error_information: Option<ErrorInformation>,
    #[serde(default)]
    pub rollback_info: Option<RollbackInfo>,
}

impl Deployment {
    /// The deployment CodeDeploy rolls this one back with, once it says.
    pub fn rollback_id(&self) -> Option<&str> {
        self.rollback_info
            .as_ref()
            .and_then(|r| r.rollback_deployment_id.as_deref())
    }
}

/// `errorInformation`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorInformation {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// `rollbackInfo`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackInfo {
    #[serde(default)]
    pub rollback_deployment_id: Option<String>,
    #[serde(default)]
    pub rollback_message: Option<String>,
}

/// The ECS target of a deployment (`deploymentTarget.ecsTarget`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    #[serde(default)]
    pub lifecycle_events: Vec<LifecycleEvent>,
    #[serde(default)]
    pub task_sets_info: Vec<TaskSetInfo>,
}

/// One lifecycle event of the ECS target.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleEvent {
    #[serde(default)]
    pub lifecycle_event_name: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub diagnostics: Option<Diagnostics>,
}

/// Why a lifecycle event failed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostics {
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub script_name: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub log_tail: Option<String>,
}

/// One of the target's task sets (ORIGINAL/REPLACEMENT).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSetInfo {
    /// The task set id (the model spells it `identifer`).
    #[serde(default, rename = "identifer")]
    pub identifier: Option<String>,
    #[serde(default)]
    pub running_count: u64,
    #[serde(default)]
    pub desired_count: u64,
    #[serde(default)]
    pub traffic_weight: Option<f64>,
    #[serde(default)]
    pub task_set_label: Option<String>,
}

/// The last line of a hook's log that says something: the only line of it
/// ever shown, since the lines before it may hold what the hook printed of
/// its environment (a password).
pub fn last_log_line(log: &str) -> &str {
    log.lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default()
}

impl Diagnostics {
    /// One line: message, code, the hook that ran, and the log's last line.
    pub fn describe(&self) -> String {
        let mut text = self.message.clone().unwrap_or_else(|| "no message".into());
        let details: Vec<String> = [
            self.error_code.as_ref().map(|c| format!("code {c}")),
            self.script_name.as_ref().map(|s| format!("hook {s}")),
            self.log_tail
                .as_deref()
                .map(last_log_line)
                .filter(|l| !l.is_empty())
                .map(|l| format!("log: {}", l.trim())),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !details.is_empty() {
            text.push_str(&format!(" ({})", details.join("; ")));
        }
        text
    }
}

impl Target {
    /// The lifecycle event that failed, with what it says.
    pub fn failed_event(&self) -> Option<(String, Option<String>)> {
        self.lifecycle_events
            .iter()
            .find(|e| e.status.as_deref() == Some("Failed"))
            .map(|e| {
                (
                    e.lifecycle_event_name.clone(),
                    e.diagnostics.as_ref().map(Diagnostics::describe),
                )
            })
    }

    /// The id of the task set the deployment brings in (its tasks are the
    /// new revision's).
    pub fn replacement(&self) -> Option<&str> {
        self.task_sets_info
            .iter()
            .find(|t| t.task_set_label.as_deref() == Some("Green"))
            .and_then(|t| t.identifier.as_deref())
    }
}

/// Judges a deployment: done on `Succeeded` — or, with `until_ready`, on
/// `Ready` (traffic can be tested; a group waiting for a manual reroute
/// stays there) — failed on `Failed` or `Stopped`, with everything
/// CodeDeploy says why.
pub fn judge(deployment: &Deployment, target: Option<&Target>, until_ready: bool) -> Verdict {
    match deployment.status.as_str() {
        "Succeeded" => Verdict::Done,
        "Ready" if until_ready => Verdict::Done,
        "Failed" | "Stopped" => Verdict::Failed(failure(deployment, target)),
        _ => Verdict::Pending,
    }
}

/// Judges the rollback deployment CodeDeploy started: done on `Succeeded`.
pub fn judge_rollback(deployment: &Deployment) -> Verdict {
    match deployment.status.as_str() {
        "Succeeded" => Verdict::Done,
        "Failed" | "Stopped" => Verdict::Failed(failure(deployment, None)),
        _ => Verdict::Pending,
    }
}

fn failure(deployment: &Deployment, target: Option<&Target>) -> Failure {
    let error = deployment.error_information.clone().unwrap_or_default();
    let rollback = deployment.rollback_info.as_ref();
    Failure::CodeDeploy(Box::new(CodeDeployFailure {
        deployment_id: deployment.deployment_id.clone(),
        status: deployment.status.clone(),
        code: error.code,
        message: error.message,
        failed_event: target.and_then(Target::failed_event),
        rolled_back: rollback.and_then(|r| r.rollback_deployment_id.clone()),
        rollback_message: rollback.and_then(|r| r.rollback_message.clone()),
    }))
}

/// What changed in a CodeDeploy deployment that a person wants a line about.
#[derive(Debug, Clone, PartialEq)]
pub enum News {
    /// A new deployment status.
    Status { from: Option<String>, to: String },
    /// A lifecycle event's new status (and, failed, why).
    Event {
        name: String,
        status: String,
        diagnostics: Option<String>,
    },
    /// The replacement task set's tasks and traffic.
    Replacement {
        running: u64,
        desired: u64,
        traffic: f64,
    },
}

/// Remembers what of a CodeDeploy deployment has been reported.
#[derive(Debug, Default)]
pub struct Reported {
    status: Option<String>,
    events: HashMap<String, String>,
    replacement: Option<(u64, u64, u64)>,
}

impl Reported {
    /// What is new since the last call.
    pub fn news(&mut self, deployment: &Deployment, target: Option<&Target>) -> Vec<News> {
        let mut news = Vec::new();
        if self.status.as_ref() != Some(&deployment.status) {
            news.push(News::Status {
                from: self.status.replace(deployment.status.clone()),
                to: deployment.status.clone(),
            });
        }
        let Some(target) = target else {
            return news;
        };
        for event in &target.lifecycle_events {
            let status = event.status.clone().unwrap_or_default();
            let changed = self.events.get(&event.lifecycle_event_name) != Some(&status);
            if changed && status != "Pending" && !status.is_empty() {
                self.events
                    .insert(event.lifecycle_event_name.clone(), status.clone());
                news.push(News::Event {
                    name: event.lifecycle_event_name.clone(),
                    diagnostics: (status == "Failed")
                        .then(|| event.diagnostics.as_ref().map(Diagnostics::describe))
                        .flatten(),
                    status,
                });
            }
        }
        if let Some(green) = target
            .task_sets_info
            .iter()
            .find(|t| t.task_set_label.as_deref() == Some("Green"))
        {
            let traffic = green.traffic_weight.unwrap_or(0.0);
            // Compared in tenths of a percent: weights are shown as such.
            let seen = (
                green.running_count,
                green.desired_count,
                (traffic * 10.0) as u64,
            );
            if self.replacement != Some(seen) {
                self.replacement = Some(seen);
                news.push(News::Replacement {
                    running: green.running_count,
                    desired: green.desired_count,
                    traffic,
                });
            }
        }
        news
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(value: serde_json::Value) -> Deployment {
        let mut base = json!({"deploymentId": "d-ABCDEF123", "status": "InProgress"});
        base.as_object_mut()
            .unwrap()
            .extend(value.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    fn target() -> Target {
        serde_json::from_value(json!({
            "lifecycleEvents": [
                {"lifecycleEventName": "BeforeInstall", "status": "Succeeded"},
                {"lifecycleEventName": "Install", "status": "Succeeded"},
                {"lifecycleEventName": "AfterAllowTestTraffic", "status": "Failed",
                 "diagnostics": {"errorCode": "ScriptFailed", "scriptName": "smoke-test", "message": "smoke test got HTTP 500", "logTail": "GET /health\n500 Internal Server Error\n"}},
                {"lifecycleEventName": "BeforeAllowTraffic", "status": "Pending"}
            ],
            "taskSetsInfo": [
                {"identifer": "ecs-svc/1", "taskSetLabel": "Blue", "runningCount": 2, "desiredCount": 2, "trafficWeight": 100.0},
                {"identifer": "ecs-svc/2", "taskSetLabel": "Green", "runningCount": 1, "desiredCount": 2, "trafficWeight": 0.0}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn succeeded_is_done_and_ready_only_when_waiting_until_ready() {
        let at = |status: &str, until_ready| {
            judge(&deployment(json!({"status": status})), None, until_ready)
        };
        assert_eq!(at("Succeeded", false), Verdict::Done);
        assert_eq!(at("Ready", false), Verdict::Pending);
        assert_eq!(at("Ready", true), Verdict::Done);
        for pending in ["Created", "Queued", "InProgress", "Baking"] {
            assert_eq!(at(pending, true), Verdict::Pending, "{pending}");
        }
    }

    #[test]
    fn a_failure_says_the_code_the_failed_event_and_the_rollback() {
        let d = deployment(json!({
            "status": "Failed",
            "errorInformation": {"code": "HOOK_EXECUTION_FAILURE", "message": "The AfterAllowTestTraffic hook failed"},
            "rollbackInfo": {"rollbackDeploymentId": "d-ROLLBACK1", "rollbackMessage": "Active, rolling back to the original task set"}
        }));
        let Verdict::Failed(failure) = judge(&d, Some(&target()), false) else {
            panic!()
        };
        assert!(failure.is_ecs_rollback());
        let text = failure.to_string();
        for part in [
            "CodeDeploy deployment d-ABCDEF123 Failed: HOOK_EXECUTION_FAILURE: The AfterAllowTestTraffic hook failed",
            "lifecycle event AfterAllowTestTraffic failed: smoke test got HTTP 500 (code ScriptFailed; hook smoke-test; log: 500 Internal Server Error)",
            "CodeDeploy rolled back (d-ROLLBACK1: Active, rolling back to the original task set)",
        ] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
        let stopped = judge(&deployment(json!({"status": "Stopped"})), None, false);
        assert!(matches!(stopped, Verdict::Failed(f) if !f.is_ecs_rollback()));
        assert_eq!(target().replacement(), Some("ecs-svc/2"));
    }

    #[test]
    fn news_is_only_what_changed() {
        let mut reported = Reported::default();
        let d = deployment(json!({}));
        let news = reported.news(&d, Some(&target()));
        assert_eq!(
            news[0],
            News::Status {
                from: None,
                to: "InProgress".into()
            }
        );
        assert!(news.contains(&News::Event {
            name: "AfterAllowTestTraffic".into(),
            status: "Failed".into(),
            diagnostics: Some("smoke test got HTTP 500 (code ScriptFailed; hook smoke-test; log: 500 Internal Server Error)".into()),
        }));
        assert!(!news
            .iter()
            .any(|n| matches!(n, News::Event { name, .. } if name == "BeforeAllowTraffic")));
        assert!(news.contains(&News::Replacement {
            running: 1,
            desired: 2,
            traffic: 0.0
        }));
        assert!(reported.news(&d, Some(&target())).is_empty());
        assert_eq!(
            judge_rollback(&deployment(json!({"status": "Succeeded"}))),
            Verdict::Done
        );
    }
}
