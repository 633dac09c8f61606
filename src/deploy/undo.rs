//! `--rollback-deployment`: undo each service's last deployment, whoever
//! started it. A deployment paused at a PAUSE hook is answered `ROLLBACK`; a
//! deployment in progress is stopped with ECS's (or CodeDeploy's) own
//! rollback; with nothing in progress, the service goes back to the revision
//! its last successful deployment replaced. Every service's way back is
//! found and said before anything is sent (`--dry-run` stops there); then
//! the rollbacks are sent and waited for like those of a failed deploy.

use super::context::Run;
use super::elsewhere::{is_going, Found};
use super::rollback::Updated;
use super::watch::Tracked;
use super::Deployer;
use crate::core::conclusion::{Conclusion, Next, ServiceConclusion, Undo};
use crate::core::model::Model;
use crate::core::report::{Outcome, Report};
use crate::core::service::Service;
use crate::core::taskdef::{self, short_revision};
use crate::error::Error;

/// One service's way back.
struct WayBack {
    updated: Updated,
    /// The deployment being undone, where one is followed.
    watched: Option<Tracked>,
    undo: Undo,
    /// Why that revision, and that way.
    why: String,
}

/// Undoes the last deployment of each of `names`, then waits.
pub async fn roll_back_last(
    d: &Deployer<'_>,
    cluster: &str,
    names: &[String],
    report: &mut Report,
) -> Result<(), Error> {
    let run = Run::new(d, cluster, names, None);
    let mut ways = Vec::new();
    let mut bakes = Vec::new();
    for service in run.current_services(names).await? {
        let model = run.model_of(&service)?;
        bakes.push((service.service_name.clone(), run.bake_of(&service, model)?));
        ways.push(run.way_back(service, model).await?);
    }
    for way in &ways {
        let u = &way.updated;
        run.say(
            &u.name,
            format!(
                "The way back: {} to {} ({}).",
                short_revision(&u.new),
                short_revision(&u.previous),
                way.why
            ),
        );
        let service = report.service(&u.name);
        service.previous_task_definition = Some(u.new.clone());
        service.task_definition = Some(u.previous.clone());
    }
    if d.config.dry_run {
        d.out.say("Dry run: nothing was sent.");
        report.result = Outcome::DryRun;
        for way in &ways {
            report.service(&way.updated.name).result = Outcome::DryRun;
        }
        return Ok(());
    }
    // What is left may include the whole bake of ECS's rollback.
    let run = Run {
        timeout: run.deadline_for(bakes.iter().map(|(name, bake)| (name.as_str(), *bake))),
        ..run
    };
    let conclusion = Conclusion {
        result: Outcome::Failed,
        services: ways
            .iter()
            .map(|way| ServiceConclusion {
                service: way.updated.name.clone(),
                outcome: None,
                reason: None,
                next: Next::RollBack {
                    to: way.updated.previous.clone(),
                    undo: way.undo.clone(),
                },
                ecs_rollback_reason: None,
            })
            .collect(),
    };
    let mut updated = Vec::new();
    let mut watched = Vec::new();
    for way in ways {
        updated.push(way.updated);
        watched.extend(way.watched);
    }
    let lines = run.carry_out(&conclusion, &updated, &watched, report).await;
    if report.result == Outcome::RolledBack {
        for line in lines {
            d.out.say(line);
        }
        d.out.success(if run.several {
            "Service deployments rolled back."
        } else {
            "Service deployment rolled back."
        });
        return Ok(());
    }
    report.result = Outcome::Failed;
    Err(Error::failed(lines.join("\n")))
}

