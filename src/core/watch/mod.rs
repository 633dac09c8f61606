//! Judging a deployment from snapshots: one judge per deployment model, one
//! vocabulary of verdicts and failures. Pure: no network, no clock; the
//! caller passes snapshots in and owns the deadline.

/// The CodeDeploy judge (design §10).
pub mod codedeploy;
/// What has been reported so far, so that each poll prints only what changed.
pub mod progress;
/// The rolling judge (design §6).
pub mod rolling;
/// The service-deployment judge (design §10).
pub mod service_deployment;

use std::fmt;

use self::rolling::{DoneRule, Watch};
use self::service_deployment::ServiceDeployment;
use super::model::Model;
use super::service::Service;
use super::taskdef::short_revision;

/// What a snapshot says about the rollout.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pending,
    Done,
    Failed(Failure),
}

/// How a watched deployment ended.
#[derive(Debug, Clone)]
pub enum Ended {
    Done,
    /// The failure and the stopped-task explanations gathered meanwhile.
    Failed(Failure, Vec<String>),
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
    /// The service deployment ECS runs was rolled back (`ROLLBACK_*`) or
    /// stopped (`STOPPED`, `STOP_REQUESTED`): its status and every reason
    /// ECS gives.
    ServiceDeployment {
        status: String,
        /// The revision ECS rolls back to, where known.
        to: Option<String>,
        reason: Option<String>,
        rollback_reason: Option<String>,
        triggered_alarms: Vec<String>,
        /// Failed tasks counted by the circuit breaker, of its threshold.
        circuit_breaker: Option<(u32, u32)>,
    },
    /// The CodeDeploy deployment failed or was stopped.
    CodeDeploy(Box<CodeDeployFailure>),
}

/// A CodeDeploy deployment that failed or was stopped: its status, its
/// error, the lifecycle event that failed and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeDeployFailure {
    pub deployment_id: String,
    pub status: String,
    pub code: Option<String>,
    pub message: Option<String>,
    /// The lifecycle event that failed, and its diagnostics.
    pub failed_event: Option<(String, Option<String>)>,
    /// The deployment CodeDeploy rolled back with, where it did.
    pub rolled_back: Option<String>,
    pub rollback_message: Option<String>,
}

impl Failure {
    /// Whether ECS rolled back by itself (so there is nothing for ecs-deploy
    /// to roll back).
    pub fn is_ecs_rollback(&self) -> bool {
        match self {
            Failure::EcsRolledBack { .. } => true,
            Failure::ServiceDeployment { status, .. } => {
                service_deployment::is_ecs_rollback(status)
            }
            Failure::CodeDeploy(failure) => failure.rolled_back.is_some(),
            _ => false,
        }
    }
}

/// Judges a deployment from what is known of it: the service
/// (`deployments[]`) and, where the service-deployment API answered, its
/// service deployment — the truth for blue/green, linear and canary, and
/// for a rolling deployment the signal that it finished. A failure either
/// view shows counts at once. `until` (a lifecycle stage) ends the wait
/// early; `rule` is the rolling one (`--skip-deployments-check`).
pub fn judge(
    service: &Service,
    watch: &Watch,
    deployment: Option<&ServiceDeployment>,
    model: Model,
    rule: DoneRule,
    until: Option<&str>,
) -> Verdict {
    let Some(deployment) = deployment else {
        return rolling::judge(service, watch, rule);
    };
    if let Some(took_over) = superseded(service, watch, deployment) {
        return match took_over {
            // A forced redeploy of our own revision carries the rollout on,
            // as the rolling rules say where the API is not used.
            Failure::Superseded {
                task_definition, ..
            } if model == Model::Rolling && task_definition == watch.task_definition => {
                rolling::judge(service, watch, rule)
            }
            took_over => Verdict::Failed(took_over),
        };
    }
    let mut by_api = service_deployment::judge(deployment, until);
    // ECS rolls back to what the deployment replaced: name it.
    if let Verdict::Failed(Failure::ServiceDeployment { to, .. }) = &mut by_api {
        if !watch.previous_task_definition.is_empty() {
            *to = Some(watch.previous_task_definition.clone());
        }
    }
    if model != Model::Rolling || matches!(by_api, Verdict::Failed(_)) {
        return by_api;
    }
    match rolling::judge(service, watch, rule) {
        failed @ Verdict::Failed(_) => failed,
        // --skip-deployments-check: the new tasks run, which is all it asks.
        Verdict::Done if rule == DoneRule::NewTasksRunning => Verdict::Done,
        _ => by_api,
    }
}

