//! How a deploy to services concludes, decided before anything is done
//! about it: per service, what happened (its outcome, and why in one
//! readable block) and what to do next — keep it, roll it back and how, or
//! leave it, with the line that says why. Pure: `deploy` gathers what the
//! wait saw into [`Deployed`] values, carries the [`Conclusion`] out and
//! records it.

use super::report::{Outcome, RollbackStatus};
use super::shell::command_line;
use super::taskdef::short_revision;
use super::watch::rolling::Watch;
use super::watch::{Ended, Failure};

/// One service a run pointed at a new revision (or, CODE_DEPLOY, created
/// a deployment of), as the wait left it.
#[derive(Debug, Clone)]
pub struct Deployed<'a> {
    pub service: &'a str,
    pub cluster: &'a str,
    /// The revision it ran before the run.
    pub previous: &'a str,
    /// The revision it was pointed at.
    pub new: &'a str,
    /// What the wait saw of it; `None` for a service with nothing to roll
    /// out (desired count 0), or one the run did not get to watch.
    pub watched: Option<Watched<'a>>,
}

/// What the wait saw of one deployment.
#[derive(Debug, Clone)]
pub struct Watched<'a> {
    pub watch: &'a Watch,
    /// How it ended; `None` when the wait stopped at another service's
    /// failure first.
    pub ended: Option<&'a Ended>,
    /// Where it stood when the wait stopped, for one not seen to its end.
    pub state: String,
    /// How it can be undone.
    pub undo: Undo,
}

/// How a deployment can be undone, from what the wait last saw of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// ECS's own rollback (`StopServiceDeployment ROLLBACK`) of this service
    /// deployment, which is still going: traffic and tasks go back.
    ServiceDeployment { arn: String },
    /// CodeDeploy's (`StopDeployment` with rollback) of this deployment,
    /// which is still going.
    CodeDeploy { id: String },
    /// This CodeDeploy deployment already ended (`status`) without a
    /// rollback: there is nothing to stop.
    CodeDeployEnded { id: String, status: String },
    /// `UpdateService` back to the previous revision.
    Revision,
    /// The PAUSE hook this service deployment waits at, answered
    /// `ROLLBACK` (`--rollback-deployment`).
    Hook { arn: String, hook_id: String },
}

/// What to do with one service once the wait is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Nothing: it succeeded, or nothing went wrong with it.
    Keep,
    /// Roll it back to `to`, this way.
    RollBack { to: String, undo: Undo },
    /// Leave it as it is: the report's rollback status, and why.
    Leave { status: RollbackStatus, why: String },
}

/// The decision for one service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConclusion {
    pub service: String,
    /// Its outcome, where the wait saw it (`None`: not watched).
    pub outcome: Option<Outcome>,
    /// Why it failed, in one readable block.
    pub reason: Option<String>,
    pub next: Next,
    /// Why ECS rolled it back, where it said (`rollback.reason`).
    pub ecs_rollback_reason: Option<String>,
}

/// The decision for the whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct Conclusion {
    /// The run's result, before any rollback of ecs-deploy's.
    pub result: Outcome,
    /// One per deployed service, in order.
    pub services: Vec<ServiceConclusion>,
}

impl Conclusion {
    /// Whether every watched deployment succeeded.
    pub fn succeeded(&self) -> bool {
        self.result == Outcome::Success
    }

    /// The explanations of the failures, in order.
    pub fn explanations(&self) -> impl Iterator<Item = &str> {
        self.services
            .iter()
            .filter(|s| s.outcome.is_some_and(|o| o != Outcome::Success))
            .filter_map(|s| s.reason.as_deref())
    }
}

