//! Deploying to services (`-n`, repeatable): check every service and its
//! deployment model, make the new revisions (one per base revision, so
//! services that share one share the new one), update them all, wait for all
//! of them in one loop (`watch`), then prune — or explain the failure and
//! roll every updated service back, each the way its model allows. One
//! service is the common case of this.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use std::cell::Cell;
use std::time::{Duration, Instant};

use super::context::Run;
use super::revision::{Base, BaseFile, Prepared, Revision};
use super::rollback::Updated;
use super::watch::{Followed, KnownStopped, Tracked};
use super::{Deadline, Deployer};
use crate::aws::codedeploy::DeploymentGroup;
use crate::aws::{in_parallel, in_parallel_stream, pace};
use crate::core::conclusion;
use crate::core::express::{self as express_mode, ExpressConfiguration};
use crate::core::model::{Model, ModelOptions};
use crate::core::report::{Outcome, Report};
use crate::core::service::Service;
use crate::core::taskdef;
use crate::core::taskdef::short_revision;
use crate::core::watch::rolling::{DoneRule, Watch};
use crate::error::{exit, Error};
use futures_util::StreamExt;

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
    Run::new(d, cluster, names, appspec)
        .deploy(names, file, report)
        .await
}

impl Plan {
    /// How the report names its deployment model.
    fn name(&self) -> String {
        match self.express {
            Some(_) => format!("{} (Express)", self.model.name()),
            None => self.model.name().to_string(),
        }
    }
}

/// What a service's update deploys: a revision (`UpdateService`, or a
/// CodeDeploy deployment), or an Express service's configuration.
#[derive(Clone)]
enum Target {
    Revision(String),
    Express(ExpressConfiguration),
}

/// What became of one service's update.
enum UpdateOutcome {
    /// Not sent: an update before it failed.
    NotSent,
    Failed(Error),
    /// Sent, rolling out `new`: the watch of its deployment (none where
    /// nothing will run), or why it cannot be watched.
    Sent {
        new: String,
        watched: Result<Option<Box<Tracked>>, Error>,
    },
}

/// What a service's update sent: an `UpdateService` (ECS's answer), or a
/// CodeDeploy deployment (its watch).
enum Sent {
    Update(Box<Service>),
    Deployment(Box<Tracked>),
}

/// One service's part of a run: what it ran, and its new revision (none
/// for `--force-new-deployment` alone, or an Express service's primary
/// container).
struct Plan {
    before: Service,
    model: Model,
    /// The bake its configuration adds to the deploy.
    bake: Duration,
    /// What an Express service's update sends.
    express: Option<ExpressConfiguration>,
    /// What its new revision is built from (none for an Express primary
    /// container).
    base: Option<String>,
    /// The deployment group of a CODE_DEPLOY service.
    codedeploy: Option<DeploymentGroup>,
    current: String,
    revision: Option<Revision>,
}

