//! Deploying an Express Mode service (design §10): ECS manages it from an
//! express configuration, so the new image goes in with
//! `UpdateExpressGatewayService` — the active primary container with the
//! run's changes, every other field of it kept — or, where the service runs
//! a task definition of the customer's, with the new revision of it. The
//! deployment that update starts is then watched like any other ECS one.

use serde_json::Value;

use super::context::Run;
use crate::core::express::{self, ExpressConfiguration};
use crate::core::service::Service;
use crate::error::{exit, Error};

impl Run<'_> {
    /// What an Express service's deploy sends, worked out before any write:
    /// the changed primary container (its image checked with ECR), or — a
    /// customer task definition — the revision the run registers for it.
    /// Flags ECS has the say over are refused (exit 3).
    pub(super) async fn plan_express(
        &self,
        service: &Service,
    ) -> Result<ExpressConfiguration, Error> {
        let name = &service.service_name;
        let described = self
            .d
            .ecs
            .describe_express_service(&service.service_arn)
            .await?;
        let active = ExpressConfiguration::of(&described).ok_or_else(|| {
            Error::aws(format!(
                "ECS describes Express service '{name}' without an active configuration; nothing was registered."
            ))
        })?;
        let config = self.d.config;
        let managed = [
            (config.desired_count.is_some(), "-D/--desired-count"),
            (config.minimum_healthy_percent.is_some(), "-m/--min"),
            (config.maximum_percent.is_some(), "-M/--max"),
            (config.force_new_deployment, "--force-new-deployment"),
        ];
        let of_a_revision = [
            (
                config.task_definition_file.is_some(),
                "--task-definition-file",
            ),
            (config.use_latest_task_definition, "--use-latest-task-def"),
            (config.copy_tags, "--copy-task-definition-tags"),
        ];
        let primary = matches!(active, ExpressConfiguration::PrimaryContainer(_));
        let refused = if primary {
            express::refuses(true, &[&managed[..], &of_a_revision[..]].concat())
        } else {
            express::refuses(false, &managed)
        };
        if let Some(why) = refused {
            return Err(Error::usage(
                exit::USAGE,
                format!("service '{name}': {why}; nothing was registered."),
            ));
        }
        let ExpressConfiguration::PrimaryContainer(container) = active else {
            return Ok(active);
        };
        let container_name = self.primary_container_name(service, &container).await?;
        let mut changed = Value::Null;
        self.d.apply_changes(|changes| {
            let (new, applied) =
                express::change_primary_container(&container, &container_name, changes)?;
            changed = new;
            Ok(applied)
        })?;
        if let Some(image) = changed["image"].as_str() {
            self.d.check_images(&[image]).await?;
        }
        Ok(ExpressConfiguration::PrimaryContainer(changed))
    }

    /// The name the primary container has in the task definition ECS built
    /// from it (for `--container` and the lines that say what changed).
    async fn primary_container_name(
        &self,
        service: &Service,
        container: &Value,
    ) -> Result<String, Error> {
        let Some(current) = &service.task_definition else {
            return Ok("primary".into());
        };
        let described = self.d.ecs.describe_task_definition(current, false).await?;
        let containers = described.description["containerDefinitions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let named = containers
            .iter()
            .find(|c| c["image"] == container["image"])
            .or(containers.first())
            .and_then(|c| c["name"].as_str())
            .unwrap_or("primary");
        Ok(named.to_string())
    }

    /// Sends `UpdateExpressGatewayService` for `target`, and returns the
    /// service as ECS then describes it, with the task definition it now
    /// rolls out.
    pub(super) async fn update_express(
        &self,
        before: &Service,
        target: &ExpressConfiguration,
    ) -> Result<(Service, String), Error> {
        let name = &before.service_name;
        let input = express::update_input(&before.service_arn, target);
        let journal = self.d.journal;
        let sending = journal.sending("ECS", format!("updating Express service '{name}'"));
        let rolled_out = match self.d.ecs.update_express_service(&input).await {
            Ok(rolled_out) => rolled_out,
            Err(e) => {
                sending.settled();
                let hint = if e.may_have_acted() {
                    format!(
                        ". The request may have reached ECS and started a deployment; check it with: {}",
                        super::context::describe_service(self.cluster, name)
                    )
                } else {
                    String::new()
                };
                return Err(Error::aws(format!("{e}{hint}")));
            }
        };
        sending.changed(format!("updated Express service '{name}'"));
        let described = self
            .d
            .ecs
            .describe_services(self.cluster, std::slice::from_ref(name))
            .await?;
        let service = described
            .find(name)
            .cloned()
            .ok_or_else(|| Error::aws(format!("service '{name}' is gone after its update")))?;
        let new = rolled_out
            .or_else(|| service.primary().map(|p| p.task_definition.clone()))
            .ok_or_else(|| {
                Error::aws(format!(
                    "ECS accepted the update of Express service '{name}' but names no task definition it rolls out; check the service in the console."
                ))
            })?;
        Ok((service, new))
    }
}
