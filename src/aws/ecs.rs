//! Typed ECS operations over the signed client. Task definitions stay
//! `serde_json::Value` so that nothing is lost in transit; services are read
//! into the few fields the wait needs.
//!
//! Answers are checked before they are trusted (design §11): each operation
//! names what it always answers with, and an answer without it is an error
//! of that call (retried where the call is idempotent), never an empty
//! list, a missing service or a task definition without containers.
//! Answers that are only read and shown are cleaned of control characters
//! as they arrive; task definitions are data and stay as they are.

use serde_json::{json, Value};

use super::api::{is_object, list_of, names_the_one_asked, Api};
use crate::aws::client::{AwsError, Client};
use crate::aws::in_parallel;
use crate::core::service::Service;
use crate::core::taskdef;
use crate::core::watch::service_deployment::ServiceDeployment;
use crate::output::safe;

/// The `X-Amz-Target` prefix of the ECS API.
pub const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113";
/// ECS answers at most this many task ARNs per `DescribeTasks`.
const DESCRIBE_TASKS_LIMIT: usize = 100;
/// ECS describes at most this many services per `DescribeServices`.
const DESCRIBE_SERVICES_LIMIT: usize = 10;
/// ECS describes at most this many service deployments per call.
const DESCRIBE_SERVICE_DEPLOYMENTS_LIMIT: usize = 20;

/// ECS, spoken to through one signed client.
pub struct Ecs {
    api: Api,
}

/// A described task definition and its tags.
pub struct TaskDefinition {
    pub description: Value,
    pub tags: Vec<Value>,
}

impl TaskDefinition {
    fn from_reply(mut reply: Value) -> TaskDefinition {
        // The ARN is an identifier that gets printed; the rest is data.
        if let Some(arn) = reply["taskDefinition"]["taskDefinitionArn"].as_str() {
            reply["taskDefinition"]["taskDefinitionArn"] = json!(safe::clean(arn));
        }
        TaskDefinition {
            description: reply["taskDefinition"].take(),
            tags: reply["tags"].as_array().cloned().unwrap_or_default(),
        }
    }

    /// The ARN of this revision.
    pub fn arn(&self) -> &str {
        self.description["taskDefinitionArn"]
            .as_str()
            .unwrap_or_default()
    }
}

/// What `DescribeServices` said.
#[derive(Debug, Default)]
pub struct Described {
    pub services: Vec<Service>,
    /// `(arn, reason)` of each service ECS did not describe.
    pub failures: Vec<(String, String)>,
}

impl Described {
    /// The service called `name` (a name or an ARN, as the aws-cli takes).
    pub fn find(&self, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.service_name == name || s.service_arn == name)
    }

    /// Why ECS did not describe `name` (`MISSING`, usually).
    pub fn failure(&self, name: &str) -> Option<&str> {
        self.failures
            .iter()
            .find(|(arn, _)| arn == name || arn.rsplit('/').next() == Some(name))
            .map(|(_, reason)| reason.as_str())
    }

    /// Why ECS did not describe `name`, when it said something other than MISSING.
    pub fn unusual_failure(&self, name: &str) -> Option<&str> {
        self.failure(name).filter(|reason| *reason != "MISSING")
    }
}

/// What `UpdateService` should change.
pub struct ServiceUpdate<'a> {
    pub cluster: &'a str,
    pub service: &'a str,
    /// The revision to deploy; none to change settings only (what ECS
    /// allows for a CODE_DEPLOY service).
    pub task_definition: Option<&'a str>,
    pub force_new_deployment: bool,
    pub desired_count: Option<u32>,
    pub minimum_healthy_percent: Option<u32>,
    pub maximum_percent: Option<u32>,
}

impl ServiceUpdate<'_> {
    /// The `UpdateService` input, with only the settings that were given.
    pub fn to_input(&self) -> Value {
        let mut input = json!({"cluster": self.cluster, "service": self.service});
        if let Some(task_definition) = self.task_definition {
            input["taskDefinition"] = json!(task_definition);
        }
        if self.force_new_deployment {
            input["forceNewDeployment"] = json!(true);
        }
        if let Some(count) = self.desired_count {
            input["desiredCount"] = json!(count);
        }
        if let Some(percent) = self.minimum_healthy_percent {
            input["deploymentConfiguration"]["minimumHealthyPercent"] = json!(percent);
        }
        if let Some(percent) = self.maximum_percent {
            input["deploymentConfiguration"]["maximumPercent"] = json!(percent);
        }
        input
    }
}

