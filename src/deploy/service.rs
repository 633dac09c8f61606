//! Deploying to services (`-n`, repeatable): check every service, make the
//! new revisions (one per base revision, so services that share one share
//! the new one), update them all, wait for all of them in one loop (one
//! `DescribeServices` covers ten), then prune — or explain the failure and
//! roll every updated service back. One service is the common case of this.

use std::collections::BTreeMap;
use std::time::Instant;

use super::revision::{BaseFile, Prepared, Revision};
use super::{aws_error, Deadline, Deployer};
use crate::aws::ecs::ServiceUpdate;
use crate::core::service::Service;
use crate::core::taskdef;
use crate::core::taskdef::short_revision;
use crate::core::tasks::StoppedTasks;
use crate::core::watch::progress::Progress;
use crate::core::watch::rolling::{self, DoneRule, Watch};
use crate::core::watch::{Blind, Failure, Verdict};
use crate::error::Error;
use crate::output::report::{Outcome, Report, Rollback, RollbackStatus};

/// Deploys to `names` in `cluster`.
pub async fn deploy(
    d: &Deployer<'_>,
    cluster: &str,
    names: &[String],
    file: Option<&BaseFile>,
    report: &mut Report,
) -> Result<(), Error> {
    let run = Run {
        d,
        cluster,
        several: names.len() > 1,
    };
    run.deploy(names, file, report).await
}

struct Run<'a> {
    d: &'a Deployer<'a>,
    cluster: &'a str,
    /// Whether lines need the service's name in front.
    several: bool,
}

/// One service's deployment being watched.
struct Tracked {
    name: String,
    watch: Watch,
    latest: Service,
    progress: Progress,
    stopped: StoppedTasks,
    ended: Option<Ended>,
    started: Instant,
}

/// How a watched deployment ended.
#[derive(Debug, Clone)]
enum Ended {
    Done,
    /// The failure and the stopped-task explanations gathered meanwhile.
    Failed(Failure, Vec<String>),
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
            Failure::EcsRolledBack { .. } => (
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
    current: String,
    revision: Option<Revision>,
}

/// A service this run updated.
struct Updated {
    name: String,
    previous: String,
    new: String,
}

impl Run<'_> {
    /// A line about one service, with its name in front when there are several.
    fn say(&self, service: &str, line: impl AsRef<str>) {
        self.d.out.say(self.prefixed(service, line.as_ref()));
    }

    fn progress(&self, service: &str, line: impl AsRef<str>) {
        self.d.out.progress(self.prefixed(service, line.as_ref()));
    }

    fn prefixed(&self, service: &str, line: &str) -> String {
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
        let (updated, mut tracked) = self.update_all(plans, report).await?;
        let deadline = Deadline::after(self.d.config.timeout);
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
        let mut bases: Vec<(Service, String, String)> = Vec::new();
        for before in befores {
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
            // With a file, the file is every service's base: one revision.
            let base = if file.is_some() {
                String::new()
            } else {
                current.clone()
            };
            if !prepared.iter().any(|(b, _)| *b == base) {
                let revision = self.d.prepare_revision(&current, file, false).await?;
                prepared.push((base.clone(), revision));
            }
            bases.push((before, current, base));
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
            .map(|(before, current, base)| {
                let revision = revisions[&base].clone();
                let service_report = report.service(&before.service_name);
                service_report.previous_task_definition = Some(current.clone());
                if let Some(revision) = &revision {
                    service_report.images = revision.images.clone();
                    service_report.task_definition = revision.arn.clone();
                }
                Plan {
                    before,
                    current,
                    revision,
                }
            })
            .collect())
    }

