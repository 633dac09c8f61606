//! Judging a deployment from snapshots: one judge per deployment model, one
//! vocabulary of verdicts and failures. Pure: no network, no clock; the
//! caller passes snapshots in and owns the deadline.

/// What has been reported so far, so that each poll prints only what changed.
pub mod progress;
/// The rolling judge (design §6).
pub mod rolling;

use std::fmt;

use super::taskdef::short_revision;

/// What a snapshot says about the rollout.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pending,
    Done,
    Failed(Failure),
}

/// Why a rollout did not finish.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// ECS marked the deployment FAILED.
    RolloutFailed { reason: Option<String> },
    /// The deployment failed and the service's PRIMARY deployment runs
    /// another revision: the deployment circuit breaker rolled back.
    EcsRolledBack { to: String, reason: Option<String> },
    /// A deployment of another revision took over while ours was going
    /// (someone else deployed).
    Superseded { by: String, task_definition: String },
    /// The deployment is gone from the service and nothing replaced it.
    DeploymentVanished { id: String },
    /// The service was deleted while we waited.
    ServiceInactive { status: String },
    /// The deadline passed first; `blind` when the last polls failed, so
    /// the state at the deadline is unknown.
    TimedOut { seconds: f64, blind: Option<Blind> },
}

/// Polls that failed until the deadline: the wait could not see the service.
#[derive(Debug, Clone, PartialEq)]
pub struct Blind {
    /// Polls in a row that got no usable answer.
    pub failed_polls: u32,
    /// Seconds from the last answer (or the update) to the deadline.
    pub seconds: f64,
    /// Why the last one failed.
    pub why: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::RolloutFailed { reason } => {
                write!(f, "ECS marked the deployment FAILED")?;
                if let Some(reason) = reason {
                    write!(f, ": {}", reason.trim_end_matches('.'))?;
                }
                Ok(())
            }
            Failure::EcsRolledBack { to, reason } => {
                write!(f, "ECS rolled the service back to {}", short_revision(to))?;
                if let Some(reason) = reason {
                    write!(f, " ({})", reason.trim_end_matches('.'))?;
                }
                Ok(())
            }
            Failure::Superseded {
                by,
                task_definition,
            } => write!(
                f,
                "another deployment ({by} of {}) took over the service",
                short_revision(task_definition)
            ),
            Failure::DeploymentVanished { id } => write!(
                f,
                "deployment {id} disappeared from the service without completing"
            ),
            Failure::ServiceInactive { status } => {
                write!(
                    f,
                    "the service became {status} (deleted) during the deployment"
                )
            }
            Failure::TimedOut {
                seconds,
                blind: None,
            } => {
                write!(f, "the deployment did not finish within {} s", seconds)
            }
            Failure::TimedOut {
                seconds,
                blind: Some(blind),
            } => {
                let polls = if blind.failed_polls == 1 {
                    "the last poll".to_string()
                } else {
                    format!("the last {} polls", blind.failed_polls)
                };
                write!(
                    f,
                    "the wait went blind: {polls} failed, so the service was not seen for the last {:.0} s of the {} s deadline and its state is unknown (last error: {})",
                    blind.seconds,
                    seconds,
                    blind.why.trim_end_matches('.')
                )
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Snapshots for the judges' tests.
    use serde_json::json;

    use super::rolling::Watch;
    use crate::core::service::Service;

    pub const OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7";
    pub const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:8";

    pub const OTHER: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:9";

    pub fn watch() -> Watch {
        Watch {
            deployment_id: "ecs-svc/2".into(),
            task_definition: NEW.into(),
            previous_task_definition: OLD.into(),
        }
    }

    pub fn service(desired: u32, deployments: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "status": "ACTIVE",
            "desiredCount": desired,
            "deployments": deployments,
            "events": [],
        }))
        .unwrap()
    }

    pub fn deployment(
        id: &str,
        status: &str,
        td: &str,
        running: u32,
        desired: u32,
    ) -> serde_json::Value {
        json!({"id": id, "status": status, "taskDefinition": td,
               "runningCount": running, "desiredCount": desired, "pendingCount": desired.saturating_sub(running)})
    }

    pub fn with_state(mut d: serde_json::Value, state: &str) -> serde_json::Value {
        d["rolloutState"] = json!(state);
        d
    }
}
