//! Orchestration of a run: local input, then AWS; the new revision that
//! every kind of run shares; `-d` runs and their one-off tasks; pruning; and
//! the result as data (`--output json`, GitHub Actions). Service deploys and
//! their wait live in `service`. The decisions live in the pure modules.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};

use crate::aws::{self, client::AwsError};
use crate::cli::{Config, ImageChange, OutputFormat, RunTask, Target};
use crate::diff;
use crate::ecs::{Ecs, RunTaskError};
use crate::error::{exit, Error};
use crate::output::Reporter;
use crate::report::{self, Outcome, Report, TaskReport};
use crate::rollout::short_revision;
use crate::service;
use crate::taskdef::{self, Changes};
use crate::tasks::{self, why_stopped, TaskVerdict};

/// Runs what `config` asks for; `env` looks up environment variables. The
/// result is also written as data where asked (`--output json`, GitHub).
pub async fn run(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Result<(), Error> {
    let started = Instant::now();
    let out = Reporter::new(started, config.output, env);
    let cluster = match &config.target {
        Target::Services { cluster, .. } => Some(cluster.as_str()),
        Target::TaskDefinition { cluster, .. } => cluster.as_deref(),
    };
    let mut report = Report::new(cluster);
    let journal = Journal::default();
    // One listener for the whole run: once one is installed, the default
    // handling of the signal is gone for good, so every phase must answer it.
    let result = tokio::select! {
        result = execute(config, env, &out, &journal, &mut report) => result,
        signal = interrupted() => {
            report.result = Outcome::Interrupted;
            Err(Error::interrupted(journal.interrupted(signal)))
        }
    };
    report.duration_seconds = started.elapsed().as_secs_f64();
    if let Err(error) = &result {
        report.reason = Some(error.to_string());
        if report.result == Outcome::Error && error.exit_code() == exit::FAILED {
            report.result = Outcome::Failed;
        }
    }
    if config.output == OutputFormat::Json {
        println!("{}", report.to_json());
    }
    if env("GITHUB_ACTIONS").as_deref() == Some("true") {
        for (variable, text) in [
            ("GITHUB_OUTPUT", report.github_outputs()),
            ("GITHUB_STEP_SUMMARY", report.github_summary()),
        ] {
            if let Err(problem) = report::append_to_github_file(env, variable, &text) {
                eprintln!("warning: {problem}");
            }
        }
    }
    result
}

async fn execute(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    out: &Reporter,
    journal: &Journal,
    report: &mut Report,
) -> Result<(), Error> {
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
        out,
        journal,
    };
    match &config.change {
        ImageChange::Image(image) => out.say(format!("Using image name: {image}")),
        ImageChange::TagOnly(tag) => out.say(format!("Using tag for every image: {tag}")),
        ImageChange::Unchanged => {}
    }
    if config.dry_run {
        out.say("Dry run: reading only; nothing will be registered, updated or deregistered.");
    }
    match &config.target {
        Target::Services { cluster, services } => {
            service::deploy(&deployer, cluster, services, file.as_ref(), report).await
        }
        Target::TaskDefinition {
            task_definition,
            cluster,
        } => {
            deployer
                .register_only(task_definition, cluster.as_deref(), file.as_ref(), report)
                .await
        }
    }
}

/// A task definition read from `--task-definition-file`, and its tags.
pub struct BaseFile {
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

/// A revision made for this run (or, in a dry run, the one that would be).
#[derive(Debug, Clone)]
pub struct Revision {
    /// The registered ARN; `None` in a dry run.
    pub arn: Option<String>,
    /// Container name → image in the new revision.
    pub images: BTreeMap<String, String>,
}

/// A new revision worked out but not registered yet: everything a run can
/// check is checked before its first write.
pub struct Prepared {
    input: Value,
    images: BTreeMap<String, String>,
}

/// What every kind of run shares: ECS, the flags, the output, the journal.
pub struct Deployer<'a> {
    pub ecs: Ecs,
    pub config: &'a Config,
    pub region: String,
    pub out: &'a Reporter,
    pub journal: &'a Journal,
}

/// What a run has changed so far and what it is waiting for: the message
/// when a Ctrl-C or SIGTERM stops it.
#[derive(Default)]
pub struct Journal {
    changed: RefCell<Vec<String>>,
    in_progress: RefCell<Vec<String>>,
}

impl Journal {
    /// Notes a change made in AWS.
    pub fn changed(&self, what: String) {
        self.changed.borrow_mut().push(what);
    }

    /// Replaces the lines about what is still going on.
    pub fn in_progress(&self, lines: Vec<String>) {
        self.in_progress.replace(lines);
    }

    fn interrupted(&self, signal: &str) -> String {
        let changed = self.changed.borrow();
        let mut message = if changed.is_empty() {
            format!("{signal} received before anything was changed in AWS.")
        } else {
            format!("{signal} received. Changed so far: {}.", changed.join("; "))
        };
        for line in self.in_progress.borrow().iter() {
            message.push('\n');
            message.push_str(line);
        }
        message.push_str("\nNothing was rolled back.");
        message
    }
}

