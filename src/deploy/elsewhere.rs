//! Deployments someone else started — `terraform apply`, CDK, the console,
//! a scheduled scale: `--wait-only` finds the one each service is running
//! now and watches it exactly as a deploy of ours is watched (every model,
//! progress, stopped tasks and their logs, `-t`, `--wait-until`, the
//! report), rolling it back on failure with `--enable-rollback`. Nothing is
//! written before a rollback, and nothing is registered.

use super::context::Run;
use super::rollback::Updated;
use super::watch::{Followed, FollowedCodeDeploy, Tracked};
use super::{Deadline, Deployer};
use crate::core::model::Model;
use crate::core::report::{Outcome, Report};
use crate::core::service::Service;
use crate::core::taskdef::short_revision;
use crate::core::watch::rolling::Watch;
use crate::core::watch::service_deployment::{self, ServiceDeployment};
use crate::error::Error;

/// What a service is doing, as found before anything is sent.
pub(super) enum Found {
    /// Nothing is in progress: it runs `runs`, and why that is all.
    Nothing { runs: String, why: String },
    /// A deployment (it may have failed before it was looked at: the
    /// first look judges it), and the revision it replaces.
    Deployment {
        tracked: Box<Tracked>,
        replaced: String,
    },
}

/// `--wait-only`: waits for what `names` are deploying now.
pub async fn wait_only(
    d: &Deployer<'_>,
    cluster: &str,
    names: &[String],
    report: &mut Report,
) -> Result<(), Error> {
    let run = Run::new(d, cluster, names, None);
    let mut found = Vec::new();
    let mut bakes = Vec::new();
    for service in run.current_services(names).await? {
        let model = run.model_of(&service)?;
        bakes.push((service.service_name.clone(), run.bake_of(&service, model)?));
        found.push((
            service.service_name.clone(),
            run.running_now(service, model).await?,
        ));
    }
    let run = Run {
        timeout: run.deadline_for(bakes.iter().map(|(name, bake)| (name.as_str(), *bake))),
        ..run
    };
    let deadline = Deadline::after(run.timeout);
    let mut updated = Vec::new();
    let mut tracked = Vec::new();
    for (name, found) in found {
        let service = report.service(&name);
        match found {
            Found::Nothing { runs, why } => {
                run.say(
                    &name,
                    format!(
                        "Nothing to wait for: the service runs {} ({why}).",
                        short_revision(&runs)
                    ),
                );
                service.result = Outcome::Success;
                service.task_definition = Some(runs);
            }
            Found::Deployment {
                tracked: t,
                replaced,
            } => {
                run.say(&name, run.waiting_for(&t));
                service.strategy = Some(t.model.name().to_string());
                service.task_definition = Some(t.watch.task_definition.clone());
                service.previous_task_definition = Some(replaced.clone()).filter(|r| !r.is_empty());
                service.deployment_id = Some(t.deployment_id());
                service.service_deployment_arn =
                    t.service_deployment.as_ref().map(|f| f.arn.clone());
                updated.push(Updated {
                    name: name.clone(),
                    previous: replaced,
                    new: t.watch.task_definition.clone(),
                    codedeploy: t.codedeploy.is_some(),
                });
                tracked.push(*t);
            }
        }
    }
    if tracked.is_empty() {
        report.result = Outcome::Success;
        return Ok(());
    }
    d.out.group("Waiting for the deployment");
    run.wait(&mut tracked, d.config.enable_rollback, deadline)
        .await;
    d.out.end_group();
    run.conclude(&updated, &tracked, deadline, report).await
}