/// Concludes a deploy: success when no watched deployment failed; else
/// the first failure's outcome, and — with `enable_rollback` — every
/// service rolled back that can and should be (a failure of one is a
/// failure of the release), or — without it — each failed one left with
/// the line that says what it leaves behind.
pub fn conclude(deployed: &[Deployed], enable_rollback: bool) -> Conclusion {
    let failed = |d: &Deployed| failure_of(d).is_some();
    let result = deployed
        .iter()
        .find_map(|d| failure_of(d).map(|(failure, _)| Outcome::of(failure)))
        .unwrap_or(Outcome::Success);
    let services = deployed
        .iter()
        .map(|d| {
            let (outcome, reason) = seen(d);
            let next = if result == Outcome::Success {
                Next::Keep
            } else if enable_rollback {
                roll_back_or_leave(d)
            } else if failed(d) {
                leave(d)
            } else {
                Next::Keep
            };
            let ecs_rollback_reason = match failure_of(d) {
                Some((
                    Failure::ServiceDeployment {
                        rollback_reason, ..
                    },
                    _,
                )) => rollback_reason.clone(),
                _ => None,
            };
            ServiceConclusion {
                service: d.service.to_string(),
                outcome,
                reason,
                next,
                ecs_rollback_reason,
            }
        })
        .collect();
    Conclusion { result, services }
}

/// An update failed after others had gone through, before any wait: the
/// services already updated are rolled back where they can be (with
/// `--enable-rollback`; the run's result is the error of that update).
pub fn after_failed_update(deployed: &[Deployed]) -> Conclusion {
    Conclusion {
        result: Outcome::Error,
        services: deployed
            .iter()
            .map(|d| ServiceConclusion {
                service: d.service.to_string(),
                outcome: None,
                reason: None,
                next: roll_back_or_leave(d),
                ecs_rollback_reason: None,
            })
            .collect(),
    }
}

/// The failure the wait saw of `d`, and the stopped tasks' reasons.
fn failure_of<'a>(d: &Deployed<'a>) -> Option<(&'a Failure, &'a [String])> {
    match d.watched.as_ref()?.ended? {
        Ended::Failed(failure, stopped) => Some((failure, stopped)),
        Ended::Done => None,
    }
}

/// The outcome and the explanation of a watched service.
fn seen(d: &Deployed) -> (Option<Outcome>, Option<String>) {
    let Some(watched) = &d.watched else {
        return (None, None);
    };
    match watched.ended {
        Some(Ended::Done) => (Some(Outcome::Success), None),
        Some(Ended::Failed(failure, stopped)) => (
            Some(Outcome::of(failure)),
            Some(explain(d.service, watched.watch, failure, stopped)),
        ),
        None => (
            Some(Outcome::Failed),
            Some(format!(
                "Not waited for to the end: another service failed and all are rolled back. Its deployment {} was {}.",
                watched.watch.deployment_id, watched.state
            )),
        ),
    }
}

/// With `--enable-rollback`: roll `d` back, unless AWS already did, another
/// deployment took it over, it ran no other revision, or there is nothing
/// left to stop.
fn roll_back_or_leave(d: &Deployed) -> Next {
    if let Some(leave) = failure_of(d).and_then(|(failure, _)| moved_on(failure)) {
        return leave;
    }
    if d.previous == d.new {
        return Next::Leave {
            status: RollbackStatus::NotAttempted,
            why: format!(
                "No earlier revision to roll back to: the service already ran {} before this deployment.",
                short_revision(d.previous)
            ),
        };
    }
    let undo = d
        .watched
        .as_ref()
        .map_or(Undo::Revision, |w| w.undo.clone());
    if let Undo::CodeDeployEnded { id, .. } = &undo {
        return Next::Leave {
            status: RollbackStatus::Failed,
            why: format!(
                "CodeDeploy deployment {id} already ended without rolling back, so there is no deployment in progress to stop; {}",
                which_task_set_serves(id, d.cluster, d.service)
            ),
        };
    }
    Next::RollBack {
        to: d.previous.to_string(),
        undo,
    }
}

