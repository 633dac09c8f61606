//! Rolling back: deciding, for each service a run updated, whether and how
//! to undo its deployment — never one that AWS already rolled back, nor one
//! another deployment took over — sending it the ECS way (StopServiceDeployment
//! ROLLBACK, CodeDeploy's StopDeployment) where it can, else with UpdateService,
//! and waiting for it; and what is said of a failure left as it is.

use super::context::Run;
use super::watch::{Followed, FollowedCodeDeploy, Tracked};
use super::Deadline;
use crate::aws::client::AwsError;
use crate::aws::codedeploy::ACTIVE_STATUSES;
use crate::aws::in_parallel_stream;
use crate::core::conclusion::{self, Conclusion, Deployed, Next, ServiceConclusion, Undo, Watched};
use crate::core::model::Model;
use crate::core::report::{Outcome, Report, Rollback, RollbackStatus};
use crate::core::taskdef::short_revision;
use crate::core::watch::rolling::Watch;
use crate::core::watch::service_deployment::{self, ServiceDeployment};
use crate::error::Error;
use futures_util::StreamExt;

/// A service this run updated (or, CODE_DEPLOY, created a deployment of).
pub(super) struct Updated {
    pub name: String,
    pub previous: String,
    pub new: String,
    pub codedeploy: bool,
}

/// What became of a `StopServiceDeployment ROLLBACK`.
enum Stopped {
    /// ECS took it.
    Sent,
    /// It failed, but ECS rolls the deployment back already.
    EcsRollingBack(Box<ServiceDeployment>),
    /// It failed (so) and nothing rolls back: the service is pointed back.
    NothingRollingBack(AwsError),
}

/// Why a service was not rolled back: the status the report gives it and
/// the line that says why.
pub(super) struct NoRollback {
    pub status: RollbackStatus,
    pub why: String,
}

impl NoRollback {
    /// A rollback that was tried and failed.
    pub fn failed(why: String) -> NoRollback {
        NoRollback {
            status: RollbackStatus::Failed,
            why,
        }
    }
}

