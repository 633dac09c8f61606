//! Typed ECS operations over the signed client. Task definitions stay
//! `serde_json::Value` so that nothing is lost in transit; services are read
//! into the few fields the wait needs.

use serde_json::{json, Value};

use crate::aws::client::{AwsError, Client};
use crate::rollout::Service;

/// The `X-Amz-Target` prefix of the ECS API.
pub const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113";
/// ECS answers at most this many task ARNs per `DescribeTasks`.
const DESCRIBE_TASKS_LIMIT: usize = 100;
/// ECS describes at most this many services per `DescribeServices`.
const DESCRIBE_SERVICES_LIMIT: usize = 10;

/// ECS, spoken to through one signed client.
pub struct Ecs {
    client: Client,
}

/// A described task definition and its tags.
pub struct TaskDefinition {
    pub description: Value,
    pub tags: Vec<Value>,
}

impl TaskDefinition {
    fn from_reply(reply: Value) -> TaskDefinition {
        TaskDefinition {
            description: reply["taskDefinition"].clone(),
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

    /// Why ECS did not describe `name`, when it said something other than MISSING.
    pub fn unusual_failure(&self, name: &str) -> Option<&str> {
        self.failures
            .iter()
            .find(|(arn, _)| arn == name || arn.rsplit('/').next() == Some(name))
            .map(|(_, reason)| reason.as_str())
            .filter(|reason| *reason != "MISSING")
    }
}

/// What `UpdateService` should change.
pub struct ServiceUpdate<'a> {
    pub cluster: &'a str,
    pub service: &'a str,
    pub task_definition: &'a str,
    pub force_new_deployment: bool,
    pub desired_count: Option<u32>,
    pub minimum_healthy_percent: Option<u32>,
    pub maximum_percent: Option<u32>,
}

impl ServiceUpdate<'_> {
    /// The `UpdateService` input, with only the settings that were given.
    pub fn to_input(&self) -> Value {
        let mut input = json!({
            "cluster": self.cluster,
            "service": self.service,
            "taskDefinition": self.task_definition,
        });
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
    pub fn new(client: Client) -> Ecs {
        Ecs { client }
    }

    async fn call(&self, operation: &str, input: &Value) -> Result<Value, AwsError> {
        // Registering twice makes two revisions; every other call of ours is
        // a read, converges (UpdateService, DeregisterTaskDefinition) or
        // carries a client token (RunTask).
        let idempotent = operation != "RegisterTaskDefinition";
        self.client
            .call_json(TARGET_PREFIX, operation, input, idempotent)
            .await
    }

    /// The services among `names` that ECS describes, and for the others the
    /// reason it gives (`MISSING`, usually), in as many calls as ECS's limit
    /// of ten per call needs.
    pub async fn describe_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<Described, AwsError> {
        let mut described = Described::default();
        for chunk in names.chunks(DESCRIBE_SERVICES_LIMIT) {
            let reply = self
                .call(
                    "DescribeServices",
                    &json!({"cluster": cluster, "services": chunk}),
                )
                .await?;
            for service in reply["services"].as_array().into_iter().flatten() {
                described
                    .services
                    .push(parse("DescribeServices", service.clone())?);
            }
            for failure in reply["failures"].as_array().into_iter().flatten() {
                described.failures.push((
                    failure["arn"].as_str().unwrap_or_default().to_string(),
                    failure["reason"].as_str().unwrap_or("MISSING").to_string(),
                ));
            }
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
        let reply = self.call("DescribeTaskDefinition", &input).await?;
        Ok(TaskDefinition::from_reply(reply))
    }

    /// Registers `input` and returns the new revision's description.
    pub async fn register_task_definition(
        &self,
        input: &Value,
    ) -> Result<TaskDefinition, AwsError> {
        let reply = self.call("RegisterTaskDefinition", input).await?;
        Ok(TaskDefinition::from_reply(reply))
    }

    /// Sends an `UpdateService` input (see [`ServiceUpdate::to_input`]) and
    /// returns the service as ECS now describes it.
    pub async fn update_service(&self, input: &Value) -> Result<Service, AwsError> {
        let reply = self.call("UpdateService", input).await?;
        parse("UpdateService", reply["service"].clone())
    }

    /// ARNs of the stopped tasks a deployment started, all pages.
    pub async fn stopped_tasks(
        &self,
        cluster: &str,
        deployment_id: &str,
    ) -> Result<Vec<String>, AwsError> {
        let mut arns = Vec::new();
        let mut input =
            json!({"cluster": cluster, "startedBy": deployment_id, "desiredStatus": "STOPPED"});
        loop {
            let reply = self.call("ListTasks", &input).await?;
            arns.extend(strings(&reply["taskArns"]));
            match reply["nextToken"].as_str() {
                Some(token) if !token.is_empty() => input["nextToken"] = json!(token),
                _ => return Ok(arns),
            }
        }
    }

    /// Describes tasks, in as many calls as ECS's per-call limit needs.
    pub async fn describe_tasks(
        &self,
        cluster: &str,
        arns: &[String],
    ) -> Result<Vec<Value>, AwsError> {
        let mut tasks = Vec::new();
        for chunk in arns.chunks(DESCRIBE_TASKS_LIMIT) {
            let reply = self
                .call(
                    "DescribeTasks",
                    &json!({"cluster": cluster, "tasks": chunk}),
                )
                .await?;
            tasks.extend(reply["tasks"].as_array().cloned().unwrap_or_default());
        }
        Ok(tasks)
    }

    /// ARNs of the ACTIVE revisions of exactly `family`, oldest first.
    /// (`familyPrefix` is a prefix match, so `web` would also list `web-worker`.)
    pub async fn active_revisions(&self, family: &str) -> Result<Vec<String>, AwsError> {
        let mut arns = Vec::new();
        let mut input = json!({"familyPrefix": family, "status": "ACTIVE", "sort": "ASC"});
        loop {
            let reply = self.call("ListTaskDefinitions", &input).await?;
            arns.extend(
                strings(&reply["taskDefinitionArns"])
                    .filter(|arn| crate::taskdef::family_of(arn) == family),
            );
            match reply["nextToken"].as_str() {
                Some(token) if !token.is_empty() => input["nextToken"] = json!(token),
                _ => return Ok(arns),
            }
        }
    }

    /// Starts one task as `input` describes; ECS may refuse to place it
    /// (`failures`) without an HTTP error.
    pub async fn run_task(&self, input: &Value) -> Result<Value, RunTaskError> {
        let reply = self
            .call("RunTask", input)
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
        self.call("DeregisterTaskDefinition", &json!({"taskDefinition": arn}))
            .await
            .map(drop)
    }
}

/// Why `RunTask` started nothing.
pub enum RunTaskError {
    /// The call itself failed.
    Aws(AwsError),
    /// ECS answered but placed no task (e.g. `RESOURCE:MEMORY`).
    Refused(String),
}

fn strings(list: &Value) -> impl Iterator<Item = String> + '_ {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
}

fn parse(operation: &str, service: Value) -> Result<Service, AwsError> {
    serde_json::from_value(service)
        .map_err(|e| AwsError::bad_reply(operation, format!("unexpected service description: {e}")))
}
