//! Express Mode services (`resourceManagementType: ECS`): what ECS keeps of a service it
//! manages from an express configuration — one configuration per service revision — how a
//! configuration renders (an `ExpressGatewayServiceConfiguration`), the task definition ECS
//! registers from a configuration's primary container, and what a customer task definition
//! needs to run an Express service.

use serde_json::{json, Map, Value};

use crate::account::{ACCOUNT, REGION};

/// The name of the container ECS makes of the primary container; a customer task definition
/// needs a container so named.
pub(crate) const MAIN_CONTAINER: &str = "Main";
/// The members of an `ExpressGatewayServiceConfiguration` that the caller chooses; ECS fills in
/// the others (`serviceRevisionArn`, `taskDefinitionArn`, `ingressPaths`, `createdAt`).
pub(crate) const CHOSEN_MEMBERS: [&str; 9] = [
    "executionRoleArn",
    "taskRoleArn",
    "cpu",
    "memory",
    "cpuArchitecture",
    "networkConfiguration",
    "healthCheckPath",
    "primaryContainer",
    "scalingTarget",
];
/// The members that a configuration naming a customer task definition cannot have: the task
/// definition says them.
pub(crate) const TASK_DEFINITION_MEMBERS: [&str; 6] = [
    "primaryContainer",
    "executionRoleArn",
    "taskRoleArn",
    "cpu",
    "memory",
    "cpuArchitecture",
];
/// The task cpu and memory of a primary container's configuration that names none (the
/// model's defaults for an Express service).
const DEFAULT_CPU: &str = "256";
const DEFAULT_MEMORY: &str = "512";
/// The container port of a primary container that names none (the model's default).
const DEFAULT_PORT: i64 = 80;

/// One configuration of an Express service: what one service revision runs.
pub(crate) struct Configuration {
    /// The service revision it is the configuration of.
    pub(crate) revision_arn: String,
    /// The task definition it runs: one ECS registered from the primary container, or the
    /// customer's.
    pub(crate) task_definition_arn: String,
    /// The members the caller chose (of [`CHOSEN_MEMBERS`]).
    pub(crate) members: Map<String, Value>,
    pub(crate) created_at: f64,
}

impl Configuration {
    /// Whether ECS builds its task definition from a primary container (else the task
    /// definition is the customer's).
    pub(crate) fn has_primary_container(&self) -> bool {
        self.members.contains_key("primaryContainer")
    }

    /// As an `ExpressGatewayServiceConfiguration` of the service `service`: the revision, the
    /// task definition, the chosen members, the public endpoint as `ingressPaths`, `createdAt`.
    pub(crate) fn render(&self, service: &str) -> Value {
        let mut m = Map::new();
        m.insert("serviceRevisionArn".into(), json!(self.revision_arn));
        m.insert("taskDefinitionArn".into(), json!(self.task_definition_arn));
        m.extend(self.members.clone());
        m.insert(
            "ingressPaths".into(),
            json!([{"accessType": "PUBLIC", "endpoint": format!("https://{service}.ecs.{REGION}.on.aws")}]),
        );
        m.insert("createdAt".into(), json!(self.created_at));
        Value::Object(m)
    }
}

/// The Express side of a service ECS manages.
pub(crate) struct Express {
    /// Every configuration it had, oldest first: one per service revision ECS made for it.
    pub(crate) configurations: Vec<Configuration>,
    /// When it was last created or updated.
    pub(crate) updated_at: f64,
}

impl Express {
    /// The configuration of this service revision.
    pub(crate) fn configuration(&self, revision_arn: &str) -> Option<&Configuration> {
        self.configurations
            .iter()
            .find(|c| c.revision_arn == revision_arn)
    }

    /// The service revision `to` runs the configuration of the service revision `from` again
    /// (a deployment UpdateService forced), if it has one.
    pub(crate) fn redeploy(&mut self, from: &str, to: String, now: f64) {
        let Some(configuration) = self.configuration(from) else {
            return;
        };
        let again = Configuration {
            revision_arn: to,
            task_definition_arn: configuration.task_definition_arn.clone(),
            members: configuration.members.clone(),
            created_at: now,
        };
        self.configurations.push(again);
        self.updated_at = now;
    }

    /// The configurations of these service revisions (those the service's deployments run),
    /// oldest first.
    pub(crate) fn active(&self, revision_arns: &[&str]) -> Vec<&Configuration> {
        self.configurations
            .iter()
            .filter(|c| revision_arns.contains(&c.revision_arn.as_str()))
            .collect()
    }
}