impl Ecs {
    /// ECS through `client`, which is set up for the ECS endpoint.
    /// Registering twice makes two revisions; every other call of ours is a
    /// read, converges (UpdateService, DeregisterTaskDefinition) or carries
    /// a client token (RunTask), so only RegisterTaskDefinition is not
    /// retried after it may have reached ECS.
    pub fn new(client: Client) -> Ecs {
        Ecs {
            api: Api::new(
                client,
                TARGET_PREFIX,
                &["RegisterTaskDefinition", "UpdateExpressGatewayService"],
            ),
        }
    }

    /// The services among `names` that ECS describes, and for the others the
    /// reason it gives (`MISSING`, usually), in as many calls as ECS's limit
    /// of ten per call needs. Every name is in one or the other: an answer
    /// that accounts for fewer is an error of the call.
    pub async fn describe_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<Described, AwsError> {
        // Each answer is read into services as it comes: a large run holds
        // the services, not the JSON of every answer.
        let parts = in_parallel(names.chunks(DESCRIBE_SERVICES_LIMIT), |chunk| async move {
            let mut reply = self
                .api
                .read(
                    "DescribeServices",
                    &json!({"cluster": cluster, "services": chunk}),
                    &|reply| accounts_for(reply, chunk),
                )
                .await?;
            let mut part = Described::default();
            if let Value::Array(services) = reply["services"].take() {
                for service in services {
                    part.services.push(parse("DescribeServices", service)?);
                }
            }
            for failure in reply["failures"].as_array().into_iter().flatten() {
                part.failures.push((
                    failure["arn"].as_str().unwrap_or_default().to_string(),
                    failure["reason"].as_str().unwrap_or("MISSING").to_string(),
                ));
            }
            Ok::<_, AwsError>(part)
        })
        .await;
        let mut described = Described::default();
        for part in parts {
            let part = part?;
            described.services.extend(part.services);
            described.failures.extend(part.failures);
        }
        Ok(described)
    }

    /// The task definition (family, family:revision or ARN); its tags only
    /// when asked, since they are needed only to copy them.
    pub async fn describe_task_definition(
        &self,
        task_definition: &str,
        with_tags: bool,
    ) -> Result<TaskDefinition, AwsError> {
        let mut input = json!({"taskDefinition": task_definition});
        if with_tags {
            input["include"] = json!(["TAGS"]);
        }
        let reply = self
            .api
            .call("DescribeTaskDefinition", &input, &|reply| {
                is_task_definition(reply)?;
                let arn = reply["taskDefinition"]["taskDefinitionArn"]
                    .as_str()
                    .unwrap_or_default();
                if taskdef::is_named_by(arn, task_definition) {
                    Ok(())
                } else {
                    Err(format!(
                        "the answer describes {}, not {task_definition}",
                        safe::clean(arn)
                    ))
                }
            })
            .await?;
        Ok(TaskDefinition::from_reply(reply))
    }

    /// Registers `input` and returns the new revision's description.
    pub async fn register_task_definition(
        &self,
        input: &Value,
    ) -> Result<TaskDefinition, AwsError> {
        let family = input["family"].as_str().unwrap_or_default();
        let reply = self
            .api
            .call("RegisterTaskDefinition", input, &|reply| {
                is_task_definition(reply)?;
                let arn = reply["taskDefinition"]["taskDefinitionArn"].as_str();
                names_the_one_asked(arn.map(taskdef::family_of), family, "family")
            })
            .await?;
        Ok(TaskDefinition::from_reply(reply))
    }

    /// Sends an `UpdateService` input (see [`ServiceUpdate::to_input`]) and
    /// returns the service as ECS now describes it.
    pub async fn update_service(&self, input: &Value) -> Result<Service, AwsError> {
        let reply = self
            .api
            .read("UpdateService", input, &|reply| {
                let service = &reply["service"];
                is_service(service)?;
                let asked = input["service"].as_str().unwrap_or_default();
                if service["serviceArn"].as_str() == Some(asked) {
                    return Ok(());
                }
                names_the_one_asked(service["serviceName"].as_str(), asked, "service")
            })
            .await?;
        parse("UpdateService", reply["service"].clone())
    }

