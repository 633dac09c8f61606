//! Deploying a CODE_DEPLOY service (design §10): the same command line as
//! any other service, through AWS CodeDeploy. Before any write, the
//! deployment group that deploys the service is found (or the one named is
//! checked) and the AppSpec is worked out; then the new revision is
//! registered, a deployment created from the AppSpec, and watched with the
//! other services (`watch`); a timeout with `--enable-rollback` stops it with
//! CodeDeploy's own rollback.

use std::path::Path;

use serde_json::Value;

use super::context::Run;
use super::watch::{FollowedCodeDeploy, Tracked};
use crate::aws::client::random_u64;
use crate::aws::codedeploy::{same_cluster, DeploymentGroup};
use crate::core::appspec;
use crate::core::model::Model;
use crate::core::model::READY;
use crate::core::service::Service;
use crate::core::shell::command_line;
use crate::core::taskdef::short_revision;
use crate::core::watch::rolling::Watch;
use crate::error::{exit, Error};
use crate::request::ImageChange;

/// Reads and checks `--codedeploy-appspec` before any AWS call.
pub async fn read_appspec_file(path: &Path) -> Result<Value, Error> {
    let problem = |why: String| {
        Error::usage(
            exit::USAGE,
            format!(
                "--codedeploy-appspec {}: {why}; nothing was registered.",
                path.display()
            ),
        )
    };
    let text = crate::files::read_text(path)
        .await
        .map_err(|e| problem(format!("cannot read it ({e})")))?;
    appspec::parse(&text).map_err(problem)
}