/// Another deployment took the service over: ECS stopped ours (not a
/// rollback of its own: that has a `ROLLBACK_*` status) and the PRIMARY
/// entry of `deployments[]` is another deployment. Whatever revision that
/// one runs — even the one ours replaced — someone else deployed it, so it
/// is theirs to keep: never rolled back.
fn superseded(service: &Service, watch: &Watch, deployment: &ServiceDeployment) -> Option<Failure> {
    if !service_deployment::is_stopped(&deployment.status) {
        return None;
    }
    let primary = service.primary()?;
    (primary.id != watch.deployment_id).then(|| Failure::Superseded {
        by: primary.id.clone(),
        task_definition: primary.task_definition.clone(),
    })
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
            Failure::ServiceDeployment {
                status,
                to,
                reason,
                rollback_reason,
                triggered_alarms,
                circuit_breaker,
            } => {
                let rolled_back = self.is_ecs_rollback();
                if rolled_back {
                    write!(f, "ECS rolled the deployment back")?;
                    if let Some(to) = to {
                        write!(f, " to {}", short_revision(to))?;
                    }
                    write!(f, " ({status})")?;
                } else if status == "ROLLBACK_FAILED" {
                    write!(f, "ECS tried to roll the deployment back and that failed")?;
                } else {
                    write!(f, "ECS stopped the deployment ({status})")?;
                }
                let mut why: Vec<String> = [rollback_reason, reason]
                    .into_iter()
                    .flatten()
                    .map(|r| r.trim_end_matches('.').to_string())
                    .collect();
                why.dedup();
                if !why.is_empty() {
                    write!(f, ": {}", why.join("; "))?;
                }
                if !triggered_alarms.is_empty() {
                    write!(f, "; alarms in ALARM: {}", triggered_alarms.join(", "))?;
                }
                if let Some((failures, threshold)) = circuit_breaker {
                    write!(
                        f,
                        "; circuit breaker: {failures} of {threshold} tasks failed"
                    )?;
                }
                Ok(())
            }
            Failure::CodeDeploy(failure) => {
                let CodeDeployFailure {
                    deployment_id,
                    status,
                    code,
                    message,
                    failed_event,
                    rolled_back,
                    rollback_message,
                } = failure.as_ref();
                write!(f, "CodeDeploy deployment {deployment_id} {status}")?;
                let error: Vec<&str> = [code, message]
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .collect();
                if !error.is_empty() {
                    write!(f, ": {}", error.join(": ").trim_end_matches('.'))?;
                }
                if let Some((event, diagnostics)) = failed_event {
                    write!(f, "; lifecycle event {event} failed")?;
                    if let Some(diagnostics) = diagnostics {
                        write!(f, ": {}", diagnostics.trim_end_matches('.'))?;
                    }
                }
                if let Some(id) = rolled_back {
                    write!(f, "; CodeDeploy rolled back ({id}")?;
                    if let Some(message) = rollback_message {
                        write!(f, ": {}", message.trim_end_matches('.'))?;
                    }
                    write!(f, ")")?;
                }
                Ok(())
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
                    "the wait went blind: {polls} failed and nothing was seen of the deployment for its last {:.0} s, so its state at the {} s deadline is unknown (last error: {})",
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::testing::*;
    use super::*;

    fn deployment(status: &str, stage: &str) -> ServiceDeployment {
        serde_json::from_value(json!({
            "serviceDeploymentArn": "arn:sd/2", "status": status, "lifecycleStage": stage
        }))
        .unwrap()
    }

    /// Both revisions run, the new one all its tasks: what a blue/green
    /// deployment looks like in deployments[] during its bake.
    fn baking() -> Service {
        service(
            2,
            json!([
                with_state(
                    super::testing::deployment("ecs-svc/2", "PRIMARY", NEW, 2, 2),
                    "COMPLETED"
                ),
                super::testing::deployment("ecs-svc/1", "ACTIVE", OLD, 2, 2),
            ]),
        )
    }

    #[test]
    fn a_blue_green_deployment_is_done_only_when_ecs_says_successful() {
        let s = baking();
        let during_bake = deployment("IN_PROGRESS", "BAKE_TIME");
        let judge_bg = |d: &ServiceDeployment, until| {
            judge(
                &s,
                &watch(),
                Some(d),
                Model::BlueGreen,
                DoneRule::Complete,
                until,
            )
        };
        assert_eq!(judge_bg(&during_bake, None), Verdict::Pending);
        assert_eq!(judge_bg(&during_bake, Some("BAKE_TIME")), Verdict::Done);
        assert_eq!(
            judge_bg(&deployment("SUCCESSFUL", "CLEAN_UP"), None),
            Verdict::Done
        );
        let rolled_back = judge_bg(&deployment("ROLLBACK_IN_PROGRESS", "BAKE_TIME"), None);
        let Verdict::Failed(failure) = rolled_back else {
            panic!("{rolled_back:?}")
        };
        assert!(failure.is_ecs_rollback());
        assert!(
            failure
                .to_string()
                .starts_with("ECS rolled the deployment back to web:7 (ROLLBACK_IN_PROGRESS)"),
            "{failure}"
        );
    }

    #[test]
    fn a_rolling_deployment_fails_on_either_view_and_is_done_on_the_api() {
        let done_by_deployments = service(
            2,
            json!([with_state(
                super::testing::deployment("ecs-svc/2", "PRIMARY", NEW, 2, 2),
                "COMPLETED"
            )]),
        );
        let judge_rolling = |s: &Service, d: &ServiceDeployment, rule| {
            judge(s, &watch(), Some(d), Model::Rolling, rule, None)
        };
        let in_progress = deployment("IN_PROGRESS", "SCALE_UP");
        assert_eq!(
            judge_rolling(&done_by_deployments, &in_progress, DoneRule::Complete),
            Verdict::Pending,
            "SUCCESSFUL is the signal"
        );
        assert_eq!(
            judge_rolling(
                &done_by_deployments,
                &deployment("SUCCESSFUL", "CLEAN_UP"),
                DoneRule::Complete
            ),
            Verdict::Done
        );
        // --skip-deployments-check needs only the new tasks running.
        assert_eq!(
            judge_rolling(&baking(), &in_progress, DoneRule::NewTasksRunning),
            Verdict::Done
        );
        let failed = service(
            2,
            json!([with_state(
                super::testing::deployment("ecs-svc/2", "PRIMARY", NEW, 0, 2),
                "FAILED"
            )]),
        );
        assert!(matches!(
            judge_rolling(&failed, &in_progress, DoneRule::Complete),
            Verdict::Failed(Failure::RolloutFailed { .. })
        ));
        // Without the API, the rolling rules alone.
        assert_eq!(
            judge(
                &done_by_deployments,
                &watch(),
                None,
                Model::Rolling,
                DoneRule::Complete,
                None
            ),
            Verdict::Done
        );
    }

    #[test]
    fn a_stopped_deployment_that_another_one_replaced_is_superseded_not_failed() {
        let stopped = deployment("STOPPED", "SCALE_UP");
        let taken_over = |theirs: &str| {
            service(
                2,
                json!([
                    with_state(
                        super::testing::deployment("ecs-svc/3", "PRIMARY", theirs, 0, 2),
                        "IN_PROGRESS"
                    ),
                    super::testing::deployment("ecs-svc/2", "ACTIVE", NEW, 1, 0),
                ]),
            )
        };
        for model in [Model::BlueGreen, Model::Rolling] {
            for theirs in [OTHER, OLD] {
                let verdict = judge(
                    &taken_over(theirs),
                    &watch(),
                    Some(&stopped),
                    model,
                    DoneRule::Complete,
                    None,
                );
                assert_eq!(
                    verdict,
                    Verdict::Failed(Failure::Superseded {
                        by: "ecs-svc/3".into(),
                        task_definition: theirs.into()
                    }),
                    "{model:?} {theirs}"
                );
            }
        }
        // A forced redeploy of our revision carries a rolling rollout on.
        assert_eq!(
            judge(
                &taken_over(NEW),
                &watch(),
                Some(&stopped),
                Model::Rolling,
                DoneRule::Complete,
                None
            ),
            Verdict::Pending
        );
        // Stopped while still PRIMARY: ECS stopped it, nobody took over.
        let still_ours = service(
            2,
            json!([super::testing::deployment(
                "ecs-svc/2",
                "PRIMARY",
                NEW,
                1,
                2
            )]),
        );
        let verdict = judge(
            &still_ours,
            &watch(),
            Some(&stopped),
            Model::BlueGreen,
            DoneRule::Complete,
            None,
        );
        assert!(
            matches!(verdict, Verdict::Failed(Failure::ServiceDeployment { .. })),
            "{verdict:?}"
        );
    }
}
