//! Typed CodeDeploy operations over the signed client (design §10, the
//! CodeDeploy part): finding the application and deployment group that
//! deploy a service, creating a deployment from an AppSpec, and reading its
//! progress. Answers are checked like ECS's (`api`).

use serde_json::json;

use super::api::{is_object, list_of, names_the_one_asked, Api};
use super::client::{AwsError, Client};
use crate::core::watch::codedeploy::{last_log_line, Deployment, Target};
use crate::output::safe;

/// The `X-Amz-Target` prefix of the CodeDeploy API.
pub const TARGET_PREFIX: &str = "CodeDeploy_20141006";
/// CodeDeploy describes at most this many deployment groups per call.
const BATCH_GET_DEPLOYMENT_GROUPS_LIMIT: usize = 100;
/// The statuses of a deployment that is not over.
pub const ACTIVE_STATUSES: [&str; 5] = ["Created", "Queued", "InProgress", "Baking", "Ready"];

/// CodeDeploy, spoken to through one signed client.
pub struct CodeDeploy {
    api: Api,
}

/// A deployment group, and the ECS services it deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentGroup {
    pub application: String,
    pub name: String,
    /// `(cluster name, service name)` of each of its `ecsServices`.
    pub services: Vec<(String, String)>,
}

impl CodeDeploy {
    /// CodeDeploy through `client`, set up for its endpoint. A deployment
    /// that may have been created is never created again by a retry.
    pub fn new(client: Client) -> CodeDeploy {
        CodeDeploy {
            api: Api::new(client, TARGET_PREFIX, &["CreateDeployment"]),
        }
    }

    /// The names of every application.
    pub async fn applications(&self) -> Result<Vec<String>, AwsError> {
        self.api
            .list_all("ListApplications", json!({}), "applications")
            .await
    }

    /// The names of the deployment groups of `application`.
    pub async fn deployment_groups(&self, application: &str) -> Result<Vec<String>, AwsError> {
        self.api
            .list_all(
                "ListDeploymentGroups",
                json!({"applicationName": application}),
                "deploymentGroups",
            )
            .await
    }