/// Without `--enable-rollback`: a failed `d` is left, with what it leaves
/// behind and how to roll it back next time.
fn leave(d: &Deployed) -> Next {
    if let Some(leave) = failure_of(d).and_then(|(failure, _)| moved_on(failure)) {
        return leave;
    }
    let previous = short_revision(d.previous);
    let why = match d.watched.as_ref().map(|w| &w.undo) {
        Some(Undo::CodeDeployEnded { id, status }) => format!(
            "CodeDeploy deployment {id} ended {status} without a rollback; {}",
            which_task_set_serves(id, d.cluster, d.service)
        ),
        Some(Undo::CodeDeploy { id }) => format!(
            "CodeDeploy deployment {id} of {} is left going; pass --enable-rollback to have CodeDeploy stop it and return to {previous}. Check it with: {}",
            short_revision(d.new),
            command_line(&["aws", "deploy", "get-deployment", "--deployment-id", id])
        ),
        _ => format!(
            "The service still points at {}; pass --enable-rollback to return to {previous} automatically.",
            short_revision(d.new)
        ),
    };
    Next::Leave {
        status: RollbackStatus::NotAttempted,
        why,
    }
}

/// A failure after which the service already runs another revision, so
/// that nothing is rolled back: AWS rolled back by itself, or another
/// deployment took over.
fn moved_on(failure: &Failure) -> Option<Next> {
    let (status, why) = match failure {
        Failure::CodeDeploy(_) if failure.is_ecs_rollback() => (
            RollbackStatus::DoneByEcs,
            "CodeDeploy already rolled the service back, so ecs-deploy did not roll back again.",
        ),
        failure if failure.is_ecs_rollback() => (
            RollbackStatus::DoneByEcs,
            "ECS already rolled the service back, so ecs-deploy did not roll back again.",
        ),
        Failure::Superseded { .. } => (
            RollbackStatus::NotAttempted,
            "Another deployment took over the service, so ecs-deploy did not roll it back.",
        ),
        _ => return None,
    };
    Some(Next::Leave {
        status,
        why: why.to_string(),
    })
}

/// The explanation of one failed deployment, in one readable block.
pub fn explain(service: &str, watch: &Watch, failure: &Failure, stopped: &[String]) -> String {
    let mut text = format!(
        "Deployment of {} to service '{service}' failed: {failure}.",
        short_revision(&watch.task_definition)
    );
    if !stopped.is_empty() {
        text.push_str("\nStopped tasks of the new deployment:");
        for line in stopped {
            for (i, part) in line.lines().enumerate() {
                text.push_str(if i == 0 { "\n  - " } else { "\n    " });
                text.push_str(part.trim_start());
            }
        }
    }
    text
}

/// What became of a rollback that was sent and waited for: `to` is the
/// revision it returns to.
pub fn rollback_ended(to: &str, ended: &Ended) -> (RollbackStatus, String) {
    match ended {
        Ended::Done => (
            RollbackStatus::Completed,
            format!(
                "Rolled back: the service runs {} again.",
                short_revision(to)
            ),
        ),
        Ended::Failed(failure, _) => (
            RollbackStatus::Failed,
            format!(
                "Rolled back to {}, but that rollout did not complete either: {failure}.",
                short_revision(to)
            ),
        ),
    }
}

