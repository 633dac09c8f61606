//! Orchestration: describe → register → update → watch → clean up or roll
//! back. The decisions live in the pure modules; this one sequences the
//! calls, reports progress and turns outcomes into errors with exit codes.

use std::cell::RefCell;
use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};

use crate::aws::{self, client::AwsError};
use crate::cli::{Config, ImageChange, RunTask, Target};
use crate::ecs::{Ecs, ServiceUpdate};
use crate::error::{exit, Error};
use crate::output::{Reporter, StoppedTasks};
use crate::rollout::{self, short_revision, Failure, Progress, Service, Verdict, Watch};
use crate::task_run::{self, TaskVerdict};
use crate::taskdef;

/// Runs one deploy as configured; `env` looks up environment variables.
pub async fn run(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Result<(), Error> {
    let started = Instant::now();
    // Local input first: a bad file must stop the run before any AWS call.
    let file = config
        .task_definition_file
        .as_deref()
        .map(read_task_definition_file)
        .transpose()?;
    let (client, region) = aws::connect("ecs", &config.aws, env, config.verbose).await?;
    let deployer = Deployer {
        ecs: Ecs::new(client),
        config,
        region,
        out: Reporter::new(started),
    };
    match &config.target {
        Target::Service { cluster, service } => {
            let deploy = ServiceDeploy {
                d: &deployer,
                cluster,
                service,
            };
            deploy.run(file).await
        }
        Target::TaskDefinition {
            task_definition,
            cluster,
        } => {
            deployer
                .register_only(task_definition, cluster.as_deref(), file)
                .await
        }
    }
}

/// A task definition read from `--task-definition-file`, and its tags.
struct BaseFile {
    description: Value,
    tags: Vec<Value>,
}

fn read_task_definition_file(path: &Path) -> Result<BaseFile, Error> {
    let problem = |why: String| {
        Error::usage(
            exit::USAGE,
            format!(
                "--task-definition-file {}: {why}; nothing was registered.",
                path.display()
            ),
        )
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| problem(format!("cannot read it ({e})")))?;
    let (description, tags) = taskdef::from_file(&text).map_err(problem)?;
    Ok(BaseFile { description, tags })
}

/// What every kind of run shares: ECS, the flags, and the output.
struct Deployer<'a> {
    ecs: Ecs,
    config: &'a Config,
    region: String,
    out: Reporter,
}

