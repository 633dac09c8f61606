//! Deploying to services (`-n`, repeatable): check every service and its
//! deployment model, make the new revisions (one per base revision, so
//! services that share one share the new one), update them all, wait for all
//! of them in one loop (`watch`), then prune — or explain the failure and
//! roll every updated service back, each the way its model allows. One
//! service is the common case of this.

use std::collections::BTreeMap;

use serde_json::Value;
use std::time::{Duration, Instant};

use super::revision::{BaseFile, Prepared, Revision};
use super::watch::{describe_service, Ended, Followed, Tracked};
use super::{aws_error, Deadline, Deployer};
use crate::aws::client::AwsError;
use crate::aws::codedeploy::{DeploymentGroup, ACTIVE_STATUSES};
use crate::aws::ecs::ServiceUpdate;
use crate::core::model::{configured_bake, Model, ModelOptions};
use crate::core::report::{Outcome, Report, Rollback, RollbackStatus};
use crate::core::service::Service;
use crate::core::taskdef;
use crate::core::taskdef::short_revision;
use crate::core::watch::rolling::{DoneRule, Watch};
use crate::core::watch::service_deployment::{self, ServiceDeployment};
use crate::core::watch::Failure;
use crate::error::{exit, Error};
use crate::output::safe::command_line;

/// Deploys to `names` in `cluster`; `appspec` is the `--codedeploy-appspec`
/// file, for CODE_DEPLOY services.
pub async fn deploy(
    d: &Deployer<'_>,
    cluster: &str,
    names: &[String],
    file: Option<&BaseFile>,
    appspec: Option<&Value>,
    report: &mut Report,
) -> Result<(), Error> {
    let run = Run {
        d,
        cluster,
        several: names.len() > 1,
        timeout: d.config.timeout,
        appspec,
    };
    run.deploy(names, file, report).await
}

/// One run over the services of a cluster.
pub(super) struct Run<'a> {
    pub d: &'a Deployer<'a>,
    pub cluster: &'a str,
    /// Whether lines need the service's name in front.
    pub several: bool,
    /// The deadline of each wait: `-t`, or its default plus the longest
    /// configured bake.
    pub timeout: Duration,
    /// `--codedeploy-appspec`, read.
    pub appspec: Option<&'a Value>,
}

/// A failed service that already runs another revision, so it is not
/// rolled back: why, and the rollback status that says so.
struct MovedOn {
    service: String,
    status: RollbackStatus,
    why: &'static str,
}

