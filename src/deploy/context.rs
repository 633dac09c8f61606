//! A run over the services of a cluster, and what every part of it shares:
//! the lines it prints about a service, the deadline a wait needs, the
//! services as they are before anything is written, and the update call
//! (with the look that follows a lost answer).

use std::time::Duration;

use serde_json::Value;

use super::{Deadline, Deployer};
use crate::aws::ecs::ServiceUpdate;
use crate::core::model::{configured_bake, Model};
use crate::core::service::Service;
use crate::core::shell::command_line;
use crate::core::taskdef::short_revision;
use crate::error::Error;

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

impl<'a> Run<'a> {
    /// A run of `d` over `names` in `cluster`; `appspec` is the
    /// `--codedeploy-appspec` file, read.
    pub(super) fn new(
        d: &'a Deployer<'a>,
        cluster: &'a str,
        names: &[String],
        appspec: Option<&'a Value>,
    ) -> Run<'a> {
        Run {
            d,
            cluster,
            several: names.len() > 1,
            timeout: d.config.timeout,
            appspec,
        }
    }

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
    /// The deadline a wait needs, from each service's configured bake: `-t` as given (with a warning where it is
    /// shorter than a configured bake), else the default plus the longest
    /// configured bake, so that a blue/green bake is not a timeout.
    pub(super) fn deadline_for<'s>(
        &self,
        bakes: impl Iterator<Item = (&'s str, Duration)>,
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
                _ => Error::from(e),
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
    pub(super) fn update_request(
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
    pub(super) fn changes_settings(&self) -> bool {
        let config = self.d.config;
        config.desired_count.is_some()
            || config.minimum_healthy_percent.is_some()
            || config.maximum_percent.is_some()
    }
    /// `-D`, `-m`, `-M` for a CODE_DEPLOY service, whose revision only
    /// CodeDeploy may change: `UpdateService` with the settings alone (which
    /// ECS allows), before the CodeDeploy deployment, so that its
    /// replacement task set starts with the count asked for.
    pub(super) async fn update_settings(&self, service: &str) -> Result<(), Error> {
        if !self.changes_settings() {
            return Ok(());
        }
        let request = self.update_request(service, None, true);
        let journal = self.d.journal;
        let sending = journal.sending(
            "ECS",
            format!("changing the settings of service '{service}'"),
        );
        match self.d.ecs.update_service(&request).await {
            Ok(_) => {
                sending.changed(format!("changed the settings of service '{service}'"));
                self.say(service, "Service settings updated (-D, -m, -M).");
                Ok(())
            }
            Err(e) => {
                sending.settled();
                Err(Error::from(e))
            }
        }
    }
    /// Points `service` at `task_definition`. When the answer is lost but
    /// ECS may have acted, looks: a service that points at the revision is
    /// updated, whatever became of the answer. `deadline` bounds a rollback.
    pub(super) async fn update(
        &self,
        service: &str,
        task_definition: &str,
        with_settings: bool,
        deadline: Option<Deadline>,
    ) -> Result<Service, Error> {
        let request = self.update_request(service, Some(task_definition), with_settings);
        let revision = short_revision(task_definition);
        let journal = self.d.journal;
        let sending = journal.sending("ECS", format!("pointing service '{service}' at {revision}"));
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
                    sending.settled();
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
                sending.settled();
                return Err(Error::from(e));
            }
        };
        sending.changed(format!("service '{service}' points at {revision}"));
        Ok(reply)
    }
    /// The service as ECS describes it now, if it can be read.
    pub(super) async fn look_after_lost_update(&self, service: &str) -> Option<Service> {
        let names = [service.to_string()];
        let described = self.d.ecs.describe_services(self.cluster, &names).await;
        described.ok()?.find(service).cloned()
    }
}

/// The command that shows a service as ECS describes it.
pub(super) fn describe_service(cluster: &str, service: &str) -> String {
    command_line(&[
        "aws",
        "ecs",
        "describe-services",
        "--cluster",
        cluster,
        "--services",
        service,
    ])
}
