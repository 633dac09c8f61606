//! Orchestration of a run: local input, then AWS; the new revision that
//! every kind of run shares; `-d` runs; pruning; and the result as data
//! (`--output json`, GitHub Actions). Service deploys and their wait live in
//! `service`, one-off tasks in `oneoff`, interrupts in `interrupt`; the
//! decisions live in the pure modules.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::aws::{self, client::AwsError};
use crate::cli::{Config, ImageChange, OutputFormat, Target};
use crate::diff;
use crate::ecs::Ecs;
use crate::error::{exit, Error};
use crate::interrupt::{interrupted, Journal};
use crate::output::report::{self, Outcome, Report, RollbackStatus};
use crate::output::safe::{self, Stream};
use crate::output::Reporter;
use crate::rollout::short_revision;
use crate::service;
use crate::taskdef::{self, Changes};

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
            // A service whose deploy or rollback had not ended ended with
            // the interrupt.
            for service in &mut report.services {
                let rolling_back = service
                    .rollback
                    .as_ref()
                    .is_some_and(|r| r.status == RollbackStatus::InProgress);
                if service.result == Outcome::Error || rolling_back {
                    service.result = Outcome::Interrupted;
                }
            }
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
        safe::write_raw(Stream::Stdout, &report.to_json());
    }
    if env("GITHUB_ACTIONS").as_deref() == Some("true") {
        for (variable, text) in [
            ("GITHUB_OUTPUT", report.github_outputs()),
            ("GITHUB_STEP_SUMMARY", report.github_summary()),
        ] {
            if let Err(problem) = report::append_to_github_file(env, variable, &text) {
                safe::write_line(Stream::Stderr, &format!("warning: {problem}"));
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
    let poll_interval = poll_interval(config.poll_interval, client.is_loopback(), out);
    let deployer = Deployer {
        ecs: Ecs::new(client),
        config,
        region,
        poll_interval,
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

/// The shortest `--poll-interval` against AWS: a faster poll spends the
/// account's API rate (shared with every other pipeline) and sees nothing
/// sooner, since ECS itself moves in seconds.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The shortest against an endpoint on this machine (a local fake), which
/// has no rate to spend; tests poll that fast.
pub const MIN_LOOPBACK_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// `--poll-interval`, raised to the floor (with a warning) when below it.
fn poll_interval(asked: Duration, loopback: bool, out: &Reporter) -> Duration {
    let floor = if loopback {
        MIN_LOOPBACK_POLL_INTERVAL
    } else {
        MIN_POLL_INTERVAL
    };
    if asked < floor {
        out.say(format!(
            "warning: --poll-interval {} s is below the minimum of {} s; polling every {} s.",
            asked.as_secs_f64(),
            floor.as_secs_f64(),
            floor.as_secs_f64()
        ));
        return floor;
    }
    asked
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
    /// `--poll-interval`, at least the floor for the endpoint.
    pub poll_interval: Duration,
    pub out: &'a Reporter,
    pub journal: &'a Journal,
}

impl Deployer<'_> {
    /// Works out the new revision: the base (the file, the newest revision
    /// of the family with `--use-latest-task-def`, else `current`) with the
    /// changes applied. In a dry run, shows it as a diff. `None` when there
    /// is nothing to change (`--force-new-deployment` alone). With
    /// `announce`, says which revision it read (`-d web` names a family; the
    /// line names the revision that is really the base, `web:3`).
    pub async fn prepare_revision(
        &self,
        current: &str,
        file: Option<&BaseFile>,
        announce: bool,
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
                } else if announce {
                    self.out
                        .say(format!("Current task definition: {}", described.arn()));
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
        let family = prepared.input["family"].as_str().unwrap_or("the family");
        self.journal
            .sending(format!("registering a new revision of {family}"));
        let registered = match self.ecs.register_task_definition(&prepared.input).await {
            Ok(registered) => registered,
            Err(e) => {
                self.journal.settled();
                let hint = if e.may_have_acted() {
                    format!(". The request reached ECS, so a new revision of {family} may have been registered all the same (nothing points at it); see: aws ecs list-task-definitions --family-prefix {family} --sort DESC --max-items 3")
                } else {
                    String::new()
                };
                return Err(Error::aws(format!("{e}{hint}")));
            }
        };
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
        let prepared = self
            .prepare_revision(&current, file, true)
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

/// How long a call may run past a deadline: long enough for one answer,
/// not for a series of retries.
pub const GRACE: Duration = Duration::from_secs(10);

/// The end of a wait (`-t`). It bounds every AWS call made for the wait,
/// so that a run ends by its deadline plus [`GRACE`] whatever ECS does.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    /// The deadline `timeout` from now.
    pub fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    /// Whether it has passed.
    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// Time left (zero once it passed).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// The timeout it was set with, in seconds, for messages.
    pub fn seconds(&self) -> f64 {
        self.timeout.as_secs_f64()
    }

    /// The last moment any call of the wait may run: the deadline plus [`GRACE`].
    pub fn hard_limit(&self) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.at + GRACE)
    }

    /// Runs AWS calls (`what`, for the message) that must be answered by
    /// the [hard limit](Deadline::hard_limit); past it they are abandoned,
    /// so that all the calls of a wait together fit in one grace.
    pub async fn bound<T>(
        &self,
        what: &str,
        calls: impl std::future::Future<Output = Result<T, AwsError>>,
    ) -> Result<T, AwsError> {
        tokio::time::timeout_at(self.hard_limit(), calls)
            .await
            .unwrap_or_else(|_| {
                Err(AwsError::Transport {
                    operation: what.to_string(),
                    message: format!(
                        "no answer within {} s after the {} s deadline",
                        GRACE.as_secs(),
                        self.seconds()
                    ),
                    retryable: false,
                    sent: true,
                    attempts: 1,
                })
            })
    }
}

/// An AWS failure as the error that ends a run (exit 2).
pub fn aws_error(error: AwsError) -> Error {
    Error::aws(error.to_string())
}