impl MovedOn {
    fn from_failure(service: &str, failure: &Failure) -> Option<MovedOn> {
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

/// One service's part of a run: what it ran, and its new revision (none
/// for `--force-new-deployment` alone).
struct Plan {
    before: Service,
    model: Model,
    /// The bake its configuration adds to the deploy.
    bake: Duration,
    /// The deployment group of a CODE_DEPLOY service.
    codedeploy: Option<DeploymentGroup>,
    current: String,
    revision: Option<Revision>,
}

/// A service this run updated (or, CODE_DEPLOY, created a deployment of).
struct Updated {
    name: String,
    previous: String,
    new: String,
    codedeploy: bool,
}

impl Run<'_> {
    /// A line about one service, with its name in front when there are several.
    pub(super) fn say(&self, service: &str, line: impl AsRef<str>) {
        self.d.out.say(self.prefixed(service, line.as_ref()));
    }

    pub(super) fn progress(&self, service: &str, line: impl AsRef<str>) {
        self.d.out.progress(self.prefixed(service, line.as_ref()));
    }

    pub(super) fn prefixed(&self, service: &str, line: &str) -> String {
        if self.several {
            format!("[{service}] {line}")
        } else {
            line.to_string()
        }
    }

    async fn deploy(
        &self,
        names: &[String],
        file: Option<&BaseFile>,
        report: &mut Report,
    ) -> Result<(), Error> {
        let plans = self.plan(names, file, report).await?;
        if self.d.config.dry_run {
            self.preview(&plans, report).await;
            return Ok(());
        }
        let run = Run {
            timeout: self.deadline_for(
                plans
                    .iter()
                    .map(|p| (p.before.service_name.as_str(), p.bake)),
            ),
            ..*self
        };
        let deadline = Deadline::after(run.timeout);
        run.deploy_planned(plans, deadline, report).await
    }

    /// The deadline a wait needs, from each service's configured bake: `-t` as given (with a warning where it is
    /// shorter than a configured bake), else the default plus the longest
    /// configured bake, so that a blue/green bake is not a timeout.
    pub(super) fn deadline_for<'a>(
        &self,
        bakes: impl Iterator<Item = (&'a str, Duration)>,
    ) -> Duration {
        let config = self.d.config;
        let bakes: Vec<(&str, Duration)> = bakes.collect();
        if config.timeout_given {
            for (name, bake) in bakes.iter().filter(|(_, bake)| *bake > config.timeout) {
                self.say(name, format!(
                    "warning: -t {} s is shorter than the configured bake of {} s: the wait will end before ECS finishes baking.",
                    config.timeout.as_secs_f64(),
                    bake.as_secs()
                ));
            }
            return config.timeout;
        }
        config.timeout
            + bakes
                .iter()
                .map(|(_, bake)| *bake)
                .max()
                .unwrap_or_default()
    }

    /// Updates, waits and concludes, within `deadline` (and the rollback
    /// within one of its own).
    async fn deploy_planned(
        &self,
        plans: Vec<Plan>,
        deadline: Deadline,
        report: &mut Report,
    ) -> Result<(), Error> {
        let (updated, mut tracked) = self.update_all(plans, deadline, report).await?;
        self.d.out.group("Waiting for the deployment");
        // With a rollback to come, one failure is enough to stop waiting.
        self.wait(&mut tracked, self.d.config.enable_rollback, deadline)
            .await;
        self.d.out.end_group();
        self.conclude(&updated, &tracked, deadline, report).await
    }

    /// Checks every service and works out every new revision (one per base
    /// revision) before the first write, so that a mistake stops the run
    /// with nothing changed; then registers them.
    async fn plan(
        &self,
        names: &[String],
        file: Option<&BaseFile>,
        report: &mut Report,
    ) -> Result<Vec<Plan>, Error> {
        let befores = self.current_services(names).await?;
        let mut prepared: Vec<(String, Option<Prepared>)> = Vec::new();
        let mut bases = Vec::new();
        for before in befores {
            let model = self.model_of(&before)?;
            let bake = self.bake_of(&before, model)?;
            self.check_options(&before.service_name, model)?;
            let group = match model {
                Model::CodeDeploy => {
                    let group = self.deployment_group(&before).await?;
                    // Whatever can be checked of the AppSpec, before any write.
                    self.appspec(&new_revision_of(&before), &before)?;
                    Some(group)
                }
                _ => None,
            };
            let current = before.task_definition.clone().ok_or_else(|| {
                Error::aws(format!(
                    "service '{}' has no task definition (is it managed by CodeDeploy or an external controller?); nothing was registered.",
                    before.service_name
                ))
            })?;
            self.say(
                &before.service_name,
                format!("Current task definition: {current}"),
            );
            let base = self.d.base_of(&current, file).to_string();
            if !prepared.iter().any(|(b, _)| *b == base) {
                let revision = self.d.prepare_revision(&current, file, false).await?;
                prepared.push((base.clone(), revision));
            }
            bases.push((before, model, bake, group, current, base));
        }
        let mut revisions: BTreeMap<String, Option<Revision>> = BTreeMap::new();
        for (base, revision) in prepared {
            let registered = match revision {
                Some(revision) => Some(self.d.register(revision).await?),
                None => None,
            };
            revisions.insert(base, registered);
        }
        Ok(bases
            .into_iter()
            .map(|(before, model, bake, codedeploy, current, base)| {
                let revision = revisions[&base].clone();
                let service_report = report.service(&before.service_name);
                service_report.previous_task_definition = Some(current.clone());
                if let Some(revision) = &revision {
                    service_report.images = revision.images.clone();
                    service_report.task_definition = revision.arn.clone();
                }
                service_report.strategy = Some(model.name().to_string());
                Plan {
                    before,
                    model,
                    bake,
                    codedeploy,
                    current,
                    revision,
                }
            })
            .collect())
    }

    /// How `service` is deployed; a model this tool cannot deploy stops
    /// the run before anything is registered (exit 1, like an image no
    /// container uses).
    fn model_of(&self, service: &Service) -> Result<Model, Error> {
        let name = &service.service_name;
        let refuse = |why: String| {
            Err(Error::failed(format!(
                "service '{name}' {why}; nothing was registered."
            )))
        };
        match Model::of(service) {
            Err(unknown) => refuse(format!("uses {unknown}")),
            Ok(Model::External) => refuse(
                "is deployed by an EXTERNAL controller (task sets that another tool manages), which ecs-deploy does not deploy".into(),
            ),
            Ok(model) => Ok(model),
        }
    }

    /// Refuses, before any write, options that would do nothing for a
    /// service of `model` (exit 3).
    fn check_options(&self, service: &str, model: Model) -> Result<(), Error> {
        let config = self.d.config;
        let codedeploy_option = match (&config.codedeploy_appspec, &config.codedeploy_group) {
            (Some(_), _) => Some("--codedeploy-appspec"),
            (None, Some(_)) => Some("--codedeploy-application"),
            (None, None) => None,
        };
        let options = ModelOptions {
            wait_until: config.wait_until.as_deref(),
            codedeploy_option,
            skip_deployments_check: config.done_rule == DoneRule::NewTasksRunning,
        };
        match model.refuses(options) {
            Some(why) => Err(Error::usage(
                exit::USAGE,
                format!("service '{service}': {why}; nothing was registered."),
            )),
            None => Ok(()),
        }
    }

    /// The bake `service`'s configuration adds to a deploy; a configuration
    /// ECS would not allow stops the run before any write.
    pub(super) fn bake_of(&self, service: &Service, model: Model) -> Result<Duration, Error> {
        configured_bake(model, &service.deployment_configuration).map_err(|why| {
            Error::aws(format!(
                "ECS describes service '{}' with {why}, so the time to wait for it cannot be told; nothing was changed.",
                service.service_name
            ))
        })
    }

    /// `--dry-run`: the `UpdateService` each service would get, and what
    /// `--max-definitions` would deregister.
    async fn preview(&self, plans: &[Plan], report: &mut Report) {
        let config = self.d.config;
        for plan in plans {
            let target = match plan.revision {
                Some(_) => new_revision_of(&plan.before),
                None => plan.current.clone(),
            };
            let name = &plan.before.service_name;
            match &plan.codedeploy {
                Some(group) => {
                    if self.changes_settings() {
                        self.say(
                            name,
                            format!(
                                "Would send UpdateService {}",
                                serde_json::to_string(&self.update_request(name, None, true))
                                    .expect("JSON serialises")
                            ),
                        );
                    }
                    let spec = self
                        .appspec(&target, &plan.before)
                        .expect("checked when planned");
                    self.say(
                        name,
                        format!(
                            "Would create a CodeDeploy deployment ({}/{}) with this AppSpec:\n{}",
                            group.application,
                            group.name,
                            serde_json::to_string_pretty(&spec).expect("JSON serialises")
                        ),
                    );
                }
                None => {
                    let request = self.update_request(name, Some(&target), true);
                    self.say(
                        name,
                        format!(
                            "Would send UpdateService {}",
                            serde_json::to_string(&request).expect("JSON serialises")
                        ),
                    );
                }
            }
            report.service(name).result = Outcome::DryRun;
        }
        if let Some(keep) = config.max_definitions {
            // Services that would get no new revision keep running theirs;
            // with --skip-deployments-check the real run also keeps the
            // previous revisions a late rollback would need.
            let keeps_previous = config.done_rule == DoneRule::NewTasksRunning;
            let live: Vec<&str> = plans
                .iter()
                .filter(|plan| plan.revision.is_none() || keeps_previous)
                .map(|plan| plan.current.as_str())
                .collect();
            for family in families(plans.iter().map(|plan| plan.current.as_str())) {
                let planned = plans.iter().any(|plan| {
                    plan.revision.is_some() && taskdef::family_of(&plan.current) == family
                });
                self.d.prune(&family, keep, &live, planned).await;
            }
        }
        report.result = Outcome::DryRun;
    }

    /// Points every service at its new revision, and sets up the watch of
    /// each deployment that has tasks to roll out.
    async fn update_all(
        &self,
        plans: Vec<Plan>,
        deadline: Deadline,
        report: &mut Report,
    ) -> Result<(Vec<Updated>, Vec<Tracked>), Error> {
        let config = self.d.config;
        let mut updated = Vec::new();
        let mut tracked = Vec::new();
        for Plan {
            before,
            model,
            codedeploy,
            bake: _,
            current,
            revision,
        } in plans
        {
            let name = before.service_name.clone();
            let new = match revision.and_then(|r| r.arn) {
                Some(arn) => arn,
                None => {
                    self.say(
                        &name,
                        "No new image: forcing a new deployment of the current task definition.",
                    );
                    current.clone()
                }
            };
            let started = Instant::now();
            if let Some(group) = codedeploy {
                let created = async {
                    let spec = self.appspec(&new, &before)?;
                    self.update_settings(&name).await?;
                    self.create_codedeploy_deployment(&before, &group, &spec, &new, &current)
                        .await
                }
                .await;
                let t = self.midway(&name, created, &updated, report).await?;
                updated.push(Updated {
                    name: name.clone(),
                    previous: current.clone(),
                    new: new.clone(),
                    codedeploy: true,
                });
                let service_report = report.service(&name);
                service_report.task_definition = Some(new.clone());
                service_report.deployment_id =
                    t.codedeploy.as_ref().map(|f| f.deployment_id.clone());
                tracked.push(Tracked { started, ..t });
                continue;
            }
            let update = self.update(&name, &new, true, None).await;
            let reply = self.midway(&name, update, &updated, report).await?;
            updated.push(Updated {
                name: name.clone(),
                previous: current.clone(),
                new: new.clone(),
                codedeploy: false,
            });
            report.service(&name).task_definition = Some(new.clone());
            if reply.desired_count == 0 {
                // Nothing will run, so there is no rollout to wait for.
                self.say(
                    &name,
                    "Service updated; desired count is 0, so there is nothing to wait for.",
                );
                report.service(&name).result = Outcome::Success;
                continue;
            }
            let Some(watch) = Watch::from_update(&reply, &new, &current) else {
                let error = Error::aws(format!(
                    "ECS accepted the update of '{name}' but shows no PRIMARY deployment of {new}; check the service in the console."
                ));
                return Err(self
                    .update_failed_midway(&name, error, &updated, report)
                    .await);
            };
            let followed = self
                .find_service_deployment(&name, &reply, &watch, model, deadline)
                .await;
            let goal = match &config.wait_until {
                Some(stage) if followed.is_some() => format!("until it reaches {stage}"),
                _ => "for it to complete".to_string(),
            };
            self.say(
                &name,
                format!(
                    "Service updated: deployment {} of {} ({}). Waiting {goal} (timeout {} s)...",
                    watch.deployment_id,
                    short_revision(&new),
                    model.name(),
                    self.timeout.as_secs_f64()
                ),
            );
            let service_report = report.service(&name);
            service_report.deployment_id = Some(watch.deployment_id.clone());
            service_report.service_deployment_arn = followed.clone();
            let followed = followed.map(|arn| Followed::new(arn, None));
            tracked.push(Tracked {
                until: config.wait_until.clone(),
                started,
                ..Tracked::new(&name, model, watch, &before, reply, followed)
            });
        }
        Ok((updated, tracked))
    }

    /// After the wait: success (and pruning), or the explanation of what
    /// failed and what became of the rollback.
    async fn conclude(
        &self,
        updated: &[Updated],
        tracked: &[Tracked],
        deadline: Deadline,
        report: &mut Report,
    ) -> Result<(), Error> {
        let config = self.d.config;
        for t in tracked {
            let service = report.service(&t.name);
            t.record(service);
            match &t.ended {
                Some(Ended::Done) => service.result = Outcome::Success,
                None => {
                    // The wait stopped at another service's failure.
                    service.result = Outcome::Failed;
                    service.reason = Some(format!(
                        "Not waited for to the end: another service failed and all are rolled back. Its deployment {} was {}.",
                        t.watch.deployment_id,
                        t.state()
                    ));
                }
                Some(Ended::Failed(failure, stopped)) => {
                    service.result = Outcome::of(failure);
                    service.reason = Some(explain(&t.name, &t.watch, failure, stopped));
                }
            }
        }
        let failed: Vec<&Tracked> = tracked
            .iter()
            .filter(|t| matches!(t.ended, Some(Ended::Failed(..))))
            .collect();
        if failed.is_empty() {
            self.d.out.success(if self.several {
                "All service deployments successful."
            } else {
                "Service deployment successful."
            });
            report.result = Outcome::Success;
            if let Some(keep) = config.max_definitions {
                let mut live: Vec<&str> = updated.iter().map(|u| u.new.as_str()).collect();
                let codedeploy = updated.iter().any(|u| u.codedeploy);
                if config.done_rule == DoneRule::NewTasksRunning
                    || config.wait_until.is_some()
                    || codedeploy
                {
                    // ECS may still fail the rollout after we stopped
                    // watching, and CodeDeploy rolls back to the revision it
                    // replaced: keep what a rollback would need.
                    live.extend(updated.iter().map(|u| u.previous.as_str()));
                }
                let prune_all = async {
                    for family in families(updated.iter().map(|u| u.new.as_str())) {
                        self.d.prune(&family, keep, &live, false).await;
                    }
                };
                // The deadline bounds everything after the update.
                if tokio::time::timeout_at(deadline.hard_limit(), prune_all)
                    .await
                    .is_err()
                {
                    self.d.out.say(format!(
                        "warning: --max-definitions stopped at the {} s deadline; some old revisions are still registered.",
                        deadline.seconds()
                    ));
                }
            }
            return Ok(());
        }
        let mut message: Vec<String> = failed
            .iter()
            .map(|t| match &t.ended {
                Some(Ended::Failed(failure, stopped)) => {
                    explain(&t.name, &t.watch, failure, stopped)
                }
                _ => unreachable!("filtered to failures"),
            })
            .collect();
        report.result = report.service(&failed[0].name).result;
        let moved_on: Vec<MovedOn> = failed
            .iter()
            .filter_map(|t| match &t.ended {
                Some(Ended::Failed(failure, _)) => MovedOn::from_failure(&t.name, failure),
                _ => None,
            })
            .collect();
        if config.enable_rollback {
            let outcome = self.roll_back(updated, tracked, &moved_on, report).await;
            message.extend(outcome);
        } else {
            for t in &failed {
                let previous = &updated
                    .iter()
                    .find(|u| u.name == t.name)
                    .expect("a watched service was updated")
                    .previous;
                let (status, line) = match moved_on.iter().find(|m| m.service == t.name) {
                    Some(m) => (m.status, m.why.to_string()),
                    None => (
                        RollbackStatus::NotAttempted,
                        left_as_it_is(t, self.cluster, previous),
                    ),
                };
                message.push(self.prefixed(&t.name, &line));
                report.service(&t.name).rollback = Some(Rollback {
                    to: previous.clone(),
                    status,
                    detail: line,
                    reason: None,
                });
            }
        }
        // Why ECS rolled back, where it said.
        for t in &failed {
            if let Some(Ended::Failed(
                Failure::ServiceDeployment {
                    rollback_reason: Some(reason),
                    ..
                },
                _,
            )) = &t.ended
            {
                if let Some(rollback) = &mut report.service(&t.name).rollback {
                    rollback.reason = Some(reason.clone());
                }
            }
        }
        Err(Error::failed(message.join("\n")))
    }

    /// The update (or CodeDeploy deployment) of `name`, unless it failed
    /// after others succeeded: then those are dealt with first.
    async fn midway<T>(
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
    async fn update_failed_midway(
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

    /// The services as they are before the deploy; a missing or deleted one
    /// stops the run before anything is registered.
    pub(super) async fn current_services(&self, names: &[String]) -> Result<Vec<Service>, Error> {
        let region = &self.d.region;
        let found = self
            .d
            .ecs
            .describe_services(self.cluster, names)
            .await
            .map_err(|e| match e.code() {
                Some("ClusterNotFoundException") => Error::aws(format!(
                    "cluster '{}' was not found in {region}; nothing was registered.",
                    self.cluster
                )),
                _ => aws_error(e),
            })?;
        let mut services = Vec::new();
        for name in names {
            match found.find(name) {
                Some(service) if service.status == "ACTIVE" => services.push(service.clone()),
                Some(service) => {
                    return Err(Error::aws(format!(
                        "service '{name}' in cluster '{}' is {} (deleted); nothing was registered.",
                        self.cluster, service.status
                    )))
                }
                None => {
                    let cluster = self.cluster;
                    return Err(Error::aws(match found.unusual_failure(name) {
                        Some(reason) => format!(
                            "ECS could not describe service '{name}' in cluster '{cluster}' ({region}): {reason}; nothing was registered."
                        ),
                        None => format!(
                            "service '{name}' was not found in cluster '{cluster}' ({region}); nothing was registered."
                        ),
                    }));
                }
            }
        }
        Ok(services)
    }

    /// The `UpdateService` request; the deployment settings from the flags go
    /// with the deploy itself, not with a rollback.
    fn update_request(
        &self,
        service: &str,
        task_definition: Option<&str>,
        with_settings: bool,
    ) -> serde_json::Value {
        let config = self.d.config;
        let setting = |value: Option<u32>| value.filter(|_| with_settings);
        ServiceUpdate {
            cluster: self.cluster,
            service,
            task_definition,
            force_new_deployment: with_settings
                && task_definition.is_some()
                && config.force_new_deployment,
            desired_count: setting(config.desired_count),
            minimum_healthy_percent: setting(config.minimum_healthy_percent),
            maximum_percent: setting(config.maximum_percent),
        }
        .to_input()
    }

    /// Whether the flags change a service's settings (`-D`, `-m`, `-M`).
    fn changes_settings(&self) -> bool {
        let config = self.d.config;
        config.desired_count.is_some()
            || config.minimum_healthy_percent.is_some()
            || config.maximum_percent.is_some()
    }

    /// `-D`, `-m`, `-M` for a CODE_DEPLOY service, whose revision only
    /// CodeDeploy may change: `UpdateService` with the settings alone (which
    /// ECS allows), before the CodeDeploy deployment, so that its
    /// replacement task set starts with the count asked for.
    async fn update_settings(&self, service: &str) -> Result<(), Error> {
        if !self.changes_settings() {
            return Ok(());
        }
        let request = self.update_request(service, None, true);
        let journal = self.d.journal;
        journal.sending(
            "ECS",
            format!("changing the settings of service '{service}'"),
        );
        match self.d.ecs.update_service(&request).await {
            Ok(_) => {
                journal.changed(format!("changed the settings of service '{service}'"));
                self.say(service, "Service settings updated (-D, -m, -M).");
                Ok(())
            }
            Err(e) => {
                journal.settled();
                Err(aws_error(e))
            }
        }
    }

    /// Points `service` at `task_definition`. When the answer is lost but
    /// ECS may have acted, looks: a service that points at the revision is
    /// updated, whatever became of the answer. `deadline` bounds a rollback.
    async fn update(
        &self,
        service: &str,
        task_definition: &str,
        with_settings: bool,
        deadline: Option<Deadline>,
    ) -> Result<Service, Error> {
        let request = self.update_request(service, Some(task_definition), with_settings);
        let revision = short_revision(task_definition);
        let journal = self.d.journal;
        journal.sending("ECS", format!("pointing service '{service}' at {revision}"));
        let sent = self.d.ecs.update_service(&request);
        let result = match deadline {
            Some(deadline) => deadline.bound("UpdateService", sent).await,
            None => sent.await,
        };
        let reply = match result {
            Ok(reply) => reply,
            Err(e) if e.may_have_acted() => match self.look_after_lost_update(service).await {
                Some(now) if now.task_definition.as_deref() == Some(task_definition) => {
                    self.say(service, format!(
                        "UpdateService's answer was lost ({e}), but ECS shows the service on {revision}: going on."
                    ));
                    now
                }
                seen => {
                    journal.settled();
                    let now = seen
                        .and_then(|s| s.task_definition)
                        .map_or("an unknown revision".to_string(), |td| {
                            short_revision(&td).to_string()
                        });
                    return Err(Error::aws(format!(
                        "{e}. The request may have reached ECS; the service is now seen on {now}. Check it with: {}",
                        describe_service(self.cluster, service)
                    )));
                }
            },
            Err(e) => {
                journal.settled();
                return Err(aws_error(e));
            }
        };
        journal.changed(format!("service '{service}' points at {revision}"));
        Ok(reply)
    }

    /// The service as ECS describes it now, if it can be read.
    async fn look_after_lost_update(&self, service: &str) -> Option<Service> {
        let names = [service.to_string()];
        let described = self.d.ecs.describe_services(self.cluster, &names).await;
        described.ok()?.find(service).cloned()
    }

    /// Rolls every updated service back (except those ECS already rolled
    /// back, and those that ran no other revision) and waits for those
    /// rollbacks, with a deadline of their own: ECS's own rollback
    /// (`StopServiceDeployment ROLLBACK`, which shifts traffic back) where
    /// the service deployment is followed and still going, else
    /// `UpdateService` back to the previous revision. Returns what
    /// happened, a line per service.
    async fn roll_back(
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

/// The explanation of one failed deployment, in one readable block.
fn explain(service: &str, watch: &Watch, failure: &Failure, stopped: &[String]) -> String {
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

/// What a dry run, or a check before the revision exists, calls the
/// revision this run registers for `service`.
fn new_revision_of(service: &Service) -> String {
    format!(
        "<the new revision of {}>",
        service
            .task_definition
            .as_deref()
            .map_or("the service's family", taskdef::family_of)
    )
}

/// The distinct families of some task definitions.
fn families<'a>(task_definitions: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut families: Vec<String> = task_definitions
        .map(|td| taskdef::family_of(td).to_string())
        .collect();
    families.sort();
    families.dedup();
    families
}

/// What a failed deployment that is not rolled back leaves behind, and how to
/// roll it back next time.
fn left_as_it_is(t: &Tracked, cluster: &str, previous: &str) -> String {
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