impl Run<'_> {
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

    /// Updates, waits and concludes, within `deadline` (and the rollback
    /// within one of its own).
    async fn deploy_planned(
        &self,
        plans: Vec<Plan>,
        deadline: Deadline,
        report: &mut Report,
    ) -> Result<(), Error> {
        if plans.len() > 1 {
            self.note_stopped_before().await;
        }
        let (updated, mut tracked) = self.update_all(plans, deadline, report).await?;
        self.d.out.group("Waiting for the deployment");
        // With a rollback to come, one failure is enough to stop waiting.
        self.wait(&mut tracked, self.d.config.enable_rollback, deadline)
            .await;
        self.d.out.end_group();
        self.conclude(&updated, &tracked, deadline, report).await
    }

    /// Notes the cluster's stopped tasks before any service is updated: a
    /// wait over several services may look at the cluster's stopped tasks,
    /// and these (up to an hour of any service's) are not its to describe.
    /// Best effort: none noted where ECS does not list them.
    async fn note_stopped_before(&self) {
        if let Ok(arns) = self.d.ecs.stopped_tasks_in_cluster(self.cluster).await {
            self.d.stopped.replace(KnownStopped::before(arns));
        }
    }

    /// Checks every service and works out every new revision (one per base
    /// revision) before the first write, so that a mistake stops the run
    /// with nothing changed; then registers them. What needs no call is
    /// checked first, for every service; the revisions they run are read
    /// together, and the new ones registered together.
    async fn plan(
        &self,
        names: &[String],
        file: Option<&BaseFile>,
        report: &mut Report,
    ) -> Result<Vec<Plan>, Error> {
        let mut checked = Vec::new();
        for before in self.current_services(names).await? {
            let model = self.model_of(&before)?;
            let bake = self.bake_of(&before, model)?;
            self.check_options(&before.service_name, model)?;
            checked.push((before, model, bake));
        }
        // An Express service's base is known only once its configuration
        // is read: it is read in turn, below.
        let currents = checked
            .iter()
            .filter(|(before, _, _)| !before.is_express())
            .filter_map(|(before, _, _)| before.task_definition.as_deref());
        let mut bases = self.read_bases(currents, file).await;
        let mut prepared: Vec<(String, Option<Prepared>)> = Vec::new();
        let mut plans = Vec::new();
        for (before, model, bake) in checked {
            let codedeploy = match model {
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
            let express = match before.is_express() {
                true => Some(self.plan_express(&before).await?),
                false => None,
            };
            // An Express service's primary container is its revision.
            let base = match &express {
                Some(ExpressConfiguration::PrimaryContainer(_)) => None,
                _ => Some(self.d.base_of(&current, file).to_string()),
            };
            if let Some(base) = base
                .as_ref()
                .filter(|b| !prepared.iter().any(|(p, _)| p == *b))
            {
                let read = match bases.remove(base) {
                    Some(read) => read?,
                    None => self.d.read_base(&current, file).await?,
                };
                let revision = read.map(|b| self.d.prepare(b, false)).transpose()?;
                prepared.push((base.clone(), revision));
            }
            plans.push(Plan {
                before,
                model,
                bake,
                codedeploy,
                express,
                current,
                revision: None,
                base,
            });
        }
        let to_register: Vec<&Prepared> = prepared.iter().filter_map(|(_, p)| p.as_ref()).collect();
        self.d.preflight(&to_register).await?;
        let revisions = self.register_all(prepared).await?;
        for plan in &mut plans {
            plan.revision = plan.base.as_ref().and_then(|base| revisions[base].clone());
            let service_report = report.service(&plan.before.service_name);
            service_report.previous_task_definition = Some(plan.current.clone());
            if let Some(revision) = &plan.revision {
                service_report.images = revision.images.clone();
                service_report.task_definition = revision.arn.clone();
            }
            service_report.strategy = Some(plan.name());
        }
        Ok(plans)
    }

    /// Registers the new revisions (`None` for a base with nothing to
    /// change) together, saying each in order as it comes; once one fails
    /// no further one starts, and the error names those registered anyway.
    async fn register_all(
        &self,
        prepared: Vec<(String, Option<Prepared>)>,
    ) -> Result<BTreeMap<String, Option<Revision>>, Error> {
        let count = prepared.iter().filter(|(_, p)| p.is_some()).count();
        self.say_rate_limit(
            "RegisterTaskDefinition",
            count,
            "new revisions are registered",
        );
        let failed = Cell::new(false);
        let registrations = in_parallel_stream(prepared, |(base, revision)| {
            let failed = &failed;
            async move {
                let registered = match revision {
                    None => Some(Ok(None)),
                    Some(_) if failed.get() => None,
                    Some(revision) => {
                        let registered = self.d.register(revision).await;
                        failed.set(failed.get() || registered.is_err());
                        Some(registered.map(Some))
                    }
                };
                (base, registered)
            }
        });
        let mut registrations = std::pin::pin!(registrations);
        let mut revisions = BTreeMap::new();
        let mut errors = Vec::new();
        while let Some((base, registered)) = registrations.next().await {
            match registered {
                // Not sent: a registration before it failed.
                None => {}
                Some(Ok(revision)) => {
                    if let Some(revision) = &revision {
                        self.d.say_registered(revision);
                    }
                    revisions.insert(base, revision);
                }
                Some(Err(error)) => errors.push(error),
            }
        }
        let mut errors = errors.into_iter();
        let Some(first) = errors.next() else {
            return Ok(revisions);
        };
        let unused: Vec<String> = revisions
            .values()
            .flatten()
            .filter_map(|r| r.arn.clone())
            .collect();
        let mut more: Vec<String> = errors
            .map(|e| format!("Registering failed too: {e}"))
            .collect();
        if !unused.is_empty() {
            more.push(format!(
                "Registered all the same, and used by no service: {}.",
                unused.join(", ")
            ));
        }
        Err(first.with_lines(more))
    }

    /// The bases of the new revisions of services running `currents`, each
    /// distinct one read once, all at once; a base's error is the error of
    /// the first service whose turn comes to it.
    async fn read_bases<'c>(
        &self,
        currents: impl Iterator<Item = &'c str>,
        file: Option<&BaseFile>,
    ) -> HashMap<String, Result<Option<Base>, Error>> {
        let mut distinct: Vec<(String, &str)> = Vec::new();
        for current in currents {
            let base = self.d.base_of(current, file);
            if !distinct.iter().any(|(b, _)| b == base) {
                distinct.push((base.to_string(), current));
            }
        }
        in_parallel(distinct, |(base, current)| async move {
            (base, self.d.read_base(current, file).await)
        })
        .await
        .into_iter()
        .collect()
    }

    /// How `service` is deployed; a model this tool cannot deploy stops
    /// the run before anything is registered (exit 1, like an image no
    /// container uses).
    pub(super) fn model_of(&self, service: &Service) -> Result<Model, Error> {
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
            if let Some(express) = &plan.express {
                let target = match express {
                    ExpressConfiguration::TaskDefinition(_) => {
                        ExpressConfiguration::TaskDefinition(target.clone())
                    }
                    primary => primary.clone(),
                };
                let input = express_mode::update_input(&plan.before.service_arn, &target);
                self.say(
                    name,
                    format!(
                        "Would send UpdateExpressGatewayService {}",
                        serde_json::to_string(&input).expect("JSON serialises")
                    ),
                );
                report.service(name).result = Outcome::DryRun;
                continue;
            }
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

    /// Points every service at its new revision (a CODE_DEPLOY one: creates
    /// its CodeDeploy deployment), and sets up the watch of each deployment
    /// that has tasks to roll out. The writes go out together (a few at
    /// once), and what each says is printed in the
    /// services' order as they end. Once one fails no further one starts
    /// (those already on their way end as they do), and the run ends with
    /// every service that was updated dealt with (`update_failed_midway`).
    async fn update_all(
        &self,
        plans: Vec<Plan>,
        deadline: Deadline,
        report: &mut Report,
    ) -> Result<(Vec<Updated>, Vec<Tracked>), Error> {
        let targets: Vec<Target> = plans.iter().map(|plan| self.target(plan)).collect();
        self.say_rate_limit("UpdateService", plans.len(), "services are updated");
        let failed = Cell::new(false);
        let outcomes = in_parallel_stream(plans.iter().zip(&targets), |(plan, target)| {
            let failed = &failed;
            async move {
                match failed.get() {
                    true => (UpdateOutcome::NotSent, Vec::new()),
                    false => {
                        let update = self.update_one(plan, target, deadline);
                        let (outcome, lines) = self.d.out.hold(update).await;
                        failed.set(failed.get() || matches!(outcome, UpdateOutcome::Failed(_)));
                        (outcome, lines)
                    }
                }
            }
        });
        let mut outcomes = std::pin::pin!(outcomes);
        let mut updated = Vec::new();
        let mut tracked = Vec::new();
        let mut failures = Vec::new();
        for plan in &plans {
            let (outcome, lines) = outcomes.next().await.expect("an outcome for every plan");
            self.d.out.release(lines);
            let name = plan.before.service_name.clone();
            let (new, watched) = match outcome {
                UpdateOutcome::NotSent => continue,
                UpdateOutcome::Failed(error) => {
                    failures.push((name, error));
                    continue;
                }
                UpdateOutcome::Sent { new, watched } => (new, watched),
            };
            updated.push(Updated {
                name: name.clone(),
                previous: plan.current.clone(),
                new: new.clone(),
                codedeploy: plan.codedeploy.is_some(),
            });
            report.service(&name).task_definition = Some(new);
            match watched {
                Ok(Some(t)) => {
                    report.service(&name).deployment_id = Some(t.deployment_id());
                    report.service(&name).service_deployment_arn =
                        t.service_deployment.as_ref().map(|f| f.arn.clone());
                    tracked.push(*t);
                }
                Ok(None) => report.service(&name).result = Outcome::Success,
                Err(error) => failures.push((name, error)),
            }
        }
        if failures.is_empty() {
            return Ok((updated, tracked));
        }
        if updated.is_empty() {
            let mut failures = failures.into_iter();
            let (_, first) = failures.next().expect("a failure");
            return Err(first
                .with_lines(failures.map(|(name, error)| {
                    format!("Updating service '{name}' failed too: {error}")
                })));
        }
        Err(self
            .update_failed_midway(failures, &updated, &tracked, report)
            .await)
    }

    /// One service's write and the watch of what it started.
    async fn update_one(&self, plan: &Plan, target: &Target, deadline: Deadline) -> UpdateOutcome {
        let started = Instant::now();
        let (sent, new) = match self.send(plan, target).await {
            Ok(sent) => sent,
            Err(error) => return UpdateOutcome::Failed(error),
        };
        let watched = match sent {
            Sent::Deployment(t) => Ok(Some(*t)),
            Sent::Update(reply) => self.watch_update(plan, *reply, &new, deadline).await,
        };
        UpdateOutcome::Sent {
            watched: watched.map(|t| t.map(|t| Box::new(Tracked { started, ..t }))),
            new,
        }
    }

    /// A line before a phase of `calls` calls of `operation` that ECS's
    /// rate limit makes take a while (a CI log otherwise shows nothing
    /// until the phase ends).
    fn say_rate_limit(&self, operation: &str, calls: usize, what: &str) {
        let floor = pace::floor(operation, calls);
        if floor >= Duration::from_secs(10) {
            self.d.out.say(format!(
                "{calls} {what}: ECS's rate limit for {operation} makes that take at least {} s.",
                floor.as_secs()
            ));
        }
    }

    /// What a plan's write deploys, said in the services' order before
    /// any is sent.
    fn target(&self, plan: &Plan) -> Target {
        match &plan.express {
            Some(ExpressConfiguration::TaskDefinition(_)) => Target::Express(
                ExpressConfiguration::TaskDefinition(self.revision_to_deploy(plan)),
            ),
            Some(primary) => Target::Express(primary.clone()),
            None => Target::Revision(self.revision_to_deploy(plan)),
        }
    }

    /// The write that deploys a plan — `UpdateService`, a CodeDeploy
    /// deployment, an Express service's update — and the revision it
    /// rolls out.
    async fn send(&self, plan: &Plan, target: &Target) -> Result<(Sent, String), Error> {
        match (&plan.codedeploy, target) {
            (_, Target::Express(target)) => self
                .update_express(&plan.before, target)
                .await
                .map(|(reply, new)| (Sent::Update(Box::new(reply)), new)),
            (Some(group), Target::Revision(new)) => self
                .start_codedeploy(plan, group, new)
                .await
                .map(|t| (Sent::Deployment(Box::new(t)), new.clone())),
            (None, Target::Revision(new)) => self
                .update(&plan.before.service_name, new, true, None)
                .await
                .map(|reply| (Sent::Update(Box::new(reply)), new.clone())),
        }
    }

    /// The revision a plan deploys: its new one, else (`--force-new-deployment`
    /// alone) the current one again.
    fn revision_to_deploy(&self, plan: &Plan) -> String {
        match plan.revision.as_ref().and_then(|r| r.arn.clone()) {
            Some(arn) => arn,
            None => {
                self.say(
                    &plan.before.service_name,
                    "No new image: forcing a new deployment of the current task definition.",
                );
                plan.current.clone()
            }
        }
    }

    /// A CODE_DEPLOY service's settings (`-D`, `-m`, `-M`) and its CodeDeploy
    /// deployment of `new`.
    async fn start_codedeploy(
        &self,
        plan: &Plan,
        group: &DeploymentGroup,
        new: &str,
    ) -> Result<Tracked, Error> {
        let spec = self.appspec(new, &plan.before)?;
        self.update_settings(&plan.before.service_name).await?;
        self.create_codedeploy_deployment(&plan.before, group, &spec, new, &plan.current)
            .await
    }

    /// The watch of the deployment an `UpdateService` started; none where
    /// nothing will run (desired count 0). An answer without the deployment
    /// is an error: the service was updated, but cannot be watched.
    async fn watch_update(
        &self,
        plan: &Plan,
        reply: Service,
        new: &str,
        deadline: Deadline,
    ) -> Result<Option<Tracked>, Error> {
        let name = &plan.before.service_name;
        if reply.desired_count == 0 {
            self.say(
                name,
                "Service updated; desired count is 0, so there is nothing to wait for.",
            );
            return Ok(None);
        }
        let found = match plan.express {
            Some(_) => Watch::after_update(&reply, new, &plan.current),
            None => Watch::from_update(&reply, new, &plan.current),
        };
        let Some(watch) = found else {
            return Err(Error::aws(format!(
                "ECS accepted the update of '{name}' but shows no PRIMARY deployment of {new}; check the service in the console."
            )));
        };
        let followed = self
            .find_service_deployment(name, &reply, &watch, plan.model, deadline)
            .await;
        let until = &self.d.config.wait_until;
        let early = plan.before.deployment_configuration.early_success();
        let goal = match (until, early) {
            (Some(stage), _) if followed.is_some() => format!("until it reaches {stage}"),
            (_, Some((percent, _))) if followed.is_some() => {
                format!("for it to succeed (early, at {percent}% healthy)")
            }
            _ => "for it to complete".to_string(),
        };
        self.say(
            name,
            format!(
                "Service updated: deployment {} of {} ({}). Waiting {goal} (timeout {} s)...",
                watch.deployment_id,
                short_revision(new),
                plan.model.name(),
                self.timeout.as_secs_f64()
            ),
        );
        let followed = followed.map(|arn| Followed::new(arn, None));
        Ok(Some(Tracked {
            until: until.clone(),
            ..Tracked::new(name, plan.model, watch, &plan.before, reply, followed)
        }))
    }

    /// After the wait: decides (`core::conclusion`), then carries it out —
    /// success and pruning, or the explanation of what failed and what
    /// became of each service.
    pub(super) async fn conclude(
        &self,
        updated: &[Updated],
        tracked: &[Tracked],
        deadline: Deadline,
        report: &mut Report,
    ) -> Result<(), Error> {
        let deployed = self.deployed(updated, tracked);
        let conclusion = conclusion::conclude(&deployed, self.d.config.enable_rollback);
        for (decided, t) in conclusion.services.iter().filter_map(|decided| {
            let t = tracked.iter().find(|t| t.name == decided.service)?;
            Some((decided, t))
        }) {
            let service = report.service(&t.name);
            t.record(service);
            service.result = decided.outcome.unwrap_or(service.result);
            service.reason = decided.reason.clone();
        }
        if conclusion.succeeded() {
            for t in tracked {
                if let Some(line) = after_early_success(t) {
                    self.say(&t.name, line);
                }
            }
            self.d.out.success(if self.several {
                "All service deployments successful."
            } else {
                "Service deployment successful."
            });
            report.result = Outcome::Success;
            self.prune_after_success(updated, deadline).await;
            return Ok(());
        }
        report.result = conclusion.result;
        let mut message: Vec<String> = conclusion.explanations().map(str::to_string).collect();
        message.extend(self.carry_out(&conclusion, updated, tracked, report).await);
        Err(Error::failed(message.join("\n")))
    }

    /// `--max-definitions` after a successful deploy, within the deadline,
    /// keeping what a late rollback would need.
    async fn prune_after_success(&self, updated: &[Updated], deadline: Deadline) {
        let config = self.d.config;
        let Some(keep) = config.max_definitions else {
            return;
        };
        let mut live: Vec<&str> = updated.iter().map(|u| u.new.as_str()).collect();
        let codedeploy = updated.iter().any(|u| u.codedeploy);
        if config.done_rule == DoneRule::NewTasksRunning
            || config.wait_until.is_some()
            || codedeploy
        {
            // ECS may still fail the rollout after we stopped watching, and
            // CodeDeploy rolls back to the revision it replaced: keep what a
            // rollback would need.
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

/// What goes on after a deployment that succeeded early: ECS scales the new
/// revision to all its tasks and, with `DEFERRED` cleanup, removes the old
/// ones, after the success.
fn after_early_success(t: &Tracked) -> Option<String> {
    let (percent, deferred) = t.latest.deployment_configuration.early_success()?;
    t.service_deployment.as_ref()?;
    let revision = short_revision(&t.watch.task_definition);
    let old = t
        .latest
        .deployments
        .iter()
        .filter(|d| d.task_definition != t.watch.task_definition)
        .map(|d| short_revision(&d.task_definition))
        .collect::<Vec<_>>();
    let mut line = format!(
        "ECS counts the deployment successful at {percent}% healthy: it scales {revision} to all its desired tasks in the background"
    );
    if deferred && !old.is_empty() {
        line.push_str(&format!(
            ", and the old tasks ({}) are still being removed (sourceServiceRevisionCleanup DEFERRED)",
            old.join(", ")
        ));
    }
    line.push('.');
    Some(line)
}