    /// `--dry-run`: the `UpdateService` each service would get, and what
    /// `--max-definitions` would deregister.
    async fn preview(&self, plans: &[Plan], report: &mut Report) {
        let config = self.d.config;
        for plan in plans {
            let target = match plan.revision {
                Some(_) => format!(
                    "<the new revision of {}>",
                    taskdef::family_of(&plan.current)
                ),
                None => plan.current.clone(),
            };
            let name = &plan.before.service_name;
            let request = self.update_request(name, &target, true);
            self.say(
                name,
                format!(
                    "Would send UpdateService {}",
                    serde_json::to_string(&request).expect("JSON serialises")
                ),
            );
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
        report: &mut Report,
    ) -> Result<(Vec<Updated>, Vec<Tracked>), Error> {
        let config = self.d.config;
        let mut updated = Vec::new();
        let mut tracked = Vec::new();
        for Plan {
            before,
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
            let reply = match self.update(&name, &new, true, None).await {
                Ok(reply) => reply,
                Err(error) if updated.is_empty() => return Err(error),
                Err(error) => {
                    return Err(self
                        .update_failed_midway(&name, error, &updated, report)
                        .await)
                }
            };
            updated.push(Updated {
                name: name.clone(),
                previous: current.clone(),
                new: new.clone(),
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
            self.say(&name, format!(
                "Service updated: deployment {} of {}. Waiting for it to complete (timeout {} s)...",
                watch.deployment_id,
                short_revision(&new),
                config.timeout.as_secs_f64()
            ));
            report.service(&name).deployment_id = Some(watch.deployment_id.clone());
            tracked.push(Tracked {
                name,
                progress: Progress::new(&before),
                watch,
                latest: reply,
                stopped: StoppedTasks::default(),
                ended: None,
                started,
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
            service.duration_seconds = t.started.elapsed().as_secs_f64();
            match &t.ended {
                Some(Ended::Done) => service.result = Outcome::Success,
                None => {
                    // The wait stopped at another service's failure.
                    service.result = Outcome::Failed;
                    service.reason = Some(format!(
                        "Not waited for to the end: another service failed and all are rolled back. Its deployment {} was {}.",
                        t.watch.deployment_id,
                        t.latest
                            .deployments
                            .iter()
                            .find(|d| d.id == t.watch.deployment_id)
                            .map_or_else(|| "in an unknown state".to_string(), |d| d.counts())
                    ));
                }
                Some(Ended::Failed(failure, stopped)) => {
                    service.result = match failure {
                        Failure::TimedOut { .. } => Outcome::Timeout,
                        Failure::EcsRolledBack { .. } => Outcome::EcsRolledBack,
                        _ => Outcome::Failed,
                    };
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
                if config.done_rule == DoneRule::NewTasksRunning {
                    // ECS may still fail the rollout after we stopped
                    // watching; keep what a rollback would need.
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
            let outcome = self.roll_back(updated, &moved_on, report).await;
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
                        format!(
                            "The service still points at {}; pass --enable-rollback to return to {} automatically.",
                            short_revision(&t.watch.task_definition),
                            short_revision(previous)
                        ),
                    ),
                };
                message.push(self.prefixed(&t.name, &line));
                report.service(&t.name).rollback = Some(Rollback {
                    to: previous.clone(),
                    status,
                    detail: line,
                });
            }
        }
        Err(Error::failed(message.join("\n")))
    }

    /// An `UpdateService` failed after others succeeded: those services
    /// already point at their new revisions. Rolls them back when asked.
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
            message.extend(self.roll_back(updated, &[], report).await);
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
    async fn current_services(&self, names: &[String]) -> Result<Vec<Service>, Error> {
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
        task_definition: &str,
        with_settings: bool,
    ) -> serde_json::Value {
        let config = self.d.config;
        let setting = |value: Option<u32>| value.filter(|_| with_settings);
        ServiceUpdate {
            cluster: self.cluster,
            service,
            task_definition,
            force_new_deployment: with_settings && config.force_new_deployment,
            desired_count: setting(config.desired_count),
            minimum_healthy_percent: setting(config.minimum_healthy_percent),
            maximum_percent: setting(config.maximum_percent),
        }
        .to_input()
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
        let request = self.update_request(service, task_definition, with_settings);
        let revision = short_revision(task_definition);
        let journal = self.d.journal;
        journal.sending(format!("pointing service '{service}' at {revision}"));
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
                        "{e}. The request may have reached ECS; the service is now seen on {now}. Check it with: aws ecs describe-services --cluster {} --services {service}",
                        self.cluster
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

    /// Polls until every deployment is done, failed or out of time — or,
    /// with `stop_at_first_failure`, until one fails (so that a rollback of
    /// all need not wait for the slowest). Every call is bounded by the
    /// deadline plus its grace (`Deadline::bound`); a poll that fails (after the client's
    /// retries) is not the end of a deployment, but a wait that sees nothing
    /// until the deadline says so. Between polls the journal says where each
    /// service stands, for the message an interrupt prints.
    async fn wait(&self, tracked: &mut [Tracked], stop_at_first_failure: bool, deadline: Deadline) {
        let config = self.d.config;
        // The last answer, and the polls without one since.
        let mut last_seen = Instant::now();
        let mut blind: Option<(u32, String)> = None;
        loop {
            for t in tracked.iter_mut().filter(|t| t.ended.is_none()) {
                if let Some(line) = t.progress.counts_change(&t.latest, &t.watch) {
                    self.progress(&t.name, line);
                }
                let mut tasks_stopped = false;
                for event in t.progress.new_events(&t.latest) {
                    // ECS says so when tasks stop; failedTasks alone misses
                    // tasks that fail after another one of the deployment ran.
                    tasks_stopped |= event.contains("has stopped");
                    self.progress(&t.name, format!("event: {event}"));
                }
                let failure = match rolling::judge(&t.latest, &t.watch, config.done_rule) {
                    Verdict::Done => {
                        t.ended = Some(Ended::Done);
                        continue;
                    }
                    Verdict::Failed(failure) => Some(failure),
                    Verdict::Pending if deadline.passed() => Some(Failure::TimedOut {
                        seconds: deadline.seconds(),
                        blind: blind.as_ref().map(|(failed_polls, why)| Blind {
                            failed_polls: *failed_polls,
                            seconds: last_seen.elapsed().as_secs_f64(),
                            why: why.clone(),
                        }),
                    }),
                    Verdict::Pending => None,
                };
                // Look at stopped tasks when ECS counts new failures, and once
                // more at the end of a failed rollout so the reasons are complete.
                if t.progress.has_new_failed_tasks(&t.latest, &t.watch)
                    || tasks_stopped
                    || failure.is_some()
                {
                    self.report_stopped_tasks(t, deadline).await;
                }
                if let Some(failure) = failure {
                    t.ended = Some(Ended::Failed(failure, t.stopped.summary()));
                }
            }
            let any_failed = tracked
                .iter()
                .any(|t| matches!(t.ended, Some(Ended::Failed(..))));
            if stop_at_first_failure && any_failed {
                self.d.journal.in_progress(Vec::new());
                return;
            }
            self.d.journal.in_progress(
                tracked
                    .iter()
                    .filter(|t| t.ended.is_none())
                    .map(|t| {
                        format!(
                            "Service '{}': deployment {} of {} is still in progress in ECS ({}). Check it with: aws ecs describe-services --cluster {} --services {}",
                            t.name,
                            t.watch.deployment_id,
                            short_revision(&t.watch.task_definition),
                            t.latest
                                .deployments
                                .iter()
                                .find(|d| d.id == t.watch.deployment_id)
                                .map_or_else(|| "state unknown".to_string(), |d| d.counts()),
                            self.cluster,
                            t.name
                        )
                    })
                    .collect(),
            );
            let pending: Vec<String> = tracked
                .iter()
                .filter(|t| t.ended.is_none())
                .map(|t| t.name.clone())
                .collect();
            if pending.is_empty() {
                self.d.journal.in_progress(Vec::new());
                return;
            }
            tokio::time::sleep(self.d.poll_interval.min(deadline.remaining())).await;
            let poll = self.d.ecs.describe_services(self.cluster, &pending);
            let described = match deadline.bound("DescribeServices", poll).await {
                Ok(described) => {
                    last_seen = Instant::now();
                    blind = None;
                    described
                }
                Err(e) => {
                    self.d.out.progress(format!(
                        "could not read the service state ({e}); trying again"
                    ));
                    let failed_polls = blind.as_ref().map_or(0, |(n, _)| *n) + 1;
                    blind = Some((failed_polls, e.to_string()));
                    continue;
                }
            };
            for t in tracked.iter_mut().filter(|t| t.ended.is_none()) {
                match described.find(&t.name) {
                    Some(service) => t.latest = service.clone(),
                    // ECS answered that it has no such service (any more).
                    None => {
                        t.ended = Some(Ended::Failed(
                            Failure::ServiceInactive {
                                status: described.failure(&t.name).unwrap_or("MISSING").to_string(),
                            },
                            t.stopped.summary(),
                        ))
                    }
                }
            }
        }
    }

    /// Prints why newly stopped tasks of a deployment stopped. A failure to
    /// look them up is reported but does not end the wait.
    async fn report_stopped_tasks(&self, t: &mut Tracked, deadline: Deadline) {
        let ecs = &self.d.ecs;
        let tasks = async {
            let arns = ecs
                .stopped_tasks(self.cluster, &t.watch.deployment_id)
                .await?;
            let fresh = t.progress.unreported_tasks(arns);
            ecs.describe_tasks(self.cluster, &fresh).await
        };
        match deadline.bound("the stopped-task lookup", tasks).await {
            Ok(tasks) => {
                for line in t.stopped.add(&tasks) {
                    self.progress(&t.name, line);
                }
            }
            Err(e) => self.progress(&t.name, format!("could not read the stopped tasks: {e}")),
        }
    }

    /// Points every updated service back at its previous revision (except
    /// those ECS already rolled back, and those that ran no other revision)
    /// and waits for those rollouts, with a deadline of their own. Returns
    /// what happened, a line per service.
    async fn roll_back(
        &self,
        updated: &[Updated],
        moved_on: &[MovedOn],
        report: &mut Report,
    ) -> Vec<String> {
        let mut lines = Vec::new();
        let mut tracked = Vec::new();
        // The rollback's own deadline, as long as the deploy's.
        let deadline = Deadline::after(self.d.config.timeout);
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
                match self.start_rollback(u, deadline).await {
                    Ok(t) => {
                        self.d.journal.rolling_back();
                        report.service(&u.name).rollback = Some(Rollback {
                            to: u.previous.clone(),
                            status: RollbackStatus::InProgress,
                            detail: "Rollback sent; waiting for it.".into(),
                        });
                        tracked.push(t);
                        continue;
                    }
                    Err(why) => (RollbackStatus::Failed, why),
                }
            };
            lines.push(self.prefixed(&u.name, &line));
            report.service(&u.name).rollback = Some(Rollback {
                to: u.previous.clone(),
                status,
                detail: line,
            });
        }
        self.wait(&mut tracked, false, deadline).await;
        let mut all_completed = true;
        for t in &tracked {
            let (status, line) = match t.ended.as_ref().expect("the wait ends every deployment") {
                Ended::Done => (
                    RollbackStatus::Completed,
                    format!(
                        "Rolled back: the service runs {} again.",
                        short_revision(&t.watch.task_definition)
                    ),
                ),
                Ended::Failed(failure, _) => (
                    RollbackStatus::Failed,
                    format!(
                        "Rolled back to {}, but that rollout did not complete either: {failure}.",
                        short_revision(&t.watch.task_definition)
                    ),
                ),
            };
            all_completed &= status == RollbackStatus::Completed;
            let service = report.service(&t.name);
            if status == RollbackStatus::Completed {
                service.result = Outcome::RolledBack;
            }
            service.rollback = Some(Rollback {
                to: t.watch.task_definition.clone(),
                status,
                detail: line.clone(),
            });
            lines.push(self.prefixed(&t.name, &line));
        }
        if !tracked.is_empty() && all_completed {
            report.result = Outcome::RolledBack;
        }
        lines
    }

    async fn start_rollback(&self, u: &Updated, deadline: Deadline) -> Result<Tracked, String> {
        let described = self
            .d
            .ecs
            .describe_services(self.cluster, std::slice::from_ref(&u.name));
        let before = match deadline.bound("DescribeServices", described).await {
            Ok(described) => described
                .services
                .into_iter()
                .next()
                .ok_or("Rollback impossible: the service is gone.")?,
            Err(e) => return Err(format!("Rollback failed before it started: {e}")),
        };
        let reply = self
            .update(&u.name, &u.previous, false, Some(deadline))
            .await
            .map_err(|e| format!("Rollback to {} failed: {e}", short_revision(&u.previous)))?;
        let watch = Watch::from_update(&reply, &u.previous, &u.new).ok_or_else(|| {
            format!(
                "Rolled back to {}, but ECS shows no PRIMARY deployment of it; check the service.",
                short_revision(&u.previous)
            )
        })?;
        Ok(Tracked {
            name: u.name.clone(),
            progress: Progress::new(&before),
            watch,
            latest: reply,
            stopped: StoppedTasks::default(),
            ended: None,
            started: Instant::now(),
        })
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

/// The distinct families of some task definitions.
fn families<'a>(task_definitions: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut families: Vec<String> = task_definitions
        .map(|td| taskdef::family_of(td).to_string())
        .collect();
    families.sort();
    families.dedup();
    families
}
