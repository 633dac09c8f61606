//! Rolling back: deciding, for each service a run updated, whether and how
//! to undo its deployment — never one that AWS already rolled back, nor one
//! another deployment took over — sending it the ECS way (StopServiceDeployment
//! ROLLBACK, CodeDeploy's StopDeployment) where it can, else with UpdateService,
//! and waiting for it; and what is said of a failure left as it is.

use super::context::Run;
use super::watch::{Ended, Followed, FollowedCodeDeploy, Tracked};
use super::Deadline;
use crate::aws::client::AwsError;
use crate::aws::codedeploy::ACTIVE_STATUSES;
use crate::core::model::Model;
use crate::core::report::{Outcome, Report, Rollback, RollbackStatus};
use crate::core::shell::command_line;
use crate::core::taskdef::short_revision;
use crate::core::watch::rolling::Watch;
use crate::core::watch::service_deployment::{self, ServiceDeployment};
use crate::core::watch::Failure;
use crate::error::Error;

/// A failed service that already runs another revision, so it is not
/// rolled back: why, and the rollback status that says so.
pub(super) struct MovedOn {
    pub service: String,
    pub status: RollbackStatus,
    pub why: &'static str,
}

impl MovedOn {
    pub(super) fn from_failure(service: &str, failure: &Failure) -> Option<MovedOn> {
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
        Some(MovedOn {
            service: service.to_string(),
            status,
            why,
        })
    }
}

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
    EcsRollingBack(ServiceDeployment),
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

/// What a failed deployment that is not rolled back leaves behind, and how to
/// roll it back next time.
pub(super) fn left_as_it_is(t: &Tracked, cluster: &str, previous: &str) -> String {
    let Some(followed) = &t.codedeploy else {
        return format!(
            "The service still points at {}; pass --enable-rollback to return to {} automatically.",
            short_revision(&t.watch.task_definition),
            short_revision(previous)
        );
    };
    let id = &followed.deployment_id;
    match followed.latest.as_ref().map(|d| d.status.as_str()) {
        Some(status) if !ACTIVE_STATUSES.contains(&status) => format!(
            "CodeDeploy deployment {id} ended {status} without a rollback; {}",
            which_task_set_serves(id, cluster, &t.name)
        ),
        _ => format!(
            "CodeDeploy deployment {id} of {} is left going; pass --enable-rollback to have CodeDeploy stop it and return to {}. Check it with: {}",
            short_revision(&t.watch.task_definition),
            short_revision(previous),
            command_line(&["aws", "deploy", "get-deployment", "--deployment-id", id])
        ),
    }
}