    /// ARNs of the stopped tasks a deployment started, all pages.
    pub async fn stopped_tasks(
        &self,
        cluster: &str,
        deployment_id: &str,
    ) -> Result<Vec<String>, AwsError> {
        self.list_stopped(cluster, Some(("startedBy", deployment_id)))
            .await
    }

    /// ARNs of the stopped tasks of a service, whichever deployment
    /// started them (ECS keeps them about an hour), all pages.
    pub async fn stopped_tasks_of_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Vec<String>, AwsError> {
        self.list_stopped(cluster, Some(("serviceName", service)))
            .await
    }

    /// ARNs of every stopped task of the cluster, all pages.
    pub async fn stopped_tasks_in_cluster(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        self.list_stopped(cluster, None).await
    }

    async fn list_stopped(
        &self,
        cluster: &str,
        filter: Option<(&str, &str)>,
    ) -> Result<Vec<String>, AwsError> {
        let mut input = json!({"cluster": cluster, "desiredStatus": "STOPPED"});
        if let Some((name, value)) = filter {
            input[name] = json!(value);
        }
        self.api.list_all("ListTasks", input, "taskArns").await
    }

    /// Describes tasks, in as many calls as ECS's per-call limit needs.
    pub async fn describe_tasks(
        &self,
        cluster: &str,
        arns: &[String],
    ) -> Result<Vec<Value>, AwsError> {
        self.describe_tasks_where(cluster, arns, &|_| true).await
    }

    /// The tasks among `arns` that `keep` keeps, described: each answer is
    /// sorted as it comes, so that a look at many tasks (a cluster's
    /// stopped tasks) holds only those it wants.
    pub async fn describe_tasks_where(
        &self,
        cluster: &str,
        arns: &[String],
        keep: &dyn Fn(&Value) -> bool,
    ) -> Result<Vec<Value>, AwsError> {
        let replies = in_parallel(arns.chunks(DESCRIBE_TASKS_LIMIT), |chunk| async move {
            self.api
                .read(
                    "DescribeTasks",
                    &json!({"cluster": cluster, "tasks": chunk}),
                    &|reply| {
                        let tasks = list_of(reply, "tasks")?;
                        match tasks
                            .iter()
                            .find(|t| !chunk.iter().any(|arn| t["taskArn"] == arn.as_str()))
                        {
                            Some(other) => Err(format!(
                                "the answer describes task {}, which was not asked for",
                                safe::clean(other["taskArn"].as_str().unwrap_or("without an ARN"))
                            )),
                            None => Ok(()),
                        }
                    },
                )
                .await
                .map(|mut reply| match reply["tasks"].take() {
                    Value::Array(tasks) => tasks.into_iter().filter(|t| keep(t)).collect(),
                    _ => Vec::new(),
                })
        })
        .await;
        let mut tasks = Vec::new();
        for kept in replies {
            tasks.extend(kept?);
        }
        Ok(tasks)
    }

    /// ARNs of the ACTIVE revisions of exactly `family`, oldest first.
    /// (`familyPrefix` is a prefix match, so `web` would also list `web-worker`.)
    pub async fn active_revisions(&self, family: &str) -> Result<Vec<String>, AwsError> {
        let input = json!({"familyPrefix": family, "status": "ACTIVE", "sort": "ASC"});
        let arns = self
            .api
            .list_all("ListTaskDefinitions", input, "taskDefinitionArns")
            .await?;
        Ok(arns
            .into_iter()
            .filter(|arn| taskdef::family_of(arn) == family)
            .collect())
    }

    /// Starts one task as `input` describes; ECS may refuse to place it
    /// (`failures`) without an HTTP error.
    pub async fn run_task(&self, input: &Value) -> Result<Value, RunTaskError> {
        let reply = self
            .api
            .read("RunTask", input, &|reply| {
                if reply["tasks"].is_array() || reply["failures"].is_array() {
                    Ok(())
                } else {
                    Err("the answer has neither tasks nor failures".into())
                }
            })
            .await
            .map_err(RunTaskError::Aws)?;
        match reply["tasks"].as_array().and_then(|t| t.first()) {
            Some(task) => Ok(task.clone()),
            None => {
                let reasons: Vec<String> = reply["failures"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| {
                        let reason = f["reason"].as_str().unwrap_or("unknown reason");
                        match f["detail"].as_str() {
                            Some(detail) => format!("{reason} ({detail})"),
                            None => reason.to_string(),
                        }
                    })
                    .collect();
                Err(RunTaskError::Refused(if reasons.is_empty() {
                    "no task and no failure in the reply".into()
                } else {
                    reasons.join("; ")
                }))
            }
        }
    }