impl Run<'_> {
    /// The deployment group that deploys `service`: the one named on the
    /// command line, checked, or the only one of all applications whose
    /// `ecsServices` hold it. None or several stop the run before anything
    /// is registered, with what was found.
    pub(super) async fn deployment_group(
        &self,
        service: &Service,
    ) -> Result<DeploymentGroup, Error> {
        let name = &service.service_name;
        let codedeploy = &self.d.codedeploy;
        let named = self.d.config.codedeploy_group.as_ref();
        let applications = match named {
            Some(named) => vec![named.application.clone()],
            None => codedeploy.applications().await?,
        };
        let mut found = Vec::new();
        let mut others = Vec::new();
        for application in applications {
            let described = match named.and_then(|n| n.group.as_ref()) {
                // Named: only that one, checked.
                Some(group) => match codedeploy
                    .deployment_group(&application, group)
                    .await?
                {
                    Some(described) => vec![described],
                    None => {
                        return Err(Error::aws(format!(
                            "CodeDeploy application '{application}' has no deployment group '{group}'; nothing was registered."
                        )))
                    }
                },
                None => {
                    let groups = codedeploy
                        .deployment_groups(&application)
                        .await?;
                    codedeploy
                        .describe_deployment_groups(&application, &groups)
                        .await?
                }
            };
            for group in described {
                let deploys_it = group
                    .services
                    .iter()
                    .any(|(cluster, s)| s == name && same_cluster(cluster, self.cluster));
                if deploys_it {
                    found.push(group);
                } else {
                    others.push(group);
                }
            }
        }
        let describe = |groups: &[DeploymentGroup]| {
            groups
                .iter()
                .map(|g| {
                    let services: Vec<String> =
                        g.services.iter().map(|(c, s)| format!("{c}/{s}")).collect();
                    format!(
                        "{}/{} (deploys {})",
                        g.application,
                        g.name,
                        if services.is_empty() {
                            "nothing".to_string()
                        } else {
                            services.join(", ")
                        }
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Error::failed(format!(
                "service '{name}' is deployed by AWS CodeDeploy, but no deployment group deploys {}/{name}{}; nothing was registered. Name one with --codedeploy-application and --codedeploy-deployment-group.",
                self.cluster,
                if others.is_empty() {
                    " (no deployment group was found at all)".to_string()
                } else {
                    format!(". Deployment groups found: {}", describe(&others))
                }
            ))),
            _ => Err(Error::failed(format!(
                "service '{name}' is deployed by several CodeDeploy deployment groups: {}; name one with --codedeploy-application and --codedeploy-deployment-group. Nothing was registered.",
                describe(&found)
            ))),
        }
    }

    /// The AppSpec that deploys `task_definition` to `service`, merged into
    /// the `--codedeploy-appspec` file where one is given.
    pub(super) fn appspec(&self, task_definition: &str, service: &Service) -> Result<Value, Error> {
        let base = self.appspec;
        appspec::build(task_definition, service, base).map_err(|why| {
            let message = format!(
                "the AppSpec for service '{}' cannot be built: {why}; nothing was registered.",
                service.service_name
            );
            match base {
                Some(_) => Error::usage(exit::USAGE, format!("--codedeploy-appspec: {message}")),
                None => Error::failed(message),
            }
        })
    }

    /// Creates the CodeDeploy deployment of `new` and sets up its watch.
    /// A lost answer is not answered with a second deployment: the group's
    /// deployments in progress are searched for the one this run created
    /// (its description carries a token of this run).
    pub(super) async fn create_codedeploy_deployment(
        &self,
        before: &Service,
        group: &DeploymentGroup,
        appspec: &Value,
        new: &str,
        current: &str,
    ) -> Result<Tracked, Error> {
        let name = &before.service_name;
        let images = match &self.d.config.change {
            ImageChange::Image(image) => format!(" (image {image})"),
            ImageChange::TagOnly(tag) => format!(" (tag {tag})"),
            ImageChange::Unchanged => String::new(),
        };
        let token = format!("{:08x}", random_u64() as u32);
        let description = format!(
            "ecs-deploy: {} to {name}{images} [run {token}]",
            short_revision(new)
        );
        let content = serde_json::to_string(appspec).expect("JSON serialises");
        let journal = self.d.journal;
        let sending = journal.sending(
            "CodeDeploy",
            format!(
                "creating a CodeDeploy deployment of service '{name}' ({}/{})",
                group.application, group.name
            ),
        );
        let id = match self
            .d
            .codedeploy
            .create_deployment(group, &content, &description)
            .await
        {
            Ok(id) => id,
            Err(e) if e.may_have_acted() => {
                match self.created_by_this_run(group, &description).await {
                    Some(id) => {
                        self.say(name, format!(
                        "CreateDeployment's answer was lost ({e}), but CodeDeploy shows this run's deployment {id}: going on."
                    ));
                        id
                    }
                    None => {
                        sending.settled();
                        return Err(Error::aws(format!(
                        "{e}. The request may have reached CodeDeploy; check for a deployment of {}/{}: {}",
                        group.application,
                        group.name,
                        command_line(&[
                            "aws", "deploy", "list-deployments",
                            "--application-name", &group.application,
                            "--deployment-group-name", &group.name,
                        ])
                    )));
                    }
                }
            }
            Err(e) => {
                sending.settled();
                return Err(Error::from(e));
            }
        };
        sending.changed(format!(
            "CodeDeploy deployment {id} of service '{name}' to {}",
            short_revision(new)
        ));
        let goal = match self.d.config.wait_until.as_deref() {
            Some(READY) => "until it is READY for test traffic",
            _ => "for it to complete",
        };
        self.say(
            name,
            format!(
                "CodeDeploy deployment {id} of {} created ({}/{}). Waiting {goal} (timeout {} s)...",
                short_revision(new),
                group.application,
                group.name,
                self.timeout.as_secs_f64()
            ),
        );
        // The deployment's tasks are known once its replacement task set is.
        let watch = Watch {
            deployment_id: String::new(),
            task_definition: new.to_string(),
            previous_task_definition: current.to_string(),
        };
        Ok(Tracked {
            codedeploy: Some(FollowedCodeDeploy::new(id)),
            until: self.d.config.wait_until.clone(),
            ..Tracked::new(name, Model::CodeDeploy, watch, before, before.clone(), None)
        })
    }

    /// The deployment in progress of `group` whose description is this run's.
    async fn created_by_this_run(
        &self,
        group: &DeploymentGroup,
        description: &str,
    ) -> Option<String> {
        let codedeploy = &self.d.codedeploy;
        for id in codedeploy.active_deployments(group).await.ok()? {
            if let Ok((_, Some(said))) = codedeploy.deployment(&id).await {
                if said == description {
                    return Some(id);
                }
            }
        }
        None
    }
}