    /// One deployment group, named; `None` when CodeDeploy does not know it.
    pub async fn deployment_group(
        &self,
        application: &str,
        name: &str,
    ) -> Result<Option<DeploymentGroup>, AwsError> {
        let input = json!({"applicationName": application, "deploymentGroupName": name});
        let described = self
            .api
            .read("GetDeploymentGroup", &input, &|reply| {
                is_object(&reply["deploymentGroupInfo"], "deploymentGroupInfo")
            })
            .await;
        match described {
            Ok(reply) => Ok(Some(group_of(application, &reply["deploymentGroupInfo"]))),
            Err(e) if e.code() == Some("DeploymentGroupDoesNotExistException") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Describes deployment groups of `application` (those CodeDeploy does
    /// not know are left out).
    pub async fn describe_deployment_groups(
        &self,
        application: &str,
        names: &[String],
    ) -> Result<Vec<DeploymentGroup>, AwsError> {
        let mut groups = Vec::new();
        for chunk in names.chunks(BATCH_GET_DEPLOYMENT_GROUPS_LIMIT) {
            let reply = self
                .api
                .read(
                    "BatchGetDeploymentGroups",
                    &json!({"applicationName": application, "deploymentGroupNames": chunk}),
                    &|reply| list_of(reply, "deploymentGroupsInfo").map(drop),
                )
                .await?;
            for info in reply["deploymentGroupsInfo"]
                .as_array()
                .into_iter()
                .flatten()
            {
                groups.push(group_of(application, info));
            }
        }
        Ok(groups)
    }

    /// Creates a deployment of `group` from an AppSpec (`content`, JSON),
    /// with its SHA-256 as CodeDeploy checks it; returns the deployment id.
    pub async fn create_deployment(
        &self,
        group: &DeploymentGroup,
        content: &str,
        description: &str,
    ) -> Result<String, AwsError> {
        let sha256 = ring::digest::digest(&ring::digest::SHA256, content.as_bytes());
        let sha256: String = sha256.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        let input = json!({
            "applicationName": group.application,
            "deploymentGroupName": group.name,
            "revision": {
                "revisionType": "AppSpecContent",
                "appSpecContent": {"content": content, "sha256": sha256}
            },
            "description": description,
        });
        let reply = self
            .api
            .read(
                "CreateDeployment",
                &input,
                &|reply| match reply["deploymentId"].as_str() {
                    Some(id) if !id.is_empty() => Ok(()),
                    _ => Err("the answer has no deploymentId".into()),
                },
            )
            .await?;
        Ok(reply["deploymentId"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// The ids of the deployments of `group` that are not over, newest first.
    pub async fn active_deployments(
        &self,
        group: &DeploymentGroup,
    ) -> Result<Vec<String>, AwsError> {
        let input = json!({
            "applicationName": group.application,
            "deploymentGroupName": group.name,
            "includeOnlyStatuses": ACTIVE_STATUSES,
        });
        self.api
            .list_all("ListDeployments", input, "deployments")
            .await
    }

    /// A deployment as it is now.
    pub async fn deployment(&self, id: &str) -> Result<(Deployment, Option<String>), AwsError> {
        let reply = self
            .api
            .read("GetDeployment", &json!({"deploymentId": id}), &|reply| {
                let info = &reply["deploymentInfo"];
                is_object(info, "deploymentInfo")?;
                names_the_one_asked(info["deploymentId"].as_str(), id, "deployment")?;
                if info["status"].as_str().is_none() {
                    return Err("the deployment has no status".into());
                }
                Ok(())
            })
            .await?;
        let description = reply["deploymentInfo"]["description"]
            .as_str()
            .map(str::to_string);
        let deployment = serde_json::from_value(reply["deploymentInfo"].clone()).map_err(|e| {
            AwsError::bad_reply("GetDeployment", format!("unexpected deployment: {e}"))
        })?;
        Ok((deployment, description))
    }

    /// The ECS target of a deployment: its lifecycle events and task sets.
    /// ECS targets are named `cluster:service`.
    pub async fn target(&self, id: &str, cluster: &str, service: &str) -> Result<Target, AwsError> {
        let target_id = format!("{cluster}:{service}");
        let input = json!({"deploymentId": id, "targetId": target_id});
        let mut reply = self
            .api
            .call("GetDeploymentTarget", &input, &|reply| {
                let target = &reply["deploymentTarget"]["ecsTarget"];
                is_object(target, "deploymentTarget.ecsTarget")?;
                // Both are optional in the model; where given, they are ours.
                for (key, asked, what) in [
                    ("deploymentId", id, "deployment"),
                    ("targetId", target_id.as_str(), "target"),
                ] {
                    if let Some(found) = target[key].as_str() {
                        names_the_one_asked(Some(found), asked, what)?;
                    }
                }
                Ok(())
            })
            .await?;
        let target = &mut reply["deploymentTarget"]["ecsTarget"];
        for event in target["lifecycleEvents"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            let log_tail = &mut event["diagnostics"]["logTail"];
            if let Some(tail) = log_tail.as_str() {
                // Only the last line is ever shown (see `last_log_line`), and
                // cleaning the answer would join the others to it.
                *log_tail = json!(last_log_line(tail));
            }
        }
        safe::clean_json(&mut reply);
        serde_json::from_value(reply["deploymentTarget"]["ecsTarget"].clone()).map_err(|e| {
            AwsError::bad_reply("GetDeploymentTarget", format!("unexpected target: {e}"))
        })
    }

    /// Stops a deployment and has CodeDeploy roll it back.
    pub async fn stop_and_roll_back(&self, id: &str) -> Result<(), AwsError> {
        self.api
            .call(
                "StopDeployment",
                &json!({"deploymentId": id, "autoRollbackEnabled": true}),
                &|reply| match reply["status"].as_str() {
                    Some(_) => Ok(()),
                    None => Err("the answer has no status".into()),
                },
            )
            .await
            .map(drop)
    }
}

/// A deployment group of `application` from its `DeploymentGroupInfo`.
fn group_of(application: &str, info: &serde_json::Value) -> DeploymentGroup {
    let services = info["ecsServices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let field = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            (field("clusterName"), field("serviceName"))
        })
        .collect();
    DeploymentGroup {
        application: application.to_string(),
        name: info["deploymentGroupName"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        services,
    }
}

/// Whether `deployed` (a `clusterName` of a deployment group: a name) is
/// the cluster `cluster` names (a name or an ARN).
pub fn same_cluster(deployed: &str, cluster: &str) -> bool {
    deployed == cluster || cluster.rsplit('/').next() == Some(deployed)
}