    /// Marks a revision INACTIVE.
    pub async fn deregister_task_definition(&self, arn: &str) -> Result<(), AwsError> {
        self.api
            .call(
                "DeregisterTaskDefinition",
                &json!({"taskDefinition": arn}),
                &|reply| is_object(&reply["taskDefinition"], "taskDefinition"),
            )
            .await
            .map(drop)
    }
}

/// A service deployment as `ListServiceDeployments` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentBrief {
    pub arn: String,
    pub status: String,
}

impl Ecs {
    /// The newest service deployments of a service, newest first (the first
    /// page holds the newest, which is all a deploy needs).
    pub async fn list_service_deployments(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Vec<DeploymentBrief>, AwsError> {
        self.list_service_deployments_in(cluster, service, &[])
            .await
    }

    /// The newest service deployments of a service in one of `statuses`
    /// (all where empty), newest first.
    pub async fn list_service_deployments_in(
        &self,
        cluster: &str,
        service: &str,
        statuses: &[&str],
    ) -> Result<Vec<DeploymentBrief>, AwsError> {
        let mut input = json!({"cluster": cluster, "service": service});
        if !statuses.is_empty() {
            input["status"] = json!(statuses);
        }
        let reply = self
            .api
            .read("ListServiceDeployments", &input, &|reply| {
                let briefs = list_of(reply, "serviceDeployments")?;
                if briefs
                    .iter()
                    .any(|b| b["serviceDeploymentArn"].as_str().is_none())
                {
                    return Err("a service deployment has no serviceDeploymentArn".into());
                }
                Ok(())
            })
            .await?;
        Ok(reply["serviceDeployments"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| DeploymentBrief {
                arn: b["serviceDeploymentArn"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                status: b["status"].as_str().unwrap_or_default().to_string(),
            })
            .collect())
    }

    /// Describes service deployments, in as many calls as ECS's limit of
    /// twenty per call needs. Every ARN must be described or listed among
    /// the failures; those ECS does not know are left out.
    pub async fn describe_service_deployments(
        &self,
        arns: &[String],
    ) -> Result<Vec<ServiceDeployment>, AwsError> {
        let parts = in_parallel(
            arns.chunks(DESCRIBE_SERVICE_DEPLOYMENTS_LIMIT),
            |chunk| async move {
                let mut reply = self
                    .api
                    .read(
                        "DescribeServiceDeployments",
                        &json!({"serviceDeploymentArns": chunk}),
                        &|reply| deployments_account_for(reply, chunk),
                    )
                    .await?;
                let Value::Array(deployments) = reply["serviceDeployments"].take() else {
                    return Ok(Vec::new());
                };
                deployments
                    .into_iter()
                    .map(|deployment| {
                        serde_json::from_value(deployment).map_err(|e| {
                            AwsError::bad_reply(
                                "DescribeServiceDeployments",
                                format!("unexpected service deployment: {e}"),
                            )
                        })
                    })
                    .collect::<Result<Vec<ServiceDeployment>, AwsError>>()
            },
        )
        .await;
        let mut described = Vec::new();
        for part in parts {
            described.extend(part?);
        }
        Ok(described)
    }

    /// Asks ECS to roll a service deployment back (`stopType: ROLLBACK`):
    /// traffic and tasks go back to the revision it replaced.
    pub async fn roll_back_service_deployment(&self, arn: &str) -> Result<(), AwsError> {
        self.api
            .call(
                "StopServiceDeployment",
                &json!({"serviceDeploymentArn": arn, "stopType": "ROLLBACK"}),
                &|reply| names_the_deployment(reply, arn),
            )
            .await
            .map(drop)
    }

    /// Answers a PAUSE hook: `action` is `CONTINUE` or `ROLLBACK`.
    pub async fn continue_service_deployment(
        &self,
        arn: &str,
        hook_id: &str,
        action: &str,
    ) -> Result<(), AwsError> {
        self.api
            .call(
                "ContinueServiceDeployment",
                &json!({"serviceDeploymentArn": arn, "hookId": hook_id, "action": action}),
                &|reply| names_the_deployment(reply, arn),
            )
            .await
            .map(drop)
    }
}

impl Ecs {
    /// The task definition of each service revision (`arn` → task
    /// definition), in as many calls as ECS's limit of twenty per call
    /// needs; revisions ECS does not know are left out.
    pub async fn service_revision_task_definitions(
        &self,
        arns: &[String],
    ) -> Result<Vec<(String, String)>, AwsError> {
        let mut found = Vec::new();
        for chunk in arns.chunks(DESCRIBE_SERVICE_DEPLOYMENTS_LIMIT) {
            let reply = self
                .api
                .read(
                    "DescribeServiceRevisions",
                    &json!({"serviceRevisionArns": chunk}),
                    &|reply| {
                        let revisions = list_of(reply, "serviceRevisions")?;
                        match revisions.iter().find(|r| {
                            !chunk
                                .iter()
                                .any(|arn| r["serviceRevisionArn"] == arn.as_str())
                        }) {
                            Some(other) => Err(format!(
                                "the answer describes service revision {}, which was not asked for",
                                safe::clean(
                                    other["serviceRevisionArn"].as_str().unwrap_or_default()
                                )
                            )),
                            None => Ok(()),
                        }
                    },
                )
                .await?;
            for revision in reply["serviceRevisions"].as_array().into_iter().flatten() {
                if let (Some(arn), Some(td)) = (
                    revision["serviceRevisionArn"].as_str(),
                    revision["taskDefinition"].as_str(),
                ) {
                    found.push((arn.to_string(), td.to_string()));
                }
            }
        }
        Ok(found)
    }

    /// An Express service as `DescribeExpressGatewayService` describes it
    /// (`{service: {activeConfigurations, …}}`). Its primary container is
    /// data the next update sends back: it is not cleaned.
    pub async fn describe_express_service(&self, service_arn: &str) -> Result<Value, AwsError> {
        self.api
            .call(
                "DescribeExpressGatewayService",
                &json!({"serviceArn": service_arn}),
                &|reply| {
                    let service = &reply["service"];
                    is_object(service, "service")?;
                    names_the_one_asked(service["serviceArn"].as_str(), service_arn, "service")?;
                    list_of(service, "activeConfigurations").map(drop)
                },
            )
            .await
    }

    /// Sends an `UpdateExpressGatewayService` input (see
    /// `core::express::update_input`); returns the task definition of the
    /// configuration it deploys (`targetConfiguration.taskDefinitionArn`),
    /// where ECS says.
    pub async fn update_express_service(&self, input: &Value) -> Result<Option<String>, AwsError> {
        let asked = input["serviceArn"].as_str().unwrap_or_default();
        let reply = self
            .api
            .read("UpdateExpressGatewayService", input, &|reply| {
                let service = &reply["service"];
                is_object(service, "service")?;
                names_the_one_asked(service["serviceArn"].as_str(), asked, "service")
            })
            .await?;
        Ok(reply["service"]["targetConfiguration"]["taskDefinitionArn"]
            .as_str()
            .map(str::to_string))
    }
}

/// Why `RunTask` started nothing.
pub enum RunTaskError {
    /// The call itself failed.
    Aws(AwsError),
    /// ECS answered but placed no task (e.g. `RESOURCE:MEMORY`).
    Refused(String),
}

/// A `DescribeServiceDeployments` answer that describes, or lists among
/// the failures, every deployment asked for.
fn deployments_account_for(reply: &Value, arns: &[String]) -> Result<(), String> {
    let described = list_of(reply, "serviceDeployments")?;
    if described
        .iter()
        .any(|d| d["serviceDeploymentArn"].as_str().is_none() || d["status"].as_str().is_none())
    {
        return Err("a service deployment has no serviceDeploymentArn or status".into());
    }
    if let Some(other) = described.iter().find(|d| {
        !arns
            .iter()
            .any(|arn| d["serviceDeploymentArn"] == arn.as_str())
    }) {
        return Err(format!(
            "the answer describes service deployment {}, which was not asked for",
            safe::clean(other["serviceDeploymentArn"].as_str().unwrap_or_default())
        ));
    }
    let failures = reply["failures"].as_array();
    let missing = arns.iter().find(|arn| {
        let named = |v: &Value, key: &str| v[key].as_str() == Some(arn.as_str());
        !described.iter().any(|d| named(d, "serviceDeploymentArn"))
            && !failures.is_some_and(|f| f.iter().any(|f| named(f, "arn")))
    });
    match missing {
        Some(arn) => Err(format!("the answer says nothing about {arn}")),
        None => Ok(()),
    }
}

/// The answer of StopServiceDeployment and ContinueServiceDeployment: the
/// service deployment asked about.
fn names_the_deployment(reply: &Value, arn: &str) -> Result<(), String> {
    names_the_one_asked(
        reply["serviceDeploymentArn"].as_str(),
        arn,
        "service deployment",
    )
}

/// A task definition answer: an ARN and container definitions.
fn is_task_definition(reply: &Value) -> Result<(), String> {
    let td = &reply["taskDefinition"];
    is_object(td, "taskDefinition")?;
    if td["taskDefinitionArn"].as_str().is_none_or(str::is_empty) {
        return Err("the task definition has no taskDefinitionArn".into());
    }
    if !td["containerDefinitions"].is_array() {
        return Err("the task definition has no containerDefinitions".into());
    }
    Ok(())
}

/// A service as the wait needs it: a name and status, and for an ACTIVE
/// service its deployments, each with an id, a status and a task definition.
fn is_service(service: &Value) -> Result<(), String> {
    is_object(service, "service")?;
    let text = |v: &Value, key: &str| v[key].as_str().is_some_and(|s| !s.is_empty());
    if !text(service, "serviceName") || !text(service, "status") {
        return Err("a service has no serviceName or status".into());
    }
    if service["status"] != "ACTIVE" {
        return Ok(());
    }
    let deployments = service["deployments"]
        .as_array()
        .ok_or("an ACTIVE service has no deployments list")?;
    if deployments
        .iter()
        .any(|d| !text(d, "id") || !text(d, "status") || !text(d, "taskDefinition"))
    {
        return Err("a deployment has no id, status or taskDefinition".into());
    }
    Ok(())
}

/// A `DescribeServices` answer that says something about every service
/// asked for: described, or listed among the failures.
fn accounts_for(reply: &Value, names: &[String]) -> Result<(), String> {
    let services = list_of(reply, "services")?;
    services.iter().try_for_each(is_service)?;
    let failures = match &reply["failures"] {
        Value::Null => &Vec::new(),
        other => other.as_array().ok_or("the failures are not a list")?,
    };
    let unaccounted: Vec<&str> = names
        .iter()
        .filter(|name| {
            let described = services
                .iter()
                .any(|s| s["serviceName"] == name.as_str() || s["serviceArn"] == name.as_str());
            let failed = failures.iter().any(|f| {
                f["arn"]
                    .as_str()
                    .is_some_and(|arn| arn == name.as_str() || arn.rsplit('/').next() == Some(name))
            });
            !described && !failed
        })
        .map(String::as_str)
        .collect();
    if unaccounted.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the answer says nothing about {}",
            unaccounted.join(", ")
        ))
    }
}