impl Run<'_> {
    /// How `service`'s last deployment is undone, found before anything is
    /// sent.
    async fn way_back(&self, service: Service, model: Model) -> Result<WayBack, Error> {
        let name = service.service_name.clone();
        let current = service.task_definition.clone().unwrap_or_default();
        let updated = |previous: String, codedeploy| Updated {
            name: name.clone(),
            previous,
            new: current.clone(),
            codedeploy,
        };
        if model == Model::CodeDeploy {
            return match self.running_now(service, model).await? {
                Found::Deployment { tracked, replaced } if tracked.undo() != Undo::Revision => {
                    let undo = tracked.undo();
                    let Undo::CodeDeploy { id } = &undo else {
                        return Err(self.no_way_back(&name, "its last CodeDeploy deployment already ended without rolling back"));
                    };
                    Ok(WayBack {
                        why: format!("CodeDeploy stops deployment {id} and rolls it back"),
                        updated: updated(replaced, true),
                        watched: Some(*tracked),
                        undo,
                    })
                }
                _ => Err(self.no_way_back(
                    &name,
                    "it is deployed by CodeDeploy and no deployment is in progress; deploy the revision to go back to instead",
                )),
            };
        }
        if let Some(deployment) = self.newest_service_deployment(&service).await? {
            let (_, source) = self.revisions_of(&deployment).await;
            let arn = deployment.service_deployment_arn.clone();
            let hook = deployment.awaiting_hook().map(|h| h.hook_id.clone());
            let going = is_going(&deployment.status);
            if hook.is_some() || going {
                let Found::Deployment { tracked, replaced } =
                    self.found_in(service, model, deployment).await
                else {
                    unreachable!("a deployment that has not succeeded is one to watch");
                };
                let (undo, why) = match hook {
                    Some(hook_id) => (
                        Undo::Hook {
                            arn: arn.clone(),
                            hook_id: hook_id.clone(),
                        },
                        format!("deployment {arn} waits at PAUSE hook {hook_id}, which is answered ROLLBACK"),
                    ),
                    None => (
                        Undo::ServiceDeployment { arn: arn.clone() },
                        format!("ECS rolls back deployment {arn}, which is in progress"),
                    ),
                };
                return Ok(WayBack {
                    updated: updated(source.unwrap_or(replaced), false),
                    watched: Some(*tracked),
                    undo,
                    why,
                });
            }
            if let Some((previous, successful)) = self.replaced_by_last_success(&service).await? {
                return Ok(WayBack {
                    updated: updated(previous, false),
                    watched: None,
                    undo: Undo::Revision,
                    why: format!("nothing is in progress; the revision its last successful deployment, {successful}, replaced"),
                });
            }
        } else if let Found::Deployment { tracked, replaced } =
            self.running_now(service.clone(), model).await?
        {
            // No service-deployment API: the PRIMARY deployment in progress
            // is undone by pointing the service back.
            if !replaced.is_empty() {
                return Ok(WayBack {
                    why: format!(
                        "deployment {} is in progress; the service is pointed back at what it replaced",
                        tracked.watch.deployment_id
                    ),
                    updated: updated(replaced, false),
                    watched: None,
                    undo: Undo::Revision,
                });
            }
        }
        let previous = self
            .previous_active_revision(&current)
            .await?
            .ok_or_else(|| {
                self.no_way_back(
                    &name,
                    "no earlier ACTIVE revision of its family is left to go back to",
                )
            })?;
        Ok(WayBack {
            updated: updated(previous, false),
            watched: None,
            undo: Undo::Revision,
            why: "nothing is in progress, and no successful deployment names what it replaced: the previous ACTIVE revision of the family".into(),
        })
    }

    /// The revision the newest successful service deployment replaced, and
    /// that deployment.
    async fn replaced_by_last_success(
        &self,
        service: &Service,
    ) -> Result<Option<(String, String)>, Error> {
        let listed = self
            .d
            .ecs
            .list_service_deployments_in(self.cluster, &service.service_name, &["SUCCESSFUL"])
            .await?;
        let Some(brief) = listed.into_iter().next() else {
            return Ok(None);
        };
        let described = self
            .d
            .ecs
            .describe_service_deployments(std::slice::from_ref(&brief.arn))
            .await?;
        let Some(deployment) = described
            .into_iter()
            .find(|d| d.service_deployment_arn == brief.arn)
        else {
            return Ok(None);
        };
        let (_, source) = self.revisions_of(&deployment).await;
        Ok(source.map(|previous| (previous, brief.arn)))
    }

    /// The ACTIVE revision of `current`'s family just before it.
    async fn previous_active_revision(&self, current: &str) -> Result<Option<String>, Error> {
        let family = taskdef::family_of(current);
        let active = self.d.ecs.active_revisions(family).await?;
        let position = active.iter().position(|arn| arn == current);
        Ok(match position {
            Some(i) if i > 0 => Some(active[i - 1].clone()),
            Some(_) => None,
            // The service runs a revision no longer ACTIVE: the newest is
            // the one before it.
            None => active.last().cloned(),
        })
    }

    /// The error when a service has no way back: nothing was sent.
    fn no_way_back(&self, service: &str, why: &str) -> Error {
        Error::failed(format!(
            "service '{service}' cannot be rolled back: {why}. Nothing was sent."
        ))
    }
}
