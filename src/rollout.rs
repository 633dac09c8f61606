//! The wait rules (design §6): given a `DescribeServices` snapshot of a
//! service and the deployment we started, decide whether the rollout is still
//! going, finished, or failed — and why. Pure: no network, no clock; the
//! caller passes snapshots in and owns the deadline.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;

/// The fields of an ECS service that the wait reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    #[serde(default)]
    pub service_name: String,
    #[serde(default)]
    pub service_arn: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub task_definition: Option<String>,
    #[serde(default)]
    pub desired_count: u32,
    #[serde(default)]
    pub deployments: Vec<Deployment>,
    #[serde(default)]
    pub events: Vec<ServiceEvent>,
}

/// One entry of a service's `deployments`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    pub status: String,
    pub task_definition: String,
    #[serde(default)]
    pub desired_count: u32,
    #[serde(default)]
    pub running_count: u32,
    #[serde(default)]
    pub pending_count: u32,
    #[serde(default)]
    pub failed_tasks: u32,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED`; absent on old-style services.
    #[serde(default)]
    pub rollout_state: Option<String>,
    #[serde(default)]
    pub rollout_state_reason: Option<String>,
}

/// One entry of a service's `events` (newest first, as ECS lists them).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEvent {
    pub id: String,
    #[serde(default)]
    pub message: String,
}

impl Deployment {
    /// `N running, N pending, N desired`.
    pub fn counts(&self) -> String {
        format!(
            "{} running, {} pending, {} desired",
            self.running_count, self.pending_count, self.desired_count
        )
    }
}

impl Service {
    /// The deployment ECS is rolling towards.
    pub fn primary(&self) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.status == "PRIMARY")
    }

    fn deployment(&self, id: &str) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.id == id)
    }
}

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

/// Remembers what has been reported so far, so that each poll prints only
/// what changed: task counts, new service events, newly stopped tasks.
#[derive(Debug, Default)]
pub struct Progress {
    last_counts: Option<(u32, u32, u32)>,
    seen_events: HashSet<String>,
    reported_tasks: HashSet<String>,
    last_failed_tasks: u32,
}

impl Progress {
    /// Starts tracking from the service as it was before the deploy: its
    /// existing events are history, not news.
    pub fn new(before: &Service) -> Progress {
        Progress {
            seen_events: before.events.iter().map(|e| e.id.clone()).collect(),
            ..Progress::default()
        }
    }

    /// `running/pending/desired` of the watched deployment, when they changed.
    pub fn counts_change(&mut self, service: &Service, watch: &Watch) -> Option<String> {
        let d = service.deployment(&watch.deployment_id)?;
        let counts = (d.running_count, d.pending_count, d.desired_count);
        if self.last_counts == Some(counts) {
            return None;
        }
        self.last_counts = Some(counts);
        let others: Vec<String> = service
            .deployments
            .iter()
            .filter(|o| o.id != d.id)
            .map(|o| {
                format!(
                    "{} running on {}",
                    o.running_count,
                    short_revision(&o.task_definition)
                )
            })
            .collect();
        let mut line = format!("{}: {}", short_revision(&d.task_definition), d.counts());
        if d.failed_tasks > 0 {
            line.push_str(&format!(", {} failed", d.failed_tasks));
        }
        if !others.is_empty() {
            line.push_str(&format!(" (old: {})", others.join(", ")));
        }
        Some(line)
    }

    /// Service events not seen before, oldest first.
    pub fn new_events<'s>(&mut self, service: &'s Service) -> Vec<&'s str> {
        let mut fresh: Vec<&str> = service
            .events
            .iter()
            .filter(|e| self.seen_events.insert(e.id.clone()))
            .map(|e| e.message.as_str())
            .collect();
        fresh.reverse();
        fresh
    }

    /// Whether the watched deployment has stopped tasks not yet looked at.
    pub fn has_new_failed_tasks(&mut self, service: &Service, watch: &Watch) -> bool {
        let failed = service
            .deployment(&watch.deployment_id)
            .map_or(0, |d| d.failed_tasks);
        let grew = failed > self.last_failed_tasks;
        self.last_failed_tasks = self.last_failed_tasks.max(failed);
        grew
    }

    /// Keeps the task ARNs not reported yet, and marks them reported.
    pub fn unreported_tasks(&mut self, arns: Vec<String>) -> Vec<String> {
        arns.into_iter()
            .filter(|arn| self.reported_tasks.insert(arn.clone()))
            .collect()
    }
}

/// `family:revision` from a task-definition ARN, for compact progress lines.
pub fn short_revision(task_definition: &str) -> &str {
    task_definition
        .rsplit('/')
        .next()
        .unwrap_or(task_definition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7";
    const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:8";

    const OTHER: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:9";

    fn watch() -> Watch {
        Watch {
            deployment_id: "ecs-svc/2".into(),
            task_definition: NEW.into(),
            previous_task_definition: OLD.into(),
        }
    }

    fn service(desired: u32, deployments: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "status": "ACTIVE",
            "desiredCount": desired,
            "deployments": deployments,
            "events": [],
        }))
        .unwrap()
    }

    fn deployment(
        id: &str,
        status: &str,
        td: &str,
        running: u32,
        desired: u32,
    ) -> serde_json::Value {
        json!({"id": id, "status": status, "taskDefinition": td,
               "runningCount": running, "desiredCount": desired, "pendingCount": desired.saturating_sub(running)})
    }

    fn with_state(mut d: serde_json::Value, state: &str) -> serde_json::Value {
        d["rolloutState"] = json!(state);
        d
    }

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
    }

    #[test]
    fn progress_reports_only_changes() {
        let mut before = service(2, json!([deployment("ecs-svc/1", "PRIMARY", OLD, 2, 2)]));
        before.events =
            serde_json::from_value(json!([{"id": "e1", "message": "old news"}])).unwrap();
        let mut progress = Progress::new(&before);

        let mut now = service(
            2,
            json!([
                deployment("ecs-svc/2", "PRIMARY", NEW, 1, 2),
                deployment("ecs-svc/1", "ACTIVE", OLD, 2, 2),
            ]),
        );
        now.events = serde_json::from_value(json!([
            {"id": "e3", "message": "second"},
            {"id": "e2", "message": "first"},
            {"id": "e1", "message": "old news"},
        ]))
        .unwrap();
        assert_eq!(progress.new_events(&now), ["first", "second"]);
        assert!(progress.new_events(&now).is_empty());
        let line = progress.counts_change(&now, &watch()).unwrap();
        assert_eq!(
            line,
            "web:8: 1 running, 1 pending, 2 desired (old: 2 running on web:7)"
        );
        assert_eq!(progress.counts_change(&now, &watch()), None);

        assert!(!progress.has_new_failed_tasks(&now, &watch()));
        now.deployments[0].failed_tasks = 2;
        assert!(progress.has_new_failed_tasks(&now, &watch()));
        assert!(!progress.has_new_failed_tasks(&now, &watch()));
        assert_eq!(
            progress.unreported_tasks(vec!["a".into(), "b".into()]),
            ["a", "b"]
        );
        assert_eq!(
            progress.unreported_tasks(vec!["b".into(), "c".into()]),
            ["c"]
        );
    }
}