impl Deployer<'_> {
    /// Registers the new revision: the base (the file, the newest revision of
    /// the family with `--use-latest-task-def`, else `current`) with the image
    /// change applied. `None` when there is nothing to register
    /// (`--force-new-deployment` without an image or a file).
    async fn new_revision(
        &self,
        current: &str,
        file: Option<BaseFile>,
    ) -> Result<Option<String>, Error> {
        let config = self.config;
        match &config.change {
            ImageChange::Image(image) => self.out.say(format!("Using image name: {image}")),
            ImageChange::TagOnly(tag) => self.out.say(format!("Using tag for every image: {tag}")),
            ImageChange::Unchanged if file.is_none() => return Ok(None),
            ImageChange::Unchanged => {}
        }
        let (base, tags) = match file {
            Some(file) => {
                self.out.say("Base task definition: --task-definition-file");
                (file.description, file.tags)
            }
            None => {
                let name = if config.use_latest_task_definition {
                    taskdef::family_of(current)
                } else {
                    current
                };
                let described = self
                    .ecs
                    .describe_task_definition(name, config.copy_tags)
                    .await
                    .map_err(aws_error)?;
                if config.use_latest_task_definition {
                    self.out
                        .say(format!("Latest task definition: {}", described.arn()));
                }
                (described.description, described.tags)
            }
        };
        let mut input = taskdef::registration_input(&base);
        let changes = match &config.change {
            ImageChange::Image(image) => {
                taskdef::swap_images(&mut input, image).map_err(|e| Error::failed(e.to_string()))?
            }
            ImageChange::TagOnly(tag) => taskdef::retag_images(&mut input, tag),
            ImageChange::Unchanged => Vec::new(),
        };
        for change in &changes {
            self.out.say(format!(
                "Container {}: {} -> {}",
                change.container, change.from, change.to
            ));
        }
        if config.copy_tags && !tags.is_empty() {
            input["tags"] = Value::Array(tags);
        }
        let registered = self
            .ecs
            .register_task_definition(&input)
            .await
            .map_err(aws_error)?;
        let arn = registered.arn().to_string();
        self.out.say(format!("New task definition: {arn}"));
        Ok(Some(arn))
    }

    /// `-d`: register a new revision, prune, and run it if asked.
    async fn register_only(
        &self,
        task_definition: &str,
        cluster: Option<&str>,
        file: Option<BaseFile>,
    ) -> Result<(), Error> {
        let current = match &file {
            Some(file) => file.description["family"]
                .as_str()
                .unwrap_or(task_definition)
                .to_string(),
            None => task_definition.to_string(),
        };
        self.out.say(format!("Current task definition: {current}"));
        let arn = self
            .new_revision(&current, file)
            .await?
            .expect("-d always has an image change or a file");
        if let Some(keep) = self.config.max_definitions {
            self.prune(&arn, keep).await?;
        }
        match &self.config.run_task {
            Some(run) => self.run_task(&arn, cluster, run).await,
            None => Ok(()),
        }
    }

    /// `--run-task`: starts the revision as a one-off task and, with
    /// `--wait-for-success`, waits for it to stop and judges its exit codes.
    async fn run_task(&self, arn: &str, cluster: Option<&str>, run: &RunTask) -> Result<(), Error> {
        let mut input = json!({"taskDefinition": arn, "count": 1});
        let optional = [
            ("cluster", cluster),
            ("launchType", run.launch_type.as_deref()),
            ("platformVersion", run.platform_version.as_deref()),
            ("startedBy", run.started_by.as_deref()),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                input[key] = json!(value);
            }
        }
        if let Some(network) = &run.network_configuration {
            input["networkConfiguration"] = network.clone();
        }
        let task = self.ecs.run_task(&input).await.map_err(|e| match e {
            crate::ecs::RunTaskError::Aws(e) => aws_error(e),
            crate::ecs::RunTaskError::Refused(why) => {
                Error::failed(format!("ECS did not start the task: {why}"))
            }
        })?;
        let task_arn = task["taskArn"].as_str().unwrap_or_default().to_string();
        self.out.say(format!("Task started: {task_arn}"));
        if !run.wait_for_success {
            return Ok(());
        }
        let description = self
            .ecs
            .describe_task_definition(arn, false)
            .await
            .map_err(aws_error)?
            .description;
        let essential = task_run::essential_containers(&description);
        let cluster = task["clusterArn"]
            .as_str()
            .or(cluster)
            .unwrap_or("default")
            .to_string();
        let deadline = Instant::now() + self.config.timeout;
        let mut last_status = String::new();
        let wait = async {
            loop {
                let tasks = self
                    .ecs
                    .describe_tasks(&cluster, std::slice::from_ref(&task_arn))
                    .await
                    .map_err(aws_error)?;
                let task = tasks
                    .first()
                    .ok_or_else(|| Error::aws(format!("ECS no longer knows task {task_arn}")))?;
                match task_run::judge(task, &essential) {
                    TaskVerdict::Running(status) => {
                        if status != last_status {
                            self.out
                                .progress(format!("task {}: {status}", short_task(&task_arn)));
                            last_status = status;
                        }
                    }
                    TaskVerdict::Succeeded => {
                        self.out
                            .progress(format!("task {}: STOPPED", short_task(&task_arn)));
                        for line in crate::output::why_stopped(task).lines() {
                            self.out.say(format!("  {}", line.trim_start()));
                        }
                        self.out.say("Task completed successfully.");
                        return Ok(());
                    }
                    TaskVerdict::Failed(why) => {
                        return Err(Error::failed(format!("task {task_arn} failed: {why}")));
                    }
                }
                if Instant::now() >= deadline {
                    return Err(Error::failed(format!(
                        "task {task_arn} did not stop within {} s (it is still {last_status}; ecs-deploy left it running).",
                        self.config.timeout.as_secs_f64()
                    )));
                }
                let remaining = deadline.saturating_duration_since(Instant::now());
                tokio::time::sleep(self.config.poll_interval.min(remaining)).await;
            }
        };
        tokio::select! {
            result = wait => result,
            signal = interrupted() => Err(Error::interrupted(format!(
                "{signal} received while waiting for task {task_arn}; it keeps running in ECS."
            ))),
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

/// The id at the end of a task ARN.
fn short_task(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// `-n`: a deploy to one service.
struct ServiceDeploy<'a> {
    d: &'a Deployer<'a>,
    cluster: &'a str,
    service: &'a str,
}

impl ServiceDeploy<'_> {
    async fn run(&self, file: Option<BaseFile>) -> Result<(), Error> {
        let config = self.d.config;
        let before = self.current_service().await?;
        let current_arn = before.task_definition.clone().ok_or_else(|| {
            Error::aws(format!(
                "service '{}' has no task definition (is it managed by CodeDeploy or an external controller?); nothing was registered.",
                self.service
            ))
        })?;
        self.d
            .out
            .say(format!("Current task definition: {current_arn}"));
        let new_arn = match self.d.new_revision(&current_arn, file).await? {
            Some(arn) => arn,
            None => {
                self.d
                    .out
                    .say("No new image: forcing a new deployment of the current task definition.");
                current_arn.clone()
            }
        };

        let updated = self.update(&new_arn, true).await?;
        if updated.desired_count == 0 {
            // Nothing will run, so there is no rollout to wait for.
            self.d
                .out
                .say("Service updated; desired count is 0, so there is nothing to wait for.");
            return self.succeed(&new_arn).await;
        }
        let watch = Watch::from_update(&updated, &new_arn).ok_or_else(|| {
            Error::aws(format!(
                "ECS accepted the update but shows no PRIMARY deployment of {new_arn}; check the service in the console."
            ))
        })?;
        self.d.out.say(format!(
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
        self.d.out.say("Service deployment successful.");
        match self.d.config.max_definitions {
            Some(keep) => self.d.prune(live, keep).await,
            None => Ok(()),
        }
    }

    /// The service as it is before the deploy; missing or deleted is an error.
    async fn current_service(&self) -> Result<Service, Error> {
        let service = self
            .d
            .ecs
            .describe_service(self.cluster, self.service)
            .await
            .map_err(|e| match e.code() {
                Some("ClusterNotFoundException") => Error::aws(format!(
                    "cluster '{}' was not found in {}; nothing was registered.",
                    self.cluster, self.d.region
                )),
                _ => aws_error(e),
            })?;
        match service {
            Some(service) if service.status == "ACTIVE" => Ok(service),
            Some(service) => Err(Error::aws(format!(
                "service '{}' in cluster '{}' is {} (deleted); nothing was registered.",
                self.service, self.cluster, service.status
            ))),
            None => Err(Error::aws(format!(
                "service '{}' was not found in cluster '{}' ({}); nothing was registered.",
                self.service, self.cluster, self.d.region
            ))),
        }
    }

    /// Points the service at `task_definition`; the deployment settings from
    /// the flags go with the deploy itself, not with a rollback.
    async fn update(&self, task_definition: &str, with_settings: bool) -> Result<Service, Error> {
        let config = self.d.config;
        let setting = |value: Option<u32>| value.filter(|_| with_settings);
        self.d
            .ecs
            .update_service(&ServiceUpdate {
                cluster: self.cluster,
                service: self.service,
                task_definition,
                force_new_deployment: with_settings && config.force_new_deployment,
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
                self.cluster,
                self.service
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
        let config = self.d.config;
        let deadline = Instant::now() + config.timeout;
        let mut progress = Progress::new(before);
        let mut stopped = StoppedTasks::default();
        let mut service = updated.clone();
        loop {
            if let Some(line) = progress.counts_change(&service, watch) {
                self.d.out.progress(line);
            }
            for event in progress.new_events(&service) {
                self.d.out.progress(format!("event: {event}"));
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
            service = match self.d.ecs.describe_service(self.cluster, self.service).await {
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
        let ecs = &self.d.ecs;
        let tasks = async {
            let arns = ecs
                .stopped_tasks(self.cluster, &watch.deployment_id)
                .await?;
            let fresh = progress.unreported_tasks(arns);
            ecs.describe_tasks(self.cluster, &fresh).await
        };
        match tasks.await {
            Ok(tasks) => {
                for line in stopped.add(&tasks) {
                    self.d.out.progress(line);
                }
            }
            Err(e) => self
                .d
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
        let config = self.d.config;
        let mut report = format!(
            "Deployment of {} to service '{}' failed: {failure}.",
            short_revision(&watch.task_definition),
            self.service
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
        } else if config.enable_rollback && previous == watch.task_definition {
            format!(
                "No earlier revision to roll back to: the service already ran {} before this deployment.",
                short_revision(previous)
            )
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
        self.d.out.say(format!("Rolling back to {previous}"));
        let before = match self
            .d
            .ecs
            .describe_service(self.cluster, self.service)
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