impl Run<'_> {
    /// The deployment `service` is running now: for a CODE_DEPLOY service,
    /// the newest CodeDeploy deployment of its group; else its newest
    /// service deployment where the API answers, or else the PRIMARY entry
    /// of `deployments[]`.
    pub(super) async fn running_now(&self, service: Service, model: Model) -> Result<Found, Error> {
        if model == Model::CodeDeploy {
            return self.codedeploy_running_now(service).await;
        }
        match self.newest_service_deployment(&service).await? {
            Some(deployment) => Ok(self.found_in(service, model, deployment).await),
            None => Ok(self.by_deployments(service, model)),
        }
    }

    /// What `deployment`, the newest service deployment of `service`, is:
    /// nothing to wait for once it succeeded, else a deployment to watch
    /// (one that already failed is judged at the first look).
    pub(super) async fn found_in(
        &self,
        service: Service,
        model: Model,
        deployment: ServiceDeployment,
    ) -> Found {
        let runs = service.task_definition.clone().unwrap_or_default();
        if deployment.status == "SUCCESSFUL" {
            return Found::Nothing {
                runs,
                why: format!(
                    "its last deployment, {}, succeeded",
                    deployment.service_deployment_arn
                ),
            };
        }
        let (target, source) = self.revisions_of(&deployment).await;
        let target = target.unwrap_or(runs);
        let deployment_id = match service
            .deployments
            .iter()
            .find(|d| d.task_definition == target)
        {
            Some(d) => Some(d.id.clone()),
            None => self.deployment_that_ran(&service, &target).await,
        };
        let watch = Watch {
            deployment_id: deployment_id
                .or_else(|| service.primary().map(|d| d.id.clone()))
                .unwrap_or_default(),
            task_definition: target,
            previous_task_definition: source.clone().unwrap_or_default(),
        };
        let followed = Followed::new(deployment.service_deployment_arn.clone(), Some(deployment));
        Found::Deployment {
            tracked: Box::new(Tracked {
                until: self.d.config.wait_until.clone(),
                ..Tracked::new(
                    &service.service_name,
                    model,
                    watch,
                    &service,
                    service.clone(),
                    Some(followed),
                )
            }),
            replaced: source.unwrap_or_default(),
        }
    }

    /// The id (`ecs-svc/…`) of the deployment that ran `task_definition`
    /// in `service` and is gone from its `deployments[]` — a deployment
    /// that failed and was rolled back before anyone looked — as the
    /// `startedBy` of a stopped task of that revision, so that the reasons
    /// its tasks stopped can be told. Best effort: `None` where none of
    /// the first hundred stopped tasks ECS lists ran it, or ECS refuses.
    async fn deployment_that_ran(
        &self,
        service: &Service,
        task_definition: &str,
    ) -> Option<String> {
        const LOOKED_AT: usize = 100;
        let ecs = &self.d.ecs;
        let mut arns = ecs
            .stopped_tasks_of_service(self.cluster, &service.service_name)
            .await
            .ok()?;
        arns.truncate(LOOKED_AT);
        let tasks = ecs.describe_tasks(self.cluster, &arns).await.ok()?;
        tasks.iter().find_map(|task| {
            let started_by = task["startedBy"].as_str()?;
            (task["taskDefinitionArn"] == task_definition && started_by.starts_with("ecs-svc/"))
                .then(|| started_by.to_string())
        })
    }

    /// The service's newest service deployment, described; `None` where
    /// the API is refused or lists none.
    pub(super) async fn newest_service_deployment(
        &self,
        service: &Service,
    ) -> Result<Option<ServiceDeployment>, Error> {
        let arn = match &service.current_service_deployment {
            Some(arn) => arn.clone(),
            None => {
                let listed = self
                    .d
                    .ecs
                    .list_service_deployments(self.cluster, &service.service_name)
                    .await;
                match listed {
                    Ok(briefs) => match briefs.into_iter().next() {
                        Some(brief) => brief.arn,
                        None => return Ok(None),
                    },
                    Err(e) if e.is_refusal() => {
                        self.d.service_deployments_refused.set(true);
                        return Ok(None);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let described = self
            .d
            .ecs
            .describe_service_deployments(std::slice::from_ref(&arn))
            .await;
        match described {
            Ok(deployments) => Ok(deployments
                .into_iter()
                .find(|d| d.service_deployment_arn == arn)),
            Err(e) if e.is_refusal() => {
                self.d.service_deployments_refused.set(true);
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The task definitions of a service deployment's target and (first)
    /// source revisions, where `DescribeServiceRevisions` tells.
    pub(super) async fn revisions_of(
        &self,
        deployment: &ServiceDeployment,
    ) -> (Option<String>, Option<String>) {
        let target = deployment
            .target_service_revision
            .as_ref()
            .and_then(|r| r.arn.clone());
        let source = deployment
            .source_service_revisions
            .first()
            .and_then(|r| r.arn.clone());
        let arns: Vec<String> = target.iter().chain(source.iter()).cloned().collect();
        if arns.is_empty() {
            return (None, None);
        }
        let Ok(revisions) = self.d.ecs.service_revision_task_definitions(&arns).await else {
            return (None, None);
        };
        let task_definition = |arn: &Option<String>| {
            let arn = arn.as_ref()?;
            revisions
                .iter()
                .find(|(a, _)| a == arn)
                .map(|(_, td)| td.clone())
        };
        (task_definition(&target), task_definition(&source))
    }

    /// Without the service-deployment API: the PRIMARY entry of
    /// `deployments[]`, unless the service shows one deployment, finished.
    fn by_deployments(&self, service: Service, model: Model) -> Found {
        let runs = service.task_definition.clone().unwrap_or_default();
        let Some(primary) = service.primary().cloned() else {
            return Found::Nothing {
                runs,
                why: "it shows no deployment".into(),
            };
        };
        let rolling = primary.rollout_state.as_deref() == Some("IN_PROGRESS")
            || primary.rollout_state.as_deref() == Some("FAILED")
            || service.deployments.len() > 1;
        if !rolling {
            return Found::Nothing {
                runs,
                why: format!("deployment {} is its only one, completed", primary.id),
            };
        }
        let replaced = service
            .deployments
            .iter()
            .find(|d| d.id != primary.id)
            .map(|d| d.task_definition.clone())
            .unwrap_or_default();
        let watch = Watch {
            deployment_id: primary.id.clone(),
            task_definition: primary.task_definition.clone(),
            previous_task_definition: replaced.clone(),
        };
        Found::Deployment {
            tracked: Box::new(Tracked::new(
                &service.service_name,
                model,
                watch,
                &service,
                service.clone(),
                None,
            )),
            replaced,
        }
    }

    /// A CODE_DEPLOY service: the newest CodeDeploy deployment of its
    /// group, unless it succeeded.
    async fn codedeploy_running_now(&self, service: Service) -> Result<Found, Error> {
        let runs = service.task_definition.clone().unwrap_or_default();
        let group = self.deployment_group(&service).await?;
        let codedeploy = &self.d.codedeploy;
        let Some(id) = codedeploy.newest_deployment(&group).await? else {
            return Ok(Found::Nothing {
                runs,
                why: format!(
                    "CodeDeploy has no deployment of {}/{}",
                    group.application, group.name
                ),
            });
        };
        let (deployment, _) = codedeploy.deployment(&id).await?;
        if deployment.status == "Succeeded" {
            return Ok(Found::Nothing {
                runs,
                why: format!("its last CodeDeploy deployment, {id}, succeeded"),
            });
        }
        // The replacement task set, once CodeDeploy names it, is whose
        // tasks are watched; the service's revision is what it replaces.
        let watch = Watch {
            deployment_id: String::new(),
            task_definition: runs.clone(),
            previous_task_definition: runs.clone(),
        };
        let mut followed = FollowedCodeDeploy::new(id);
        followed.latest = Some(deployment);
        Ok(Found::Deployment {
            tracked: Box::new(Tracked {
                codedeploy: Some(followed),
                until: self.d.config.wait_until.clone(),
                ..Tracked::new(
                    &service.service_name,
                    Model::CodeDeploy,
                    watch,
                    &service,
                    service.clone(),
                    None,
                )
            }),
            replaced: runs,
        })
    }

    /// The line that says what is waited for.
    fn waiting_for(&self, t: &Tracked) -> String {
        let what = match (&t.codedeploy, &t.service_deployment) {
            (Some(followed), _) => format!("CodeDeploy deployment {}", followed.deployment_id),
            (None, Some(followed)) => format!("service deployment {}", followed.arn),
            (None, None) => format!("deployment {}", t.watch.deployment_id),
        };
        format!(
            "Waiting for {what} of {} ({}, started elsewhere) (timeout {} s)...",
            short_revision(&t.watch.task_definition),
            t.model.name(),
            self.timeout.as_secs_f64()
        )
    }
}

/// Whether a service deployment status is one the wait still has to see
/// end (a deployment going, or ECS's rollback of it).
pub(super) fn is_going(status: &str) -> bool {
    service_deployment::is_active(status)
        || matches!(
            status,
            "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" | "STOP_REQUESTED"
        )
}