impl Run<'_> {
    /// Updates failed after others went through (`failures`, each with its
    /// service): those services already point at their new revisions (or
    /// have a CodeDeploy deployment going). Rolls them back when asked.
    pub(super) async fn update_failed_midway(
        &self,
        failures: Vec<(String, Error)>,
        updated: &[Updated],
        tracked: &[Tracked],
        report: &mut Report,
    ) -> Error {
        let mut message: Vec<String> = failures
            .iter()
            .map(|(name, error)| format!("Updating service '{name}' failed: {error}"))
            .collect();
        if self.d.config.enable_rollback {
            let deployed = self.deployed(updated, tracked);
            let conclusion = conclusion::after_failed_update(&deployed);
            message.extend(self.carry_out(&conclusion, updated, tracked, report).await);
        } else {
            let names: Vec<&str> = updated.iter().map(|u| u.name.as_str()).collect();
            message.push(format!(
                "Already updated: {}; pass --enable-rollback to return them automatically.",
                names.join(", ")
            ));
        }
        Error::aws(message.join("\n"))
    }

    /// What a conclusion needs to know of each service updated: what it
    /// ran, what it runs, and what the wait saw of it.
    pub(super) fn deployed<'a>(
        &'a self,
        updated: &'a [Updated],
        tracked: &'a [Tracked],
    ) -> Vec<Deployed<'a>> {
        updated
            .iter()
            .map(|u| Deployed {
                service: &u.name,
                cluster: self.cluster,
                previous: &u.previous,
                new: &u.new,
                watched: tracked.iter().find(|t| t.name == u.name).map(|t| Watched {
                    watch: &t.watch,
                    ended: t.ended.as_ref(),
                    state: t.state(),
                    undo: t.undo(),
                }),
            })
            .collect()
    }

    /// Carries out what `conclusion` decided for each service: the lines
    /// and report of those left as they are, and every rollback it asks
    /// for, sent together (what they say printed in the services' order)
    /// and then waited for with a deadline of its own. Returns what became
    /// of each, a line per service.
    pub(super) async fn carry_out(
        &self,
        conclusion: &Conclusion,
        updated: &[Updated],
        watched: &[Tracked],
        report: &mut Report,
    ) -> Vec<String> {
        // The rollback's own deadline, as long as the deploy's.
        let deadline = Deadline::after(self.timeout);
        let decisions: Vec<(&Updated, &ServiceConclusion)> = conclusion
            .services
            .iter()
            .filter(|decided| !matches!(decided.next, Next::Keep))
            .map(|decided| {
                let u = updated
                    .iter()
                    .find(|u| u.name == decided.service)
                    .expect("a conclusion is about updated services");
                (u, decided)
            })
            .collect();
        let started = in_parallel_stream(&decisions, |(u, decided)| async move {
            let Next::RollBack { to, undo } = &decided.next else {
                return None;
            };
            let t = watched.iter().find(|t| t.name == u.name);
            let start = async {
                self.say(
                    &u.name,
                    format!("Rolling back to {to} (deadline {} s)", deadline.seconds()),
                );
                let started = self.start_rollback(u, t, undo, deadline).await;
                if started.is_ok() {
                    self.d.journal.rolling_back();
                }
                started
            };
            Some(self.d.out.hold(start).await)
        });
        let mut started = std::pin::pin!(started);
        let mut lines = Vec::new();
        let mut rollbacks = Vec::new();
        // Every rollback asked for was started.
        let mut all_started = true;
        for &(u, decided) in &decisions {
            let started = started.next().await.expect("one start for every decision");
            let left = match (&decided.next, started) {
                (Next::Leave { status, why }, _) => NoRollback {
                    status: *status,
                    why: why.clone(),
                },
                (Next::RollBack { to, .. }, Some((started, said))) => {
                    self.d.out.release(said);
                    match started {
                        Ok(rollback) => {
                            report.service(&u.name).rollback = Some(Rollback {
                                to: to.clone(),
                                status: RollbackStatus::InProgress,
                                detail: "Rollback sent; waiting for it.".into(),
                                reason: None,
                            });
                            rollbacks.push(rollback);
                            continue;
                        }
                        Err(left) => {
                            all_started = false;
                            left
                        }
                    }
                }
                _ => unreachable!("every rollback was started"),
            };
            lines.push(self.prefixed(&u.name, &left.why));
            report.service(&u.name).rollback = Some(Rollback {
                to: u.previous.clone(),
                status: left.status,
                detail: left.why,
                reason: decided.ecs_rollback_reason.clone(),
            });
        }
        self.wait(&mut rollbacks, false, deadline).await;
        lines.extend(self.record_rollbacks(&rollbacks, all_started, report));
        lines
    }

    /// What became of each rollback waited for: its line, and the report
    /// (rolled back as a whole only when `all_started` and all completed).
    fn record_rollbacks(
        &self,
        rollbacks: &[Tracked],
        all_started: bool,
        report: &mut Report,
    ) -> Vec<String> {
        let mut lines = Vec::new();
        let mut all_completed = true;
        for t in rollbacks {
            // ECS's rollback returns to what the deployment replaced; an
            // UpdateService rollback is a deployment of that revision.
            let to = if t.rolling_back {
                &t.watch.previous_task_definition
            } else {
                &t.watch.task_definition
            };
            let ended = t.ended.as_ref().expect("the wait ends every deployment");
            let (status, line) = conclusion::rollback_ended(to, ended);
            all_completed &= status == RollbackStatus::Completed;
            let service = report.service(&t.name);
            if status == RollbackStatus::Completed {
                service.result = Outcome::RolledBack;
            }
            service.rollback = Some(Rollback {
                to: to.clone(),
                status,
                detail: line.clone(),
                reason: None,
            });
            lines.push(self.prefixed(&t.name, &line));
        }
        if !rollbacks.is_empty() && all_completed && all_started {
            report.result = Outcome::RolledBack;
        }
        lines
    }

    /// Starts the rollback of one service the way `undo` says: ECS's own,
    /// CodeDeploy's, or `UpdateService` back to the previous revision —
    /// unless another deployment took the service over meanwhile: that one
    /// is not ours to undo.
    async fn start_rollback(
        &self,
        u: &Updated,
        watched: Option<&Tracked>,
        undo: &Undo,
        deadline: Deadline,
    ) -> Result<Tracked, NoRollback> {
        let t = match (undo, watched) {
            (Undo::Revision, _) | (_, None) => return self.update_back(u, deadline).await,
            (_, Some(t)) => t,
        };
        let arn = match undo {
            Undo::CodeDeploy { id } => {
                return self.start_codedeploy_rollback(t, id, deadline).await
            }
            Undo::Hook { arn, hook_id } => return self.answer_rollback(t, arn, hook_id).await,
            Undo::ServiceDeployment { arn } => arn,
            Undo::CodeDeployEnded { .. } | Undo::Revision => {
                unreachable!("decided in conclusion::conclude")
            }
        };
        let following = match self.stop_service_deployment(&u.name, arn, deadline).await? {
            Stopped::Sent => None,
            Stopped::EcsRollingBack(deployment) => Some(*deployment),
            Stopped::NothingRollingBack(error) => {
                let back = short_revision(&u.previous);
                self.say(
                    &u.name,
                    if error.is_refusal() {
                        format!("warning: StopServiceDeployment was refused ({error}) and ECS is not rolling the deployment back; pointing the service back at {back} instead.")
                    } else {
                        format!("warning: {error}; ECS is not rolling the deployment back, so the service is pointed back at {back} instead.")
                    },
                );
                return self.update_back(u, deadline).await;
            }
        };
        let followed = Followed::new(arn.to_string(), following);
        Ok(Tracked {
            rolling_back: true,
            ..Tracked::new(
                &u.name,
                t.model,
                t.watch.clone(),
                &t.latest,
                t.latest.clone(),
                Some(followed),
            )
        })
    }

    /// Answers the PAUSE hook a deployment waits at with `ROLLBACK`, and
    /// sets up the watch of ECS's rollback.
    async fn answer_rollback(
        &self,
        t: &Tracked,
        arn: &str,
        hook_id: &str,
    ) -> Result<Tracked, NoRollback> {
        let journal = self.d.journal;
        let sending = journal.sending(
            "ECS",
            format!(
                "answering hook {hook_id} of service '{}' with ROLLBACK",
                t.name
            ),
        );
        let answered = self
            .d
            .ecs
            .continue_service_deployment(arn, hook_id, "ROLLBACK")
            .await;
        if let Err(e) = answered {
            sending.settled();
            return Err(NoRollback::failed(format!(
                "Rollback failed before it started: {e}"
            )));
        }
        sending.changed(format!(
            "answered hook {hook_id} of service '{}' with ROLLBACK",
            t.name
        ));
        self.say(
            &t.name,
            format!("Sent ROLLBACK to hook {hook_id} of service deployment {arn}."),
        );
        Ok(Tracked {
            rolling_back: true,
            ..Tracked::new(
                &t.name,
                t.model,
                t.watch.clone(),
                &t.latest,
                t.latest.clone(),
                Some(Followed::after_answer(arn.to_string(), hook_id)),
            )
        })
    }

    /// `StopServiceDeployment ROLLBACK`. Whatever goes wrong, the service
    /// deployment is looked at again before anything else is sent: ECS may
    /// be rolling back already (an alarm fired after the last poll, or a
    /// retry met the rollback its first attempt started), and a second
    /// rollback on top of ECS's own would fight it.
    async fn stop_service_deployment(
        &self,
        service: &str,
        arn: &str,
        deadline: Deadline,
    ) -> Result<Stopped, NoRollback> {
        let journal = self.d.journal;
        let sending = journal.sending(
            "ECS",
            format!("asking ECS to roll back service deployment {arn}"),
        );
        let stop = self.d.ecs.roll_back_service_deployment(arn);
        let error = match deadline.bound("StopServiceDeployment", stop).await {
            Ok(()) => {
                sending.changed(format!(
                    "asked ECS to roll back service '{service}' (StopServiceDeployment ROLLBACK)"
                ));
                self.say(
                    service,
                    "ECS rolls the deployment back (StopServiceDeployment ROLLBACK): traffic and tasks go back to the previous revision.",
                );
                return Ok(Stopped::Sent);
            }
            Err(e) => e,
        };
        sending.settled();
        let arns = [arn.to_string()];
        let look = self.d.ecs.describe_service_deployments(&arns);
        let now = match deadline.bound("DescribeServiceDeployments", look).await {
            Ok(described) => described
                .into_iter()
                .find(|d| d.service_deployment_arn == arn),
            // Refused both: an IAM policy without the service-deployment
            // API, so ECS's own rollbacks are not in play.
            Err(_) if error.is_refusal() => return Ok(Stopped::NothingRollingBack(error)),
            Err(e) => {
                return Err(NoRollback::failed(format!(
                    "Rollback failed before it started: {error}; and the service deployment cannot be read to see what ECS does ({e})."
                )))
            }
        };
        match now {
            Some(deployment) if service_deployment::is_ecs_rollback(&deployment.status) => {
                journal.changed(format!(
                    "ECS rolls back service '{service}' ({})",
                    deployment.status
                ));
                self.say(service, format!(
                    "StopServiceDeployment answered {error}, but ECS is already rolling the deployment back ({}): following that rollback.",
                    deployment.status
                ));
                Ok(Stopped::EcsRollingBack(Box::new(deployment)))
            }
            _ => Ok(Stopped::NothingRollingBack(error)),
        }
    }
    /// `UpdateService` back to the previous revision, and its watch. The
    /// service is described first: a service that another deployment took
    /// over is left to it, and one already back on the previous revision
    /// needs nothing.
    async fn update_back(&self, u: &Updated, deadline: Deadline) -> Result<Tracked, NoRollback> {
        let described = self
            .d
            .ecs
            .describe_services(self.cluster, std::slice::from_ref(&u.name));
        let before = match deadline.bound("DescribeServices", described).await {
            Ok(described) => described.find(&u.name).cloned().ok_or_else(|| {
                NoRollback::failed("Rollback impossible: the service is gone.".into())
            })?,
            Err(e) => {
                return Err(NoRollback::failed(format!(
                    "Rollback failed before it started: {e}"
                )))
            }
        };
        if before.is_express() {
            return Err(NoRollback::failed(format!(
                "Rollback impossible: ECS manages Express service '{}', so only its own rollback (StopServiceDeployment ROLLBACK) can undo the deployment, and that did not happen. Roll it back in the console, or deploy {} again.",
                u.name,
                short_revision(&u.previous)
            )));
        }
        if let Some(primary) = before.primary() {
            if primary.task_definition == u.previous {
                return Err(NoRollback {
                    status: RollbackStatus::NotAttempted,
                    why: format!(
                        "The service already runs {} again (deployment {}), so there was nothing to roll back.",
                        short_revision(&u.previous),
                        primary.id
                    ),
                });
            }
            if primary.task_definition != u.new {
                return Err(NoRollback {
                    status: RollbackStatus::NotAttempted,
                    why: format!(
                        "Another deployment ({} of {}) took over the service, so ecs-deploy did not roll it back.",
                        primary.id,
                        short_revision(&primary.task_definition)
                    ),
                });
            }
        }
        let reply = self
            .update(&u.name, &u.previous, false, Some(deadline))
            .await
            .map_err(|e| {
                NoRollback::failed(format!(
                    "Rollback to {} failed: {e}",
                    short_revision(&u.previous)
                ))
            })?;
        let watch = Watch::from_update(&reply, &u.previous, &u.new).ok_or_else(|| {
            NoRollback::failed(format!(
                "Rolled back to {}, but ECS shows no PRIMARY deployment of it; check the service.",
                short_revision(&u.previous)
            ))
        })?;
        let model = Model::of(&before).unwrap_or(Model::Rolling);
        let followed = self
            .find_service_deployment(&u.name, &reply, &watch, model, deadline)
            .await
            .map(|arn| Followed::new(arn, None));
        Ok(Tracked::new(
            &u.name, model, watch, &before, reply, followed,
        ))
    }
    /// Stops a CodeDeploy deployment that is still going, with CodeDeploy's
    /// own rollback, and sets up the watch of that rollback. When the stop
    /// fails, the deployment is looked at again first: it may have ended,
    /// or CodeDeploy may be rolling it back already (a retried stop meets
    /// the rollback its first attempt started) — that rollback is followed.
    async fn start_codedeploy_rollback(
        &self,
        t: &Tracked,
        deployment_id: &str,
        deadline: Deadline,
    ) -> Result<Tracked, NoRollback> {
        let journal = self.d.journal;
        let sending = journal.sending(
            "CodeDeploy",
            format!("stopping CodeDeploy deployment {deployment_id}"),
        );
        let stop = self.d.codedeploy.stop_and_roll_back(deployment_id);
        match deadline.bound("StopDeployment", stop).await {
            Ok(()) => {
                sending.changed(format!(
                    "stopped CodeDeploy deployment {deployment_id} with rollback"
                ));
                self.say(
                    &t.name,
                    format!("CodeDeploy stops deployment {deployment_id} and rolls it back (StopDeployment with autoRollbackEnabled)."),
                );
            }
            Err(error) => {
                sending.settled();
                let look = self.d.codedeploy.deployment(deployment_id);
                let now = deadline.bound("GetDeployment", look).await;
                match now.as_ref().map(|(d, _)| d) {
                    Ok(d) if d.rollback_id().is_some() => {
                        journal.rolling_back();
                        self.say(&t.name, format!(
                            "StopDeployment answered {error}, but CodeDeploy is already rolling deployment {deployment_id} back: following that rollback."
                        ));
                    }
                    Ok(d) if !ACTIVE_STATUSES.contains(&d.status.as_str()) => {
                        return Err(NoRollback::failed(format!(
                            "StopDeployment answered {error}: CodeDeploy deployment {deployment_id} already ended {} without rolling back; {}",
                            d.status,
                            conclusion::which_task_set_serves(deployment_id, self.cluster, &t.name)
                        )));
                    }
                    _ => {
                        return Err(NoRollback::failed(format!(
                            "Rollback failed before it started: {error}"
                        )))
                    }
                }
            }
        }
        Ok(Tracked {
            codedeploy: Some(FollowedCodeDeploy::new(deployment_id.to_string())),
            rolling_back: true,
            ..Tracked::new(
                &t.name,
                Model::CodeDeploy,
                t.watch.clone(),
                &t.latest,
                t.latest.clone(),
                None,
            )
        })
    }
}
