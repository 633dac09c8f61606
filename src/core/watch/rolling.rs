//! The rolling judge (design §6): given a `DescribeServices` snapshot of a
//! service and the deployment we started, decide whether the rollout is still
//! going, finished, or failed — and why.

use super::{Failure, Verdict};
use crate::core::service::Service;

/// The deployment a wait follows: the one `UpdateService` started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    pub deployment_id: String,
    pub task_definition: String,
    /// What the service ran before: a PRIMARY back on it is a rollback.
    pub previous_task_definition: String,
}

impl Watch {
    /// The PRIMARY deployment running `task_definition` in an `UpdateService`
    /// reply, for a service that ran `previous` before.
    pub fn from_update(service: &Service, task_definition: &str, previous: &str) -> Option<Watch> {
        service
            .deployments
            .iter()
            .find(|d| d.status == "PRIMARY" && d.task_definition == task_definition)
            .map(|d| Watch {
                deployment_id: d.id.clone(),
                task_definition: d.task_definition.clone(),
                previous_task_definition: previous.to_string(),
            })
    }
}

impl Watch {
    /// The deployment running `task_definition` in a description read after
    /// an update whose answer shows no service (an Express one): the
    /// PRIMARY one, else — ECS may have rolled back by then — any.
    pub fn after_update(service: &Service, task_definition: &str, previous: &str) -> Option<Watch> {
        Watch::from_update(service, task_definition, previous).or_else(|| {
            service
                .deployments
                .iter()
                .find(|d| d.task_definition == task_definition)
                .map(|d| Watch {
                    deployment_id: d.id.clone(),
                    task_definition: d.task_definition.clone(),
                    previous_task_definition: previous.to_string(),
                })
        })
    }
}

/// When a rollout counts as finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoneRule {
    /// All desired tasks of the new deployment run and ECS says the rollout
    /// completed (or, where ECS reports no rollout state, the new deployment
    /// is the only one left).
    Complete,
    /// All desired tasks of the new deployment run; old tasks may still drain
    /// (`--skip-deployments-check`).
    NewTasksRunning,
}

