//! Typed CodeDeploy operations over the signed client (design §10, the
//! CodeDeploy part): finding the application and deployment group that
//! deploy a service, creating a deployment from an AppSpec, and reading its
//! progress. Answers are checked like ECS's (`api`).

use serde_json::json;

use super::api::{is_object, list_of, names_the_one_asked, strings, Api};
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

    /// The newest deployment of `group`, whatever its status (CodeDeploy
    /// lists the newest first).
    pub async fn newest_deployment(
        &self,
        group: &DeploymentGroup,
    ) -> Result<Option<String>, AwsError> {
        let input = json!({
            "applicationName": group.application,
            "deploymentGroupName": group.name,
        });
        let reply = self
            .api
            .read("ListDeployments", &input, &|reply| {
                list_of(reply, "deployments").map(drop)
            })
            .await?;
        let newest = strings(&reply["deployments"]).next();
        Ok(newest)
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

#[cfg(test)]
mod tests {
    //! The calls against the AWS CLI's examples of the CodeDeploy calls
    //! ecs-deploy makes (`fixtures/awscli/deploy`, written by AWS from real
    //! accounts; `src/core/aws_examples.rs` judges them): each real answer is
    //! accepted and read as its text describes, through the whole call to a
    //! loopback server (the checks are the calls' own).
    use serde_json::Value;

    use super::*;
    use crate::aws::ecs::tests::{answering, asked_again};

    macro_rules! example {
        ($path:literal) => {
            serde_json::from_str::<Value>(include_str!(concat!("../../fixtures/awscli/", $path)))
                .expect($path)
        };
    }

    async fn answered(operation: &str, body: &Value) -> (wiremock::MockServer, CodeDeploy) {
        let target = format!("{TARGET_PREFIX}.{operation}");
        let (server, client) = answering("codedeploy", &target, body).await;
        (server, CodeDeploy::new(client))
    }

    fn wordpress() -> DeploymentGroup {
        DeploymentGroup {
            application: "WordPress_App".into(),
            name: "WordPress_DG".into(),
            services: Vec::new(),
        }
    }

    #[tokio::test]
    async fn every_call_reads_its_real_answer() {
        let (_s, cd) = answered(
            "ListApplications",
            &example!("deploy/list-applications-1.json"),
        )
        .await;
        assert_eq!(
            cd.applications().await.unwrap(),
            ["WordPress_App", "MyOther_App"]
        );

        let (_s, cd) = answered(
            "ListDeploymentGroups",
            &example!("deploy/list-deployment-groups-1.json"),
        )
        .await;
        assert_eq!(
            cd.deployment_groups("WordPress_App").await.unwrap(),
            ["WordPress_DG", "WordPress_Beta_DG"]
        );

        // EC2 groups, the only kind the examples show: no ECS service in them.
        let (_s, cd) = answered(
            "GetDeploymentGroup",
            &example!("deploy/get-deployment-group-1.json"),
        )
        .await;
        assert_eq!(
            cd.deployment_group("WordPress_App", "WordPress_DG")
                .await
                .unwrap(),
            Some(wordpress())
        );
        let (_s, cd) = answered(
            "BatchGetDeploymentGroups",
            &example!("deploy/batch-get-deployment-groups-1.json"),
        )
        .await;
        let names = [
            "my-deployment-group-1".into(),
            "my-deployment-group-2".into(),
        ];
        let groups = cd
            .describe_deployment_groups("my-codedeploy-application", &names)
            .await
            .unwrap();
        let found: Vec<(&str, usize)> = groups
            .iter()
            .map(|g| (g.name.as_str(), g.services.len()))
            .collect();
        assert_eq!(
            found,
            [("my-deployment-group-1", 0), ("my-deployment-group-2", 0)]
        );

        // Example 1 deploys to EC2, example 2 an ECS service: the same answer.
        for (created, id) in [
            (example!("deploy/create-deployment-1.json"), "d-A1B2C3111"),
            (example!("deploy/create-deployment-2.json"), "d-1234ABCDE"),
        ] {
            let (_s, cd) = answered("CreateDeployment", &created).await;
            let made = cd.create_deployment(&wordpress(), "{}", "ecs-deploy").await;
            assert_eq!(made.unwrap(), id);
        }

        let (_s, cd) = answered(
            "ListDeployments",
            &example!("deploy/list-deployments-1.json"),
        )
        .await;
        assert_eq!(
            cd.active_deployments(&wordpress()).await.unwrap(),
            ["d-EXAMPLE11", "d-EXAMPLE22", "d-EXAMPLE33"]
        );

        let (_s, cd) = answered("GetDeployment", &example!("deploy/get-deployment-1.json")).await;
        let (deployment, description) = cd.deployment("d-A1B2C3123").await.unwrap();
        assert_eq!(deployment.status, "Succeeded");
        assert_eq!(description.as_deref(), Some("My WordPress app deployment"));

        let (_s, cd) = answered("StopDeployment", &example!("deploy/stop-deployment-1.json")).await;
        cd.stop_and_roll_back("d-A1B2C3111").await.unwrap();
    }

    /// GetDeploymentTarget's example is an EC2 instance's target: ecs-deploy
    /// asks only for the ECS target `cluster:service`, and an answer
    /// without `ecsTarget` is refused. And a deployment asked for is the one
    /// the answer must describe.
    #[tokio::test]
    async fn answers_about_another_target_or_deployment_are_refused() {
        let (server, cd) = answered(
            "GetDeploymentTarget",
            &example!("deploy/get-deployment-target-1.json"),
        )
        .await;
        assert!(asked_again(cd.target("d-A1B2C3111", "prod", "web").await));
        assert_eq!(server.received_requests().await.unwrap().len(), 2);

        let (server, cd) =
            answered("GetDeployment", &example!("deploy/get-deployment-1.json")).await;
        assert!(asked_again(cd.deployment("d-OTHER").await));
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
    }
}