fn parse(operation: &str, service: Value) -> Result<Service, AwsError> {
    serde_json::from_value(service)
        .map_err(|e| AwsError::bad_reply(operation, format!("unexpected service description: {e}")))
}

#[cfg(test)]
pub(crate) mod tests {
    //! The answer checks against the AWS CLI's examples of the calls
    //! ecs-deploy makes (`fixtures/awscli/ecs`, written by AWS from real
    //! accounts; `src/core/aws_examples.rs` reads them through the core):
    //! each real answer is accepted and read as its text describes, through
    //! the check alone and through the whole call to a loopback server.
    use serde_json::{json, Value};
    use wiremock::matchers::{header, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::aws::client::{http_client, Endpoint, Route};

    macro_rules! example {
        ($path:literal) => {
            serde_json::from_str::<Value>(include_str!(concat!("../../fixtures/awscli/", $path)))
                .expect($path)
        };
    }

    /// A client of a loopback server that answers the first `target`
    /// operation (`{prefix}.{op}`) with `body` and the next with a
    /// ClientException "asked again": an answer the call's check refuses is
    /// asked for once more (after at most a second), and the call then fails
    /// with that error.
    pub(crate) async fn answering(
        signing_name: &'static str,
        target: &str,
        body: &Value,
    ) -> (MockServer, Client) {
        let server = MockServer::start().await;
        let json = "application/x-amz-json-1.1";
        Mock::given(method("POST"))
            .and(header("x-amz-target", target))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body.to_string(), json))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        let refusal = json!({"__type": "ClientException", "message": "asked again"});
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_raw(refusal.to_string(), json))
            .with_priority(2)
            .mount(&server)
            .await;
        let endpoint = Endpoint {
            signing_name,
            url: server.uri().parse().unwrap(),
            region: "us-east-1".into(),
        };
        let client = Client::new(
            http_client(&[], Route::Direct).unwrap(),
            endpoint,
            None,
            false,
        );
        (server, client)
    }

    /// Whether `result` is the error of an answer refused and asked again.
    pub(crate) fn asked_again<T>(result: Result<T, AwsError>) -> bool {
        matches!(result, Err(e) if e.code() == Some("ClientException"))
    }

    async fn answered(operation: &str, body: &Value) -> (MockServer, Ecs) {
        let (server, client) =
            answering("ecs", &format!("{TARGET_PREFIX}.{operation}"), body).await;
        (server, Ecs::new(client))
    }

    const SERVICE_DEPLOYMENT: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/example-cluster/example-service/ejGvqq2ilnbKT9qj0vLJe";

    #[test]
    fn the_answer_checks_accept_every_real_answer() {
        let described = example!("ecs/describe-services-1.json");
        let arn = "arn:aws:ecs:us-west-2:123456789012:service/my-http-service";
        for asked in ["my-http-service", arn] {
            assert_eq!(accounts_for(&described, &[asked.into()]), Ok(()), "{asked}");
        }
        for updated in [
            example!("ecs/update-service-1.json"),
            example!("ecs/update-service-3.json"),
            example!("ecs/update-service-4.json"),
        ] {
            assert_eq!(is_service(&updated["service"]), Ok(()));
        }
        let deployments = example!("ecs/describe-service-deployments-1.json");
        assert_eq!(
            deployments_account_for(&deployments, &[SERVICE_DEPLOYMENT.into()]),
            Ok(())
        );
        for td in [
            example!("ecs/describe-task-definition-1.json"),
            example!("ecs/register-task-definition-1.json"),
            example!("ecs/deregister-task-definition-1.json"),
        ] {
            assert_eq!(is_task_definition(&td), Ok(()));
        }
    }

    /// The answer checks hold the real answers to what was asked.
    #[test]
    fn the_answer_checks_refuse_a_real_answer_to_another_question() {
        let described = example!("ecs/describe-services-1.json");
        assert_eq!(
            accounts_for(&described, &["my-http-service".into(), "web".into()]),
            Err("the answer says nothing about web".into())
        );
        let deployments = example!("ecs/describe-service-deployments-1.json");
        let other = SERVICE_DEPLOYMENT.replace("ejGvqq2ilnbKT9qj0vLJe", "other");
        assert!(deployments_account_for(&deployments, &[other])
            .unwrap_err()
            .ends_with("which was not asked for"));
    }

    /// Examples 2 and 5 of update-service misspell the deployment's
    /// `taskDefinition` (`taskkDefinition`): no real answer does, and a
    /// deployment without its revision cannot be judged, so it is refused.
    #[test]
    fn a_deployment_without_its_task_definition_is_refused() {
        for updated in [
            example!("ecs/update-service-2.json"),
            example!("ecs/update-service-5.json"),
        ] {
            assert_eq!(
                is_service(&updated["service"]),
                Err("a deployment has no id, status or taskDefinition".into())
            );
        }
    }

    #[tokio::test]
    async fn every_call_reads_its_real_answer() {
        let (_s, ecs) = answered(
            "DescribeServices",
            &example!("ecs/describe-services-1.json"),
        )
        .await;
        let described = ecs
            .describe_services("default", &["my-http-service".into()])
            .await
            .unwrap();
        assert_eq!(described.find("my-http-service").unwrap().desired_count, 10);
        assert!(described.failures.is_empty());

        let (_s, ecs) = answered("UpdateService", &example!("ecs/update-service-1.json")).await;
        let update = json!({"cluster": "test", "service": "my-http-service", "taskDefinition": "amazon-ecs-sample"});
        let updated = ecs.update_service(&update).await.unwrap();
        assert_eq!(updated.primary().unwrap().id, "ecs-svc/7419115625193919142");

        let (_s, ecs) = answered(
            "ListServiceDeployments",
            &example!("ecs/list-service-deployments-1.json"),
        )
        .await;
        let service = "arn:aws:ecs:us-east-1:123456789012:service/example-cluster/example-service";
        assert_eq!(
            ecs.list_service_deployments("example-cluster", service)
                .await
                .unwrap(),
            [DeploymentBrief {
                arn: SERVICE_DEPLOYMENT.into(),
                status: "SUCCESSFUL".into()
            }]
        );

        let (_s, ecs) = answered(
            "DescribeServiceDeployments",
            &example!("ecs/describe-service-deployments-1.json"),
        )
        .await;
        let described = ecs
            .describe_service_deployments(&[SERVICE_DEPLOYMENT.into()])
            .await
            .unwrap();
        assert_eq!(described[0].status, "SUCCESSFUL");

        let (_s, ecs) = answered(
            "DescribeTaskDefinition",
            &example!("ecs/describe-task-definition-1.json"),
        )
        .await;
        let td = ecs
            .describe_task_definition("hello_world:8", true)
            .await
            .unwrap();
        assert_eq!(
            td.arn(),
            "arn:aws:ecs:us-east-1:012345678910:task-definition/hello_world:8"
        );
        assert!(td.tags.is_empty());

        let (_s, ecs) = answered(
            "RegisterTaskDefinition",
            &example!("ecs/register-task-definition-1.json"),
        )
        .await;
        let registered = ecs
            .register_task_definition(&json!({"family": "sleep360", "containerDefinitions": []}))
            .await
            .unwrap();
        assert!(registered.arn().ends_with("task-definition/sleep360:1"));

        let (_s, ecs) = answered(
            "DeregisterTaskDefinition",
            &example!("ecs/deregister-task-definition-1.json"),
        )
        .await;
        let curler = "arn:aws:ecs:us-west-2:123456789012:task-definition/curler:1";
        ecs.deregister_task_definition(curler).await.unwrap();

        // Every revision of every family, then those of wordpress (the
        // command's --family-prefix): four of wordpress either way.
        for listed in [
            example!("ecs/list-task-definitions-1.json"),
            example!("ecs/list-task-definitions-2.json"),
        ] {
            let (_s, ecs) = answered("ListTaskDefinitions", &listed).await;
            let wordpress = ecs.active_revisions("wordpress").await.unwrap();
            assert_eq!(wordpress.len(), 4, "{wordpress:?}");
        }

        for (listed, count) in [
            (example!("ecs/list-tasks-1.json"), 2),
            (example!("ecs/list-tasks-2.json"), 1),
        ] {
            let (_s, ecs) = answered("ListTasks", &listed).await;
            let stopped = ecs.stopped_tasks("default", "ecs-svc/1").await.unwrap();
            assert_eq!(stopped.len(), count);
        }

        let reply = example!("ecs/describe-tasks-2.json");
        let arns: Vec<String> = reply["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["taskArn"].as_str().unwrap().to_string())
            .collect();
        let (_s, ecs) = answered("DescribeTasks", &reply).await;
        assert_eq!(
            ecs.describe_tasks("MyCluster", &arns).await.unwrap().len(),
            2
        );

        let (_s, ecs) = answered("RunTask", &example!("ecs/run-task-1.json")).await;
        let input = json!({"cluster": "default", "taskDefinition": "sleep360:1"});
        let Ok(task) = ecs.run_task(&input).await else {
            panic!("RunTask's answer is a task")
        };
        assert_eq!(task["lastStatus"], "PENDING");
    }

    /// describe-tasks' first example asks for task `…4d590253bb114126b7afa7b58EXAMPLE`
    /// and shows task `…4d590253bb114126b7afa7b58eea9221` (AWS left one ARN
    /// half made up): an answer about a task not asked for is refused.
    #[tokio::test]
    async fn an_answer_about_another_task_is_refused() {
        let (server, ecs) = answered("DescribeTasks", &example!("ecs/describe-tasks-1.json")).await;
        let asked =
            "arn:aws:ecs:us-east-1:123456789012:task/MyCluster/4d590253bb114126b7afa7b58EXAMPLE";
        assert!(asked_again(
            ecs.describe_tasks("MyCluster", &[asked.into()]).await
        ));
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
    }
}