/// The infrastructure role of the fake's Express services.
pub(crate) fn infrastructure_role_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/ecsInfrastructureRoleForExpressServices")
}

/// The family of the task definitions ECS registers for the Express service `service` of
/// `cluster`.
pub(crate) fn family(cluster: &str, service: &str) -> String {
    format!("{cluster}-{service}")
}

/// The chosen members of a new configuration with a primary container: `members`, with the
/// model's default `cpu` and `memory` where it names none.
pub(crate) fn with_defaults(mut members: Map<String, Value>) -> Map<String, Value> {
    if members.contains_key("primaryContainer") {
        for (key, default) in [("cpu", DEFAULT_CPU), ("memory", DEFAULT_MEMORY)] {
            members.entry(key).or_insert_with(|| json!(default));
        }
    }
    members
}

/// The RegisterTaskDefinition input ECS makes of a configuration's members (which have a
/// `primaryContainer`): family `family`, FARGATE, awsvpc, the configuration's cpu, memory,
/// roles and cpuArchitecture (`runtimePlatform`), and one essential container
/// [`MAIN_CONTAINER`] of the primary container: its image, command, environment, secrets and
/// repositoryCredentials as they are, one TCP port mapping `main` of its containerPort
/// (default 80), and its awsLogsConfiguration as the `awslogs` driver (in [`REGION`], the
/// group created if missing). What the primary container does not say, the container does not
/// have.
pub(crate) fn task_definition_input(family: &str, members: &Map<String, Value>) -> Value {
    let primary = &members["primaryContainer"];
    let port = primary["containerPort"].as_i64().unwrap_or(DEFAULT_PORT);
    let mut container = json!({
        "name": MAIN_CONTAINER,
        "image": primary["image"],
        "essential": true,
        "portMappings": [{"name": "main", "containerPort": port, "protocol": "tcp"}],
    });
    for key in ["command", "environment", "secrets", "repositoryCredentials"] {
        if let Some(value) = primary.get(key) {
            container[key] = value.clone();
        }
    }
    if let Some(logs) = primary.get("awsLogsConfiguration") {
        container["logConfiguration"] = json!({
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": logs["logGroup"],
                "awslogs-region": REGION,
                "awslogs-stream-prefix": logs["logStreamPrefix"],
                "awslogs-create-group": "true",
            },
        });
    }
    let mut input = json!({
        "family": family,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": members.get("cpu").cloned().unwrap_or(json!(DEFAULT_CPU)),
        "memory": members.get("memory").cloned().unwrap_or(json!(DEFAULT_MEMORY)),
        "containerDefinitions": [container],
    });
    for key in ["executionRoleArn", "taskRoleArn"] {
        if let Some(value) = members.get(key) {
            input[key] = value.clone();
        }
    }
    if let Some(architecture) = members.get("cpuArchitecture") {
        input["runtimePlatform"] =
            json!({"cpuArchitecture": architecture, "operatingSystemFamily": "LINUX"});
    }
    input
}

/// Why a customer task definition (its description) cannot run an Express service, as the
/// model says what it must have: a container named [`MAIN_CONTAINER`] with a single TCP port
/// mapping that includes a container port and a port name, and FARGATE compatibility. `None`
/// if it can.
pub(crate) fn unfit(description: &Map<String, Value>) -> Option<String> {
    let containers = description
        .get("containerDefinitions")
        .and_then(Value::as_array);
    let main = containers
        .into_iter()
        .flatten()
        .find(|c| c["name"] == MAIN_CONTAINER);
    let Some(main) = main else {
        return Some(format!(
            "The task definition must have a container named {MAIN_CONTAINER}."
        ));
    };
    let mappings = main["portMappings"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let fits = match mappings {
        [mapping] => {
            mapping["containerPort"].is_u64()
                && mapping["name"].is_string()
                && mapping["protocol"].as_str().is_none_or(|p| p == "tcp")
        }
        _ => false,
    };
    if !fits {
        return Some(format!(
            "The container {MAIN_CONTAINER} must have a single TCP port mapping with a containerPort and a name."
        ));
    }
    let compatibilities = description.get("compatibilities").and_then(Value::as_array);
    if !compatibilities
        .into_iter()
        .flatten()
        .any(|c| c == "FARGATE")
    {
        return Some("The task definition must be compatible with FARGATE.".to_string());
    }
    None
}