/// How to see which task set serves traffic after a CodeDeploy deployment
/// ended without a rollback.
pub fn which_task_set_serves(deployment_id: &str, cluster: &str, service: &str) -> String {
    let target = format!("{cluster}:{service}");
    format!(
        "check which task set serves traffic: {}",
        command_line(&[
            "aws",
            "deploy",
            "get-deployment-target",
            "--deployment-id",
            deployment_id,
            "--target-id",
            &target,
        ])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::watch::testing::{watch, NEW, OLD, OTHER};

    fn deployed<'a>(watch: &'a Watch, ended: Option<&'a Ended>, undo: Undo) -> Deployed<'a> {
        Deployed {
            service: "web",
            cluster: "prod",
            previous: OLD,
            new: NEW,
            watched: Some(Watched {
                watch,
                ended,
                state: "IN_PROGRESS, 1 running, 1 pending, 2 desired".into(),
                undo,
            }),
        }
    }

    fn failed(failure: Failure) -> Ended {
        Ended::Failed(failure, vec!["1 task stopped: OutOfMemoryError".into()])
    }

    const TIMED_OUT: Failure = Failure::TimedOut {
        seconds: 600.0,
        blind: None,
    };

    #[test]
    fn success_keeps_everything() {
        let w = watch();
        let done = Ended::Done;
        let conclusion = conclude(&[deployed(&w, Some(&done), Undo::Revision)], true);
        assert!(conclusion.succeeded());
        assert_eq!(conclusion.services[0].next, Next::Keep);
        assert_eq!(conclusion.services[0].outcome, Some(Outcome::Success));
        assert_eq!(conclusion.explanations().count(), 0);
    }

    #[test]
    fn a_failure_is_explained_and_rolled_back_the_way_it_can_be() {
        let w = watch();
        let timed_out = failed(TIMED_OUT);
        let arn = "arn:aws:ecs:us-east-1:1:service-deployment/prod/web/2".to_string();
        let way = Undo::ServiceDeployment { arn: arn.clone() };
        let conclusion = conclude(&[deployed(&w, Some(&timed_out), way.clone())], true);
        assert_eq!(conclusion.result, Outcome::Timeout);
        let web = &conclusion.services[0];
        assert_eq!(
            web.next,
            Next::RollBack {
                to: OLD.into(),
                undo: way
            }
        );
        let reason = web.reason.as_deref().unwrap();
        assert!(
            reason.starts_with("Deployment of web:8 to service 'web' failed: the deployment did not finish within 600 s.\nStopped tasks of the new deployment:\n  - 1 task stopped: OutOfMemoryError"),
            "{reason}"
        );
        // Without --enable-rollback: left, saying how to roll back next time.
        let conclusion = conclude(&[deployed(&w, Some(&timed_out), Undo::Revision)], false);
        let Next::Leave { status, why } = &conclusion.services[0].next else {
            panic!("{conclusion:?}")
        };
        assert_eq!(*status, RollbackStatus::NotAttempted);
        assert_eq!(
            why,
            "The service still points at web:8; pass --enable-rollback to return to web:7 automatically."
        );
    }

    #[test]
    fn what_aws_rolled_back_or_another_deploy_took_over_is_never_rolled_back() {
        let w = watch();
        let ecs = failed(Failure::EcsRolledBack {
            to: OLD.into(),
            reason: None,
        });
        let superseded = failed(Failure::Superseded {
            by: "ecs-svc/3".into(),
            task_definition: OTHER.into(),
        });
        for (ended, status, outcome) in [
            (&ecs, RollbackStatus::DoneByEcs, Outcome::EcsRolledBack),
            (
                &superseded,
                RollbackStatus::NotAttempted,
                Outcome::Superseded,
            ),
        ] {
            for enable_rollback in [true, false] {
                let conclusion = conclude(
                    &[deployed(&w, Some(ended), Undo::Revision)],
                    enable_rollback,
                );
                assert_eq!(conclusion.result, outcome);
                let Next::Leave { status: left, .. } = &conclusion.services[0].next else {
                    panic!("{conclusion:?}")
                };
                assert_eq!(*left, status);
            }
        }
    }

    #[test]
    fn a_joint_rollback_takes_every_service_with_it() {
        let (w, done, timed_out) = (watch(), Ended::Done, failed(TIMED_OUT));
        let worker = Deployed {
            service: "worker",
            ..deployed(&w, Some(&done), Undo::Revision)
        };
        let unwatched = Deployed {
            service: "cron",
            watched: None,
            ..deployed(&w, None, Undo::Revision)
        };
        let not_waited = Deployed {
            service: "api",
            ..deployed(&w, None, Undo::Revision)
        };
        let same = Deployed {
            service: "same",
            previous: NEW,
            ..deployed(&w, Some(&done), Undo::Revision)
        };
        let all = [
            deployed(&w, Some(&timed_out), Undo::Revision),
            worker,
            unwatched,
            not_waited,
            same,
        ];
        let conclusion = conclude(&all, true);
        let next: Vec<&Next> = conclusion.services.iter().map(|s| &s.next).collect();
        let back = Next::RollBack {
            to: OLD.into(),
            undo: Undo::Revision,
        };
        assert_eq!(next[..4], [&back, &back, &back, &back]);
        assert!(
            matches!(next[4], Next::Leave { why, .. } if why.starts_with("No earlier revision")),
            "{next:?}"
        );
        assert_eq!(conclusion.services[2].outcome, None);
        assert_eq!(conclusion.services[3].outcome, Some(Outcome::Failed));
        assert!(conclusion.services[3]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("Not waited for to the end"));
        // Without --enable-rollback, only the failed one is left as it is.
        let conclusion = conclude(&all, false);
        assert_eq!(conclusion.services[1].next, Next::Keep);
    }

    #[test]
    fn a_codedeploy_deployment_is_stopped_while_it_goes_and_explained_once_it_ended() {
        let (w, timed_out) = (watch(), failed(TIMED_OUT));
        let going = Undo::CodeDeploy { id: "d-1".into() };
        let conclusion = conclude(&[deployed(&w, Some(&timed_out), going.clone())], true);
        assert_eq!(
            conclusion.services[0].next,
            Next::RollBack {
                to: OLD.into(),
                undo: going.clone()
            }
        );
        let conclusion = conclude(&[deployed(&w, Some(&timed_out), going)], false);
        assert!(
            matches!(&conclusion.services[0].next, Next::Leave { why, .. } if why.contains("is left going") && why.contains("aws deploy get-deployment --deployment-id d-1")),
            "{conclusion:?}"
        );
        let ended = Undo::CodeDeployEnded {
            id: "d-1".into(),
            status: "Failed".into(),
        };
        for enable_rollback in [true, false] {
            let conclusion = conclude(
                &[deployed(&w, Some(&timed_out), ended.clone())],
                enable_rollback,
            );
            assert!(
                matches!(&conclusion.services[0].next, Next::Leave { why, .. } if why.contains("aws deploy get-deployment-target --deployment-id d-1 --target-id prod:web")),
                "{conclusion:?}"
            );
        }
    }

    #[test]
    fn after_a_failed_update_the_updated_services_go_back() {
        let w = watch();
        let codedeploy = Undo::CodeDeploy { id: "d-1".into() };
        let conclusion = conclude(&[], true);
        assert!(conclusion.succeeded());
        let conclusion = after_failed_update(&[
            deployed(&w, None, codedeploy.clone()),
            Deployed {
                watched: None,
                ..deployed(&w, None, Undo::Revision)
            },
        ]);
        assert_eq!(conclusion.result, Outcome::Error);
        let next: Vec<&Next> = conclusion.services.iter().map(|s| &s.next).collect();
        assert_eq!(
            next,
            [
                &Next::RollBack {
                    to: OLD.into(),
                    undo: codedeploy
                },
                &Next::RollBack {
                    to: OLD.into(),
                    undo: Undo::Revision
                }
            ]
        );
    }

    #[test]
    fn what_a_rollback_came_to() {
        assert_eq!(
            rollback_ended(OLD, &Ended::Done),
            (
                RollbackStatus::Completed,
                "Rolled back: the service runs web:7 again.".to_string()
            )
        );
        let (status, line) = rollback_ended(OLD, &failed(TIMED_OUT));
        assert_eq!(status, RollbackStatus::Failed);
        assert!(line.starts_with("Rolled back to web:7, but that rollout did not complete either"));
    }
}
