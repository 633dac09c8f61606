//! A new revision, which every kind of run shares: the base (the revision
//! a service runs, the newest of the family, or a file), the changes, the
//! diff a dry run shows, the registration; the `-d` run; pruning.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::Deployer;
use crate::core::diff;
use crate::core::logs;
use crate::core::report::{Outcome, Report};
use crate::core::shell::command_line;
use crate::core::taskdef::{self, short_revision, Applied, Changes, TargetError};
use crate::error::{exit, Error};
use crate::request::ImageChange;

/// A task definition read from `--task-definition-file`, and its tags.
pub struct BaseFile {
    description: Value,
    tags: Vec<Value>,
}

/// Reads and checks `--task-definition-file` before any AWS call.
pub async fn read_task_definition_file(path: &Path) -> Result<BaseFile, Error> {
    let problem = |why: String| {
        Error::usage(
            exit::USAGE,
            format!(
                "--task-definition-file {}: {why}; nothing was registered.",
                path.display()
            ),
        )
    };
    let text = crate::files::read_text(path)
        .await
        .map_err(|e| problem(format!("cannot read it ({e})")))?;
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

/// What a new revision is built from, read: a revision ECS described
/// (`arn`), or `--task-definition-file`.
pub struct Base {
    arn: Option<String>,
    description: Value,
    tags: Vec<Value>,
}

/// A new revision worked out but not registered yet: everything a run can
/// check is checked before its first write.
pub struct Prepared {
    /// The `RegisterTaskDefinition` input.
    pub(super) input: Value,
    images: BTreeMap<String, String>,
    /// The images this run changes containers to, once each.
    pub(super) new_images: Vec<String>,
}

impl Deployer<'_> {
    /// What the new revision of a service running `current` is built from:
    /// `""` for the file (one base for every service), the family with
    /// `--use-latest-task-def` (its newest revision), else `current`.
    /// Services with the same base share one new revision.
    pub fn base_of<'a>(&self, current: &'a str, file: Option<&BaseFile>) -> &'a str {
        if file.is_some() {
            ""
        } else if self.config.use_latest_task_definition {
            taskdef::family_of(current)
        } else {
            current
        }
    }

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
        match self.read_base(current, file).await? {
            Some(base) => self.prepare(base, announce).map(Some),
            None => Ok(None),
        }
    }

    /// The base of the new revision of a service running `current`, read
    /// (the only call [`Deployer::prepare_revision`] makes, so that a run
    /// over many services reads them all at once); `None` when there is
    /// nothing to change.
    pub async fn read_base(
        &self,
        current: &str,
        file: Option<&BaseFile>,
    ) -> Result<Option<Base>, Error> {
        let config = self.config;
        let has_env = !config.set_env.is_empty() || !config.unset_env.is_empty();
        if config.change == ImageChange::Unchanged && file.is_none() && !has_env {
            return Ok(None);
        }
        Ok(Some(match file {
            Some(file) => Base {
                arn: None,
                description: file.description.clone(),
                tags: file.tags.clone(),
            },
            None => {
                let name = self.base_of(current, None);
                let described = self
                    .ecs
                    .describe_task_definition(name, config.copy_tags)
                    .await?;
                Base {
                    arn: Some(described.arn().to_string()),
                    description: described.description,
                    tags: described.tags,
                }
            }
        }))
    }

    /// The new revision made of `base`: the changes applied, said (and in
    /// a dry run shown as a diff); see [`Deployer::prepare_revision`].
    pub fn prepare(&self, base: Base, announce: bool) -> Result<Prepared, Error> {
        let config = self.config;
        match &base.arn {
            None => self.out.say("Base task definition: --task-definition-file"),
            Some(arn) if config.use_latest_task_definition => {
                self.out.say(format!("Latest task definition: {arn}"))
            }
            Some(arn) if announce => self.out.say(format!("Current task definition: {arn}")),
            Some(_) => {}
        }
        let before = taskdef::registration_input(&base.description);
        let mut input = before.clone();
        let applied = self.apply_changes(|changes| taskdef::apply(&mut input, changes))?;
        if config.copy_tags && !base.tags.is_empty() {
            input["tags"] = Value::Array(base.tags);
        }
        if config.dry_run {
            self.show_diff(&base.description, &before, &input);
        }
        let images = taskdef::container_images(&input).into_iter().collect();
        let mut new_images: Vec<String> = applied.images.iter().map(|c| c.to.clone()).collect();
        new_images.sort();
        new_images.dedup();
        Ok(Prepared {
            input,
            images,
            new_images,
        })
    }

    /// Applies the run's changes (`-i`/`-to`, `--container`, `--env`,
    /// `--unset-env`) with `apply` — to a task definition, or to an Express
    /// service's primary container — and says what changed.
    pub(super) fn apply_changes(
        &self,
        apply: impl FnOnce(&Changes<'_>) -> Result<Applied, TargetError>,
    ) -> Result<Applied, Error> {
        let config = self.config;
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
        let applied = apply(&changes).map_err(|e| match e {
            // Upstream's exit status for an image no container uses.
            TargetError::NoMatchingContainer { .. } => Error::failed(e.to_string()),
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
        Ok(applied)
    }

    /// Registers a prepared revision (in a dry run, only says it would);
    /// the caller says so, in the order of its services.
    pub async fn register(&self, prepared: Prepared) -> Result<Revision, Error> {
        if self.config.dry_run {
            return Ok(Revision {
                arn: None,
                images: prepared.images,
            });
        }
        let family = prepared.input["family"].as_str().unwrap_or("the family");
        let sending = self
            .journal
            .sending("ECS", format!("registering a new revision of {family}"));
        let registered = match self.ecs.register_task_definition(&prepared.input).await {
            Ok(registered) => registered,
            Err(e) => {
                sending.settled();
                let hint = if e.may_have_acted() {
                    format!(
                        ". The request reached ECS, so a new revision of {family} may have been registered all the same (nothing points at it); see: {}",
                        command_line(&[
                            "aws", "ecs", "list-task-definitions", "--family-prefix", family,
                            "--sort", "DESC", "--max-items", "3",
                        ])
                    )
                } else {
                    String::new()
                };
                return Err(Error::aws(format!("{e}{hint}")));
            }
        };
        let arn = registered.arn().to_string();
        sending.changed(format!("registered {arn}"));
        // Where its containers log, should its tasks fail.
        self.revisions
            .borrow_mut()
            .insert(arn.clone(), logs::log_view(&registered.description));
        Ok(Revision {
            arn: Some(arn),
            images: prepared.images,
        })
    }

    /// Says which revision was registered (nothing in a dry run).
    pub fn say_registered(&self, revision: &Revision) {
        if let Some(arn) = &revision.arn {
            self.out.say(format!("New task definition: {arn}"));
        }
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
    pub async fn register_only(
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
        self.preflight(&[&prepared]).await?;
        let revision = self.register(prepared).await?;
        self.say_registered(&revision);
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