/// Judges one snapshot of the service against the deployment being watched.
pub fn judge(service: &Service, watch: &Watch, rule: DoneRule) -> Verdict {
    if service.status != "ACTIVE" {
        return Verdict::Failed(Failure::ServiceInactive {
            status: service.status.clone(),
        });
    }
    let ours = service.deployment(&watch.deployment_id);
    let primary = service.primary();
    if let Some(primary) = primary.filter(|p| p.task_definition != watch.task_definition) {
        let ours_failed = ours.is_some_and(|d| d.rollout_state.as_deref() == Some("FAILED"));
        if ours_failed || primary.task_definition == watch.previous_task_definition {
            return Verdict::Failed(Failure::EcsRolledBack {
                to: primary.task_definition.clone(),
                reason: ours.and_then(|d| d.rollout_state_reason.clone()),
            });
        }
        return Verdict::Failed(Failure::Superseded {
            by: primary.id.clone(),
            task_definition: primary.task_definition.clone(),
        });
    }
    // A later deployment of the same revision (a forced redeploy by someone
    // else) carries our rollout on: once it completes, ours is gone, so
    // judge progress by whichever is PRIMARY.
    let Some(ours) = ours.or(primary) else {
        return Verdict::Failed(Failure::DeploymentVanished {
            id: watch.deployment_id.clone(),
        });
    };
    if ours.rollout_state.as_deref() == Some("FAILED") {
        return Verdict::Failed(Failure::RolloutFailed {
            reason: ours.rollout_state_reason.clone(),
        });
    }
    if service.desired_count == 0 {
        return Verdict::Done;
    }
    let current = primary.unwrap_or(ours);
    let all_running = current.running_count >= current.desired_count && current.desired_count > 0;
    let finished = match rule {
        DoneRule::NewTasksRunning => all_running,
        DoneRule::Complete => {
            all_running
                && match current.rollout_state.as_deref() {
                    Some(state) => state == "COMPLETED",
                    None => service.deployments.len() == 1,
                }
        }
    };
    if finished {
        Verdict::Done
    } else {
        Verdict::Pending
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::watch::testing::*;

    #[test]
    fn pending_while_tasks_start() {
        let s = service(
            2,
            json!([
                with_state(deployment("ecs-svc/2", "PRIMARY", NEW, 1, 2), "IN_PROGRESS"),
                with_state(deployment("ecs-svc/1", "ACTIVE", OLD, 2, 2), "COMPLETED"),
            ]),
        );
        assert_eq!(judge(&s, &watch(), DoneRule::Complete), Verdict::Pending);
        assert_eq!(
            judge(&s, &watch(), DoneRule::NewTasksRunning),
            Verdict::Pending
        );
    }

    #[test]
    fn all_running_is_not_done_until_the_rollout_completes() {
        let draining = service(
            2,
            json!([
                with_state(deployment("ecs-svc/2", "PRIMARY", NEW, 2, 2), "IN_PROGRESS"),
                deployment("ecs-svc/1", "ACTIVE", OLD, 1, 0),
            ]),
        );
        assert_eq!(
            judge(&draining, &watch(), DoneRule::Complete),
            Verdict::Pending
        );
        // --skip-deployments-check accepts it while old tasks drain.
        assert_eq!(
            judge(&draining, &watch(), DoneRule::NewTasksRunning),
            Verdict::Done
        );

        let completed = service(
            2,
            json!([with_state(
                deployment("ecs-svc/2", "PRIMARY", NEW, 2, 2),
                "COMPLETED"
            )]),
        );
        assert_eq!(
            judge(&completed, &watch(), DoneRule::Complete),
            Verdict::Done
        );
    }

    #[test]
    fn without_rollout_state_the_services_stable_rule_applies() {
        let two = service(
            2,
            json!([
                deployment("ecs-svc/2", "PRIMARY", NEW, 2, 2),
                deployment("ecs-svc/1", "ACTIVE", OLD, 1, 0),
            ]),
        );
        assert_eq!(judge(&two, &watch(), DoneRule::Complete), Verdict::Pending);
        let one = service(2, json!([deployment("ecs-svc/2", "PRIMARY", NEW, 2, 2)]));
        assert_eq!(judge(&one, &watch(), DoneRule::Complete), Verdict::Done);
    }

    #[test]
    fn desired_zero_is_done_at_once() {
        let s = service(
            0,
            json!([
                with_state(deployment("ecs-svc/2", "PRIMARY", NEW, 0, 0), "IN_PROGRESS"),
                deployment("ecs-svc/1", "ACTIVE", OLD, 1, 0),
            ]),
        );
        assert_eq!(judge(&s, &watch(), DoneRule::Complete), Verdict::Done);
    }

    #[test]
    fn failed_rollout_state_fails_with_the_reason() {
        let mut ours = with_state(deployment("ecs-svc/2", "PRIMARY", NEW, 0, 2), "FAILED");
        ours["rolloutStateReason"] =
            json!("ECS deployment circuit breaker: tasks failed to start.");
        let s = service(
            2,
            json!([ours, deployment("ecs-svc/1", "ACTIVE", OLD, 2, 2)]),
        );
        let verdict = judge(&s, &watch(), DoneRule::Complete);
        let Verdict::Failed(failure) = verdict else {
            panic!("{verdict:?}")
        };
        assert!(matches!(failure, Failure::RolloutFailed { .. }));
        assert!(failure.to_string().contains("tasks failed to start"));
    }

    #[test]
    fn primary_on_another_revision_is_an_ecs_rollback() {
        let s = service(
            2,
            json!([
                with_state(deployment("ecs-svc/3", "PRIMARY", OLD, 0, 2), "IN_PROGRESS"),
                with_state(deployment("ecs-svc/2", "ACTIVE", NEW, 0, 2), "FAILED"),
            ]),
        );
        let Verdict::Failed(failure) = judge(&s, &watch(), DoneRule::NewTasksRunning) else {
            panic!()
        };
        assert!(matches!(failure, Failure::EcsRolledBack { .. }));
        assert!(failure.to_string().contains("web:7"), "{failure}");
    }

    #[test]
    fn vanished_deployment_and_inactive_service_fail() {
        let gone = service(2, json!([]));
        assert!(matches!(
            judge(&gone, &watch(), DoneRule::Complete),
            Verdict::Failed(Failure::DeploymentVanished { .. })
        ));
        let mut inactive = service(2, json!([deployment("ecs-svc/2", "PRIMARY", NEW, 2, 2)]));
        inactive.status = "INACTIVE".into();
        assert!(matches!(
            judge(&inactive, &watch(), DoneRule::Complete),
            Verdict::Failed(Failure::ServiceInactive { .. })
        ));
    }

    #[test]
    fn a_forced_redeploy_of_our_revision_carries_the_rollout_on() {
        let both = service(
            1,
            json!([
                with_state(deployment("ecs-svc/9", "PRIMARY", NEW, 0, 1), "IN_PROGRESS"),
                with_state(deployment("ecs-svc/2", "ACTIVE", NEW, 1, 0), "IN_PROGRESS"),
            ]),
        );
        assert_eq!(judge(&both, &watch(), DoneRule::Complete), Verdict::Pending);
        // As real ECS shows it once the other deployment completed: ours is gone.
        let theirs_only = service(
            1,
            json!([with_state(
                deployment("ecs-svc/9", "PRIMARY", NEW, 1, 1),
                "COMPLETED"
            )]),
        );
        assert_eq!(
            judge(&theirs_only, &watch(), DoneRule::Complete),
            Verdict::Done
        );
    }

    #[test]
    fn another_revision_taking_over_is_not_called_a_rollback() {
        let s = service(
            2,
            json!([
                with_state(
                    deployment("ecs-svc/5", "PRIMARY", OTHER, 0, 2),
                    "IN_PROGRESS"
                ),
                with_state(deployment("ecs-svc/2", "ACTIVE", NEW, 1, 2), "IN_PROGRESS"),
            ]),
        );
        let Verdict::Failed(failure) = judge(&s, &watch(), DoneRule::Complete) else {
            panic!()
        };
        assert_eq!(
            failure,
            Failure::Superseded {
                by: "ecs-svc/5".into(),
                task_definition: OTHER.into()
            }
        );
        assert!(
            failure.to_string().contains("ecs-svc/5 of web:9"),
            "{failure}"
        );
    }

    #[test]
    fn watch_comes_from_the_update_reply() {
        let s = service(
            2,
            json!([
                with_state(deployment("ecs-svc/2", "PRIMARY", NEW, 0, 2), "IN_PROGRESS"),
                deployment("ecs-svc/1", "ACTIVE", OLD, 2, 2),
            ]),
        );
        assert_eq!(Watch::from_update(&s, NEW, OLD), Some(watch()));
        assert_eq!(Watch::from_update(&s, OLD, OLD), None);
        // Described after an Express update, once ECS rolled back: found.
        let rolled_back = service(
            2,
            json!([
                deployment("ecs-svc/3", "PRIMARY", OLD, 0, 2),
                with_state(deployment("ecs-svc/2", "ACTIVE", NEW, 0, 2), "FAILED"),
            ]),
        );
        assert_eq!(Watch::from_update(&rolled_back, NEW, OLD), None);
        assert_eq!(Watch::after_update(&rolled_back, NEW, OLD), Some(watch()));
    }
}