/// How to see which task set serves traffic after a CodeDeploy deployment
/// ended without a rollback.
pub(super) fn which_task_set_serves(deployment_id: &str, cluster: &str, service: &str) -> String {
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

impl Run<'_> {
    /// The update (or CodeDeploy deployment) of `name`, unless it failed
    /// after others succeeded: then those are dealt with first.
    pub(super) async fn midway<T>(
        &self,
        name: &str,
        result: Result<T, Error>,
        updated: &[Updated],
        report: &mut Report,
    ) -> Result<T, Error> {
        match result {
            Err(error) if !updated.is_empty() => Err(self
                .update_failed_midway(name, error, updated, report)
                .await),
            result => result,
        }
    }
    /// An update failed after others succeeded: those services already
    /// point at their new revisions. Rolls them back when asked.
    pub(super) async fn update_failed_midway(
        &self,
        name: &str,
        error: Error,
        updated: &[Updated],
        report: &mut Report,
    ) -> Error {
        let mut message = vec![format!("Updating service '{name}' failed: {error}")];
        let names: Vec<&str> = updated.iter().map(|u| u.name.as_str()).collect();
        if self.d.config.enable_rollback {
            message.extend(self.roll_back(updated, &[], &[], report).await);
        } else {
            message.push(format!(
                "Already updated: {}; pass --enable-rollback to return them automatically.",
                names.join(", ")
            ));
        }
        Error::aws(message.join("\n"))
    }
    /// Rolls every updated service back (except those ECS already rolled
    /// back, and those that ran no other revision) and waits for those
    /// rollbacks, with a deadline of their own: ECS's own rollback
    /// (`StopServiceDeployment ROLLBACK`, which shifts traffic back) where
    /// the service deployment is followed and still going, else
    /// `UpdateService` back to the previous revision. Returns what
    /// happened, a line per service.
    pub(super) async fn roll_back(
        &self,
        updated: &[Updated],
        watched: &[Tracked],
        moved_on: &[MovedOn],
        report: &mut Report,
    ) -> Vec<String> {
        let mut lines = Vec::new();
        let mut tracked = Vec::new();
        // The rollback's own deadline, as long as the deploy's.
        let deadline = Deadline::after(self.timeout);
        for u in updated {
            let (status, line) = if let Some(m) = moved_on.iter().find(|m| m.service == u.name) {
                (m.status, m.why.to_string())
            } else if u.previous == u.new {
                (
                    RollbackStatus::NotAttempted,
                    format!(
                        "No earlier revision to roll back to: the service already ran {} before this deployment.",
                        short_revision(&u.previous)
                    ),
                )
            } else {
                self.say(
                    &u.name,
                    format!(
                        "Rolling back to {} (deadline {} s)",
                        u.previous,
                        deadline.seconds()
                    ),
                );
                let watched = watched.iter().find(|t| t.name == u.name);
                let started = match watched.and_then(|t| t.codedeploy.as_ref().map(|f| (t, f))) {
                    Some((t, followed)) => {
                        let going = followed
                            .latest
                            .as_ref()
                            .is_none_or(|d| ACTIVE_STATUSES.contains(&d.status.as_str()));
                        if going {
                            self.start_codedeploy_rollback(t, &followed.deployment_id, deadline)
                                .await
                        } else {
                            Err(NoRollback::failed(format!(
                                "CodeDeploy deployment {} already ended without rolling back, so there is no deployment in progress to stop; {}",
                                followed.deployment_id,
                                which_task_set_serves(&followed.deployment_id, self.cluster, &u.name)
                            )))
                        }
                    }
                    None => self.start_rollback(u, watched, deadline).await,
                };
                match started {
                    Ok(t) => {
                        self.d.journal.rolling_back();
                        report.service(&u.name).rollback = Some(Rollback {
                            to: u.previous.clone(),
                            status: RollbackStatus::InProgress,
                            detail: "Rollback sent; waiting for it.".into(),
                            reason: None,
                        });
                        tracked.push(t);
                        continue;
                    }
                    Err(NoRollback { status, why }) => (status, why),
                }
            };
            lines.push(self.prefixed(&u.name, &line));
            report.service(&u.name).rollback = Some(Rollback {
                to: u.previous.clone(),
                status,
                detail: line,
                reason: None,
            });
        }
        self.wait(&mut tracked, false, deadline).await;
        let mut all_completed = true;
        for t in &tracked {
            // ECS's rollback returns to what the deployment replaced; an
            // UpdateService rollback is a deployment of that revision.
            let to = if t.rolling_back {
                &t.watch.previous_task_definition
            } else {
                &t.watch.task_definition
            };
            let (status, line) = match t.ended.as_ref().expect("the wait ends every deployment") {
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
            };
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
        if !tracked.is_empty() && all_completed {
            report.result = Outcome::RolledBack;
        }
        lines
    }
    /// Starts the rollback of one service: ECS's own where its service
    /// deployment is followed and still going (and the API is not refused),
    /// else `UpdateService` back to the previous revision — unless another
    /// deployment took the service over meanwhile: that one is not ours to
    /// undo.
    async fn start_rollback(
        &self,
        u: &Updated,
        watched: Option<&Tracked>,
        deadline: Deadline,
    ) -> Result<Tracked, NoRollback> {
        let going = watched.and_then(|t| {
            let followed = t.service_deployment.as_ref()?;
            let ongoing = followed
                .latest
                .as_ref()
                .is_none_or(|d| service_deployment::is_active(&d.status));
            ongoing.then_some((t, followed.arn.as_str()))
        });
        if let Some((t, arn)) = going {
            let following = match self.stop_service_deployment(&u.name, arn, deadline).await? {
                Stopped::Sent => None,
                Stopped::EcsRollingBack(deployment) => Some(deployment),
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
            return Ok(Tracked {
                rolling_back: true,
                ..Tracked::new(
                    &u.name,
                    t.model,
                    t.watch.clone(),
                    &t.latest,
                    t.latest.clone(),
                    Some(followed),
                )
            });
        }
        self.update_back(u, deadline).await
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
        journal.sending(
            "ECS",
            format!("asking ECS to roll back service deployment {arn}"),
        );
        let stop = self.d.ecs.roll_back_service_deployment(arn);
        let error = match deadline.bound("StopServiceDeployment", stop).await {
            Ok(()) => {
                journal.changed(format!(
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
        journal.settled();
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
                Ok(Stopped::EcsRollingBack(deployment))
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
        journal.sending(
            "CodeDeploy",
            format!("stopping CodeDeploy deployment {deployment_id}"),
        );
        let stop = self.d.codedeploy.stop_and_roll_back(deployment_id);
        match deadline.bound("StopDeployment", stop).await {
            Ok(()) => {
                journal.changed(format!(
                    "stopped CodeDeploy deployment {deployment_id} with rollback"
                ));
                self.say(
                    &t.name,
                    format!("CodeDeploy stops deployment {deployment_id} and rolls it back (StopDeployment with autoRollbackEnabled)."),
                );
            }
            Err(error) => {
                journal.settled();
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
                            which_task_set_serves(deployment_id, self.cluster, &t.name)
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
