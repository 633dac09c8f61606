//! Orchestration: describe → register → update → watch → clean up or roll
//! back. The decisions live in the pure modules; this one sequences the
//! calls, reports progress and turns outcomes into errors with exit codes.

use std::cell::RefCell;
use std::time::Instant;

use crate::aws::{self, client::AwsError};
use crate::cli::Config;
use crate::ecs::{Ecs, ServiceUpdate};
use crate::error::Error;
use crate::output::{Reporter, StoppedTasks};
use crate::rollout::{self, short_revision, Failure, Progress, Service, Verdict, Watch};
use crate::taskdef;

/// Runs one deploy as configured; `env` looks up environment variables.
pub async fn run(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Result<(), Error> {
    let started = Instant::now();
    let (client, region) = aws::connect("ecs", &config.aws, env, config.verbose).await?;
    let deployer = Deployer {
        ecs: Ecs::new(client),
        config,
        region,
        out: Reporter::new(started),
    };
    deployer.deploy().await
}

struct Deployer<'a> {
    ecs: Ecs,
    config: &'a Config,
    region: String,
    out: Reporter,
}

impl Deployer<'_> {
    async fn deploy(&self) -> Result<(), Error> {
        let config = self.config;
        self.out.say(format!("Using image name: {}", config.image));

        let before = self.current_service().await?;
        let current_arn = before.task_definition.clone().ok_or_else(|| {
            Error::aws(format!(
                "service '{}' has no task definition (is it managed by CodeDeploy or an external controller?); nothing was registered.",
                config.service
            ))
        })?;
        self.out
            .say(format!("Current task definition: {current_arn}"));

        let current = self
            .ecs
            .describe_task_definition(&current_arn)
            .await
            .map_err(aws_error)?;
        let mut input = taskdef::registration_input(&current.description);
        let changes = taskdef::swap_images(&mut input, &config.image)
            .map_err(|e| Error::failed(e.to_string()))?;
        for change in &changes {
            self.out.say(format!(
                "Container {}: {} -> {}",
                change.container, change.from, change.to
            ));
        }

        let registered = self
            .ecs
            .register_task_definition(&input)
            .await
            .map_err(aws_error)?;
        let new_arn = registered.arn().to_string();
        self.out.say(format!("New task definition: {new_arn}"));

        let updated = self.update(&new_arn, true).await?;
        if updated.desired_count == 0 {
            // Nothing will run, so there is no rollout to wait for.
            self.out
                .say("Service updated; desired count is 0, so there is nothing to wait for.");
            return self.succeed(&new_arn).await;
        }
        let watch = Watch::from_update(&updated, &new_arn).ok_or_else(|| {
            Error::aws(format!(
                "ECS accepted the update but shows no PRIMARY deployment of {new_arn}; check the service in the console."
            ))
        })?;
        self.out.say(format!(
            "Service updated: deployment {} of {}. Waiting for it to complete (timeout {} s)...",
            watch.deployment_id,
            short_revision(&new_arn),
            config.timeout.as_secs_f64()
        ));

        match self.watch(&before, &updated, &watch).await? {
            Outcome::Done => self.succeed(&new_arn).await,
            Outcome::Failed(failure, why) => {
                Err(self.fail(failure, why, &current_arn, &watch).await)
            }
        }
    }

    /// Reports success and, only now that nothing can roll back to them,
    /// deregisters old revisions.
    async fn succeed(&self, live: &str) -> Result<(), Error> {
        self.out.say("Service deployment successful.");
        match self.config.max_definitions {
            Some(keep) => self.prune(live, keep).await,
            None => Ok(()),
        }
    }

    /// The service as it is before the deploy; missing or deleted is an error.
    async fn current_service(&self) -> Result<Service, Error> {
        let config = self.config;
        let service = self
            .ecs
            .describe_service(&config.cluster, &config.service)
            .await
            .map_err(|e| match e.code() {
                Some("ClusterNotFoundException") => Error::aws(format!(
                    "cluster '{}' was not found in {}; nothing was registered.",
                    config.cluster, self.region
                )),
                _ => aws_error(e),
            })?;
        match service {
            Some(service) if service.status == "ACTIVE" => Ok(service),
            Some(service) => Err(Error::aws(format!(
                "service '{}' in cluster '{}' is {} (deleted); nothing was registered.",
                config.service, config.cluster, service.status
            ))),
            None => Err(Error::aws(format!(
                "service '{}' was not found in cluster '{}' ({}); nothing was registered.",
                config.service, config.cluster, self.region
            ))),
        }
    }

    /// Points the service at `task_definition`; the deployment settings from
    /// the flags go with the deploy itself, not with a rollback.
    async fn update(&self, task_definition: &str, with_settings: bool) -> Result<Service, Error> {
        let config = self.config;
        let setting = |value: Option<u32>| value.filter(|_| with_settings);
        self.ecs
            .update_service(&ServiceUpdate {
                cluster: &config.cluster,
                service: &config.service,
                task_definition,
                desired_count: setting(config.desired_count),
                minimum_healthy_percent: setting(config.minimum_healthy_percent),
                maximum_percent: setting(config.maximum_percent),
            })
            .await
            .map_err(aws_error)
    }

    /// Polls until the rollout is done, fails or runs out of time; a Ctrl-C
    /// or SIGTERM ends the wait with a word on where the service stands.
    async fn watch(
        &self,
        before: &Service,
        updated: &Service,
        watch: &Watch,
    ) -> Result<Outcome, Error> {
        let latest = RefCell::new(updated.clone());
        let poll = self.poll(before, updated, watch, &latest);
        tokio::select! {
            outcome = poll => outcome,
            signal = interrupted() => Err(Error::interrupted(format!(
                "{signal} received while waiting. Deployment {} of {} is still in progress in ECS ({}); nothing was rolled back. Check it with: aws ecs describe-services --cluster {} --services {}",
                watch.deployment_id,
                short_revision(&watch.task_definition),
                counts(&latest.borrow(), watch),
                self.config.cluster,
                self.config.service
            ))),
        }
    }

    async fn poll(
        &self,
        before: &Service,
        updated: &Service,
        watch: &Watch,
        latest: &RefCell<Service>,
    ) -> Result<Outcome, Error> {
        let config = self.config;
        let deadline = Instant::now() + config.timeout;
        let mut progress = Progress::new(before);
        let mut stopped = StoppedTasks::default();
        let mut service = updated.clone();
        loop {
            if let Some(line) = progress.counts_change(&service, watch) {
                self.out.progress(line);
            }
            for event in progress.new_events(&service) {
                self.out.progress(format!("event: {event}"));
            }
            let verdict = rollout::judge(&service, watch, config.done_rule);
            let failure = match verdict {
                Verdict::Done => return Ok(Outcome::Done),
                Verdict::Failed(failure) => Some(failure),
                Verdict::Pending if Instant::now() >= deadline => Some(Failure::TimedOut {
                    seconds: config.timeout.as_secs_f64(),
                }),
                Verdict::Pending => None,
            };
            // Look at stopped tasks when ECS counts new failures, and once
            // more at the end of a failed rollout so the reasons are complete.
            if progress.has_new_failed_tasks(&service, watch) || failure.is_some() {
                self.report_stopped_tasks(watch, &mut progress, &mut stopped)
                    .await;
            }
            if let Some(failure) = failure {
                return Ok(Outcome::Failed(failure, stopped.summary()));
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(config.poll_interval.min(remaining)).await;
            service = match self.ecs.describe_service(&config.cluster, &config.service).await {
                Ok(Some(service)) => service,
                Ok(None) => {
                    return Ok(Outcome::Failed(
                        Failure::ServiceInactive { status: "MISSING".into() },
                        stopped.summary(),
                    ))
                }
                Err(e) => {
                    return Err(Error::aws(format!(
                        "lost track of the deployment: {e}. Deployment {} may still be in progress in ECS.",
                        watch.deployment_id
                    )))
                }
            };
            latest.replace(service.clone());
        }
    }

    /// Prints why newly stopped tasks of the deployment stopped. A failure to
    /// look them up is reported but does not end the wait.
    async fn report_stopped_tasks(
        &self,
        watch: &Watch,
        progress: &mut Progress,
        stopped: &mut StoppedTasks,
    ) {
        let cluster = &self.config.cluster;
        let tasks = async {
            let arns = self
                .ecs
                .stopped_tasks(cluster, &watch.deployment_id)
                .await?;
            let fresh = progress.unreported_tasks(arns);
            self.ecs.describe_tasks(cluster, &fresh).await
        };
        match tasks.await {
            Ok(tasks) => {
                for line in stopped.add(&tasks) {
                    self.out.progress(line);
                }
            }
            Err(e) => self
                .out
                .progress(format!("could not read the stopped tasks: {e}")),
        }
    }

    /// Explains a failed rollout, rolls back when asked and sensible, and
    /// returns the error that ends the run.
    async fn fail(
        &self,
        failure: Failure,
        stopped: Vec<String>,
        previous: &str,
        watch: &Watch,
    ) -> Error {
        let config = self.config;
        let mut report = format!(
            "Deployment of {} to service '{}' failed: {failure}.",
            short_revision(&watch.task_definition),
            config.service
        );
        if !stopped.is_empty() {
            report.push_str("\nStopped tasks of the new deployment:");
            for line in &stopped {
                for (i, part) in line.lines().enumerate() {
                    report.push_str(if i == 0 { "\n  - " } else { "\n    " });
                    report.push_str(part.trim_start());
                }
            }
        }
        let rollback = if failure.ecs_rolled_back() {
            "ECS already rolled the service back, so ecs-deploy did not roll back again."
                .to_string()
        } else if config.enable_rollback {
            self.roll_back(previous).await
        } else {
            format!(
                "The service still points at {}; pass --enable-rollback to return to {} automatically.",
                short_revision(&watch.task_definition),
                short_revision(previous)
            )
        };
        report.push('\n');
        report.push_str(&rollback);
        Error::failed(report)
    }

    /// Points the service back at `previous` and waits for that rollout,
    /// with a deadline of its own. Returns what happened, in words.
    async fn roll_back(&self, previous: &str) -> String {
        self.out.say(format!("Rolling back to {previous}"));
        let before = match self
            .ecs
            .describe_service(&self.config.cluster, &self.config.service)
            .await
        {
            Ok(Some(service)) => service,
            Ok(None) => return "Rollback impossible: the service is gone.".into(),
            Err(e) => return format!("Rollback failed before it started: {e}"),
        };
        let updated = match self.update(previous, false).await {
            Ok(service) => service,
            Err(e) => return format!("Rollback to {} failed: {e}", short_revision(previous)),
        };
        let Some(watch) = Watch::from_update(&updated, previous) else {
            return format!(
                "Rolled back to {}, but ECS shows no PRIMARY deployment of it; check the service.",
                short_revision(previous)
            );
        };
        match self.watch(&before, &updated, &watch).await {
            Ok(Outcome::Done) => format!(
                "Rolled back: the service runs {} again.",
                short_revision(previous)
            ),
            Ok(Outcome::Failed(failure, _)) => format!(
                "Rolled back to {}, but that rollout did not complete either: {failure}.",
                short_revision(previous)
            ),
            Err(e) => format!("Rolled back to {}; then: {e}", short_revision(previous)),
        }
    }

    /// Deregisters all but the `keep` newest ACTIVE revisions of the family
    /// of `live`, never `live` itself.
    async fn prune(&self, live: &str, keep: u32) -> Result<(), Error> {
        let family = taskdef::family_of(live);
        let active = self.ecs.active_revisions(family).await.map_err(aws_error)?;
        let doomed = taskdef::revisions_beyond(&active, keep as usize, live);
        for arn in doomed {
            self.ecs
                .deregister_task_definition(&arn)
                .await
                .map_err(aws_error)?;
            self.out.say(format!("Deregistered task definition: {arn}"));
        }
        Ok(())
    }
}

/// How a wait ended (besides errors that end the run).
enum Outcome {
    Done,
    /// The failure and the stopped-task explanations gathered meanwhile.
    Failed(Failure, Vec<String>),
}

fn counts(service: &Service, watch: &Watch) -> String {
    service
        .deployments
        .iter()
        .find(|d| d.id == watch.deployment_id)
        .map(|d| {
            format!(
                "{} running, {} pending of {} desired",
                d.running_count, d.pending_count, d.desired_count
            )
        })
        .unwrap_or_else(|| "state unknown".into())
}

fn aws_error(error: AwsError) -> Error {
    Error::aws(error.to_string())
}

/// Resolves on Ctrl-C or SIGTERM, naming which.
async fn interrupted() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "Ctrl-C",
                _ = term.recv() => "SIGTERM",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "Ctrl-C"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