impl Deployer<'_> {
    /// Works out the new revision: the base (the file, the newest revision
    /// of the family with `--use-latest-task-def`, else `current`) with the
    /// changes applied. In a dry run, shows it as a diff. `None` when there
    /// is nothing to change (`--force-new-deployment` alone).
    pub async fn prepare_revision(
        &self,
        current: &str,
        file: Option<&BaseFile>,
    ) -> Result<Option<Prepared>, Error> {
        let config = self.config;
        let has_env = !config.set_env.is_empty() || !config.unset_env.is_empty();
        if config.change == ImageChange::Unchanged && file.is_none() && !has_env {
            return Ok(None);
        }
        let (base, tags) = match file {
            Some(file) => {
                self.out.say("Base task definition: --task-definition-file");
                (file.description.clone(), file.tags.clone())
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
        let before = taskdef::registration_input(&base);
        let mut input = before.clone();
        let set_env: Vec<(String, String)> = config
            .set_env
            .iter()
            .map(|(name, value)| (name.clone(), value.expose().to_string()))
            .collect();
        let changes = Changes {
            image: match &config.change {
                ImageChange::Image(image) => Some(image),
                _ => None,
            },
            tag: match &config.change {
                ImageChange::TagOnly(tag) => Some(tag.as_str()),
                _ => None,
            },
            containers: &config.containers,
            set_env: &set_env,
            unset_env: &config.unset_env,
        };
        let applied = taskdef::apply(&mut input, &changes).map_err(|e| match e {
            // Upstream's exit status for an image no container uses.
            taskdef::TargetError::NoMatchingContainer { .. } => Error::failed(e.to_string()),
            // The others are mistakes on the command line.
            _ => Error::usage(exit::USAGE, e.to_string()),
        })?;
        for change in &applied.images {
            self.out.say(format!(
                "Container {}: {} -> {}",
                change.container, change.from, change.to
            ));
        }
        for change in &applied.env {
            let what = if change.set {
                format!("{}=<changed>", change.name)
            } else {
                format!("{} removed", change.name)
            };
            self.out
                .say(format!("Container {}: env {what}", change.container));
        }
        if config.copy_tags && !tags.is_empty() {
            input["tags"] = Value::Array(tags);
        }
        if config.dry_run {
            self.show_diff(&base, &before, &input);
        }
        let images = taskdef::container_images(&input).into_iter().collect();
        Ok(Some(Prepared { input, images }))
    }

    /// Registers a prepared revision (in a dry run, only says it would).
    pub async fn register(&self, prepared: Prepared) -> Result<Revision, Error> {
        if self.config.dry_run {
            return Ok(Revision {
                arn: None,
                images: prepared.images,
            });
        }
        let registered = self
            .ecs
            .register_task_definition(&prepared.input)
            .await
            .map_err(aws_error)?;
        let arn = registered.arn().to_string();
        self.out.say(format!("New task definition: {arn}"));
        self.journal.changed(format!("registered {arn}"));
        Ok(Revision {
            arn: Some(arn),
            images: prepared.images,
        })
    }

    /// Prints the unified diff of the revision a dry run would register,
    /// with every environment value hidden.
    fn show_diff(&self, base: &Value, before: &Value, after: &Value) {
        let (old, new) = taskdef::mask_env_values(before, after);
        let pretty = |v: &Value| serde_json::to_string_pretty(v).expect("JSON serialises") + "\n";
        let family = base["family"].as_str().unwrap_or("task definition");
        let old_name = base["taskDefinitionArn"]
            .as_str()
            .map(short_revision)
            .unwrap_or(family)
            .to_string();
        let text = diff::unified(
            &pretty(&old),
            &pretty(&new),
            &old_name,
            &format!("{family} (new revision)"),
        );
        if text.is_empty() {
            self.out
                .say("The new revision would be identical to its base.");
        } else {
            self.out
                .say(format!("Would register a new revision of {family}:"));
            self.out.say(text.trim_end());
        }
    }

    /// `-d`: register a new revision, prune, and run it if asked.
    async fn register_only(
        &self,
        task_definition: &str,
        cluster: Option<&str>,
        file: Option<&BaseFile>,
        report: &mut Report,
    ) -> Result<(), Error> {
        let current = match file {
            Some(file) => file.description["family"]
                .as_str()
                .unwrap_or(task_definition)
                .to_string(),
            None => task_definition.to_string(),
        };
        self.out.say(format!("Current task definition: {current}"));
        let prepared = self
            .prepare_revision(&current, file)
            .await?
            .expect("-d always has a change or a file");
        let revision = self.register(prepared).await?;
        let family = taskdef::family_of(&current).to_string();
        let Some(arn) = revision.arn else {
            if let Some(keep) = self.config.max_definitions {
                self.prune(&family, keep, &[], true).await;
            }
            if self.config.run_task.is_some() {
                self.out
                    .say("Would run the new revision as a one-off task.");
            }
            report.result = Outcome::DryRun;
            return Ok(());
        };
        report.task_definition = Some(arn.clone());
        if let Some(keep) = self.config.max_definitions {
            self.prune(&family, keep, &[&arn], false).await;
        }
        if let Some(run) = &self.config.run_task {
            self.run_task(&arn, cluster, run, report).await?;
        }
        report.result = Outcome::Success;
        Ok(())
    }

    /// `--run-task`: starts the revision as a one-off task and, with
    /// `--wait-for-success`, waits for it to stop and judges its exit codes.
    async fn run_task(
        &self,
        arn: &str,
        cluster: Option<&str>,
        run: &RunTask,
        report: &mut Report,
    ) -> Result<(), Error> {
        // The client retries a RunTask whose answer was lost; the same token
        // makes ECS start the task once, not once per attempt.
        let client_token = format!(
            "ecs-deploy-{:016x}{:016x}",
            aws::client::random_u64(),
            aws::client::random_u64()
        );
        let mut input = json!({"taskDefinition": arn, "count": 1, "clientToken": client_token});
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
            RunTaskError::Aws(e) => aws_error(e),
            RunTaskError::Refused(why) => {
                Error::failed(format!("ECS did not start the task: {why}"))
            }
        })?;
        let task_arn = task["taskArn"].as_str().unwrap_or_default().to_string();
        self.out.say(format!("Task started: {task_arn}"));
        self.journal.changed(format!("started task {task_arn}"));
        report.task = Some(TaskReport {
            task_arn: task_arn.clone(),
            last_status: task["lastStatus"].as_str().map(str::to_string),
            exit_codes: BTreeMap::new(),
        });
        if !run.wait_for_success {
            return Ok(());
        }
        let description = self
            .ecs
            .describe_task_definition(arn, false)
            .await
            .map_err(aws_error)?
            .description;
        let essential = tasks::essential_containers(&description);
        let cluster = task["clusterArn"]
            .as_str()
            .or(cluster)
            .unwrap_or("default")
            .to_string();
        let deadline = Instant::now() + self.config.timeout;
        let short = task_arn.rsplit('/').next().unwrap_or(&task_arn).to_string();
        let mut last_status = String::new();
        loop {
            let tasks = self
                .ecs
                .describe_tasks(&cluster, std::slice::from_ref(&task_arn))
                .await
                .map_err(aws_error)?;
            let task = tasks
                .first()
                .ok_or_else(|| Error::aws(format!("ECS no longer knows task {task_arn}")))?;
            let verdict = tasks::judge(task, &essential);
            if let Some(task_report) = &mut report.task {
                task_report.last_status = task["lastStatus"].as_str().map(str::to_string);
                task_report.exit_codes = task["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| {
                        Some((c["name"].as_str()?.to_string(), c["exitCode"].as_i64()?))
                    })
                    .collect();
            }
            match verdict {
                TaskVerdict::Running(status) => {
                    if status != last_status {
                        self.out.progress(format!("task {short}: {status}"));
                        last_status = status;
                    }
                }
                TaskVerdict::Succeeded => {
                    self.out.progress(format!("task {short}: STOPPED"));
                    for line in why_stopped(task).lines() {
                        self.out.say(format!("  {}", line.trim_start()));
                    }
                    self.out.success("Task completed successfully.");
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
    }

    /// Deregisters all but the `keep` newest ACTIVE revisions of `family`,
    /// never one of `live`. In a dry run, says which it would deregister,
    /// counting the revision the run would register when `planned`. It
    /// runs after the deploy succeeded, so a failure here is a warning, not
    /// a failed deploy.
    pub async fn prune(&self, family: &str, keep: u32, live: &[&str], planned: bool) {
        let mut active = match self.ecs.active_revisions(family).await {
            Ok(active) => active,
            Err(e) => {
                self.out.say(format!(
                    "warning: --max-definitions: could not list the revisions of {family}: {e}"
                ));
                return;
            }
        };
        let mut protected: Vec<&str> = live.to_vec();
        let next;
        if planned {
            // The revision the run registers would be the newest one.
            next = format!(
                "{family}:{}",
                active
                    .iter()
                    .filter_map(|arn| taskdef::revision_of(arn))
                    .max()
                    .unwrap_or(0)
                    + 1
            );
            active.push(next.clone());
            protected.push(&next);
        }
        let doomed = taskdef::revisions_beyond(&active, keep as usize, &protected);
        if self.config.dry_run {
            if doomed.is_empty() {
                self.out.say(format!(
                    "--max-definitions {keep} would deregister nothing."
                ));
            }
            for arn in doomed {
                self.out
                    .say(format!("Would deregister task definition: {arn}"));
            }
            return;
        }
        for arn in doomed {
            match self.ecs.deregister_task_definition(&arn).await {
                Ok(()) => {
                    self.out.say(format!("Deregistered task definition: {arn}"));
                    self.journal.changed(format!("deregistered {arn}"));
                }
                Err(e) => self.out.say(format!(
                    "warning: --max-definitions: could not deregister {arn}: {e}"
                )),
            }
        }
    }
}

/// An AWS failure as the error that ends a run (exit 2).
pub fn aws_error(error: AwsError) -> Error {
    Error::aws(error.to_string())
}

/// Resolves on Ctrl-C or SIGTERM, naming which.
pub async fn interrupted() -> &'static str {
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
