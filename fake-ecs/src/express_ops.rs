//! The Express Mode operations, DescribeExpressGatewayService and UpdateExpressGatewayService,
//! with their input checks as ECS makes them; and how `FakeEcs` seeds an Express service and
//! reads its active configuration. An update starts its deployment with UpdateService's
//! machinery (`ops::scripted_rollout`, `rollout::begin`), so the rollout, the service
//! deployment, the events and StopServiceDeployment are those of any ROLLING deployment.

use serde_json::{json, Map, Value};

use crate::account::{arn, ACCOUNT, REGION};
use crate::express::{self, Configuration, Express, CHOSEN_MEMBERS, TASK_DEFINITION_MEMBERS};
use crate::model::{tags_json, Service, World, ACTIVE};
use crate::ops::{
    client, enum_at, err, int_at, invalid, member, opt_str, register, required, scripted_rollout,
    str_at, str_list, structure, wrong_type, ApiError,
};
use crate::rollout;
use crate::state::State;

type Input = Map<String, Value>;

/// The Express Mode operations the fake answers.
pub(crate) const OPERATIONS: [&str; 2] = [
    "DescribeExpressGatewayService",
    "UpdateExpressGatewayService",
];

/// The `ExpressCpuArchitecture`s of the model.
const CPU_ARCHITECTURES: [&str; 2] = ["X86_64", "ARM64"];
/// The `ExpressGatewayServiceScalingMetric`s of the model.
const SCALING_METRICS: [&str; 3] = ["AVERAGE_CPU", "AVERAGE_MEMORY", "REQUEST_COUNT_PER_TARGET"];

/// Run one Express Mode operation against the state.
pub(crate) fn call(state: &mut State, operation: &str, input: &Input) -> Result<Value, ApiError> {
    match operation {
        "DescribeExpressGatewayService" => describe(state, input),
        "UpdateExpressGatewayService" => update(state, input),
        _ => Err(err(
            "UnknownOperationException",
            format!("The fake ECS does not know the operation '{operation}'."),
        )),
    }
}

/// The cluster and the name of the service an ECS service ARN names; `None` if it is none.
fn parse_service_arn(service_arn: &str) -> Option<(&str, &str)> {
    let (account_region, path) = service_arn
        .strip_prefix("arn:aws:ecs:")?
        .split_once(":service/")?;
    let (cluster, name) = path.split_once('/')?;
    let valid = |part: &str| !part.is_empty() && !part.contains('/');
    (account_region.split(':').count() == 2 && valid(cluster) && valid(name))
        .then_some((cluster, name))
}

/// What the service `serviceArn` names is, for the operation at hand.
enum Found {
    /// An Express service, by index.
    Express(usize),
    /// A service ECS does not manage, by name.
    Other(String),
    /// No service of that ARN.
    Missing,
}

/// The service `serviceArn` (required, an ECS service ARN) names; ClusterNotFoundException if
/// its cluster does not exist.
fn find(state: &State, input: &Input) -> Result<(Found, String), ApiError> {
    let service_arn = required(opt_str(input, "serviceArn")?, "serviceArn")?;
    let (cluster, name) = parse_service_arn(service_arn)
        .ok_or_else(|| invalid(format!("Invalid service ARN: {service_arn}")))?;
    let ours = service_arn.starts_with(&format!("arn:aws:ecs:{REGION}:{ACCOUNT}:"));
    if ours && !state.clusters.iter().any(|c| c == cluster) {
        return Err(err("ClusterNotFoundException", "Cluster not found."));
    }
    let found = match state.find_service(cluster, name).filter(|_| ours) {
        Some(i) if state.services[i].express.is_some() => Found::Express(i),
        Some(_) => Found::Other(name.to_string()),
        None => Found::Missing,
    };
    Ok((found, service_arn.to_string()))
}

/// The service's configurations that its deployments run, oldest first.
fn active_configurations(service: &Service) -> Vec<&Configuration> {
    let Some(express) = &service.express else {
        return Vec::new();
    };
    let revisions: Vec<&str> = service
        .deployments
        .iter()
        .map(|d| d.revision_arn.as_str())
        .collect();
    express.active(&revisions)
}

/// The `status` of an Express service: its service's ACTIVE or INACTIVE.
fn status(service: &Service) -> Value {
    json!({"statusCode": service.status})
}

/// The service as DescribeExpressGatewayService renders it (an `ECSExpressGatewayService`).
fn render(service: &Service, with_tags: bool) -> Value {
    let mut m = Map::new();
    m.insert(
        "cluster".into(),
        json!(arn(&format!("cluster/{}", service.cluster))),
    );
    m.insert("serviceName".into(), json!(service.name));
    m.insert("serviceArn".into(), json!(service.arn()));
    m.insert(
        "infrastructureRoleArn".into(),
        json!(express::infrastructure_role_arn()),
    );
    m.insert("status".into(), status(service));
    if let Some(sd) = service.service_deployments.last() {
        m.insert("currentDeployment".into(), json!(sd.arn));
    }
    let active: Vec<Value> = active_configurations(service)
        .iter()
        .map(|c| c.render(&service.name))
        .collect();
    m.insert("activeConfigurations".into(), Value::Array(active));
    if with_tags {
        m.insert("tags".into(), tags_json(&service.tags));
    }
    m.insert("createdAt".into(), json!(service.created_at));
    let updated = service.express.as_ref().map_or(0.0, |e| e.updated_at);
    m.insert("updatedAt".into(), json!(updated));
    Value::Object(m)
}

fn describe(state: &State, input: &Input) -> Result<Value, ApiError> {
    let include = str_list(input, "include")?;
    if let Some(bad) = include.iter().find(|i| **i != "TAGS") {
        return Err(invalid(format!("Invalid include '{bad}': use TAGS.")));
    }
    let (found, service_arn) = find(state, input)?;
    let Found::Express(i) = found else {
        return Err(err(
            "ResourceNotFoundException",
            format!("The Express service {service_arn} does not exist."),
        ));
    };
    Ok(json!({"service": render(&state.services[i], include.contains(&"TAGS"))}))
}

/// A list member of strings at `path`.
fn strings_at(value: Option<&Value>, path: &str) -> Result<(), ApiError> {
    let Some(value) = value else {
        return Ok(());
    };
    let items = value
        .as_array()
        .ok_or_else(|| wrong_type(path, "a list of strings"))?;
    for (k, item) in items.iter().enumerate() {
        str_at(Some(item), &format!("{path}[{k}]"))?;
    }
    Ok(())
}

/// A list member of structures at `path`, each with the string members `keys` (those in
/// `needed` required).
fn pairs_at(
    value: Option<&Value>,
    path: &str,
    keys: [&str; 2],
    needed: &[&str],
) -> Result<(), ApiError> {
    let Some(value) = value else {
        return Ok(());
    };
    let items = value
        .as_array()
        .ok_or_else(|| wrong_type(path, "a list of objects"))?;
    for (k, item) in items.iter().enumerate() {
        let at = format!("{path}[{k}]");
        let item = structure(item, &at)?;
        for key in keys {
            let (value, key_at) = member(item, &at, key);
            let value = str_at(value, &key_at)?;
            if needed.contains(&key) {
                required(value, &key_at)?;
            }
        }
    }
    Ok(())
}

/// An `ExpressGatewayContainer`, checked as ECS checks it (`image` required; the types of
/// `containerPort`, `awsLogsConfiguration` {`logGroup`, `logStreamPrefix`, both required},
/// `repositoryCredentials`, `command`, `environment` and `secrets` {`name`, `valueFrom`, both
/// required}); the container with the members of the model that it has, as it was sent.
fn primary_container(value: &Value) -> Result<Value, ApiError> {
    const PATH: &str = "primaryContainer";
    let container = structure(value, PATH)?;
    let (image, at) = member(container, PATH, "image");
    required(str_at(image, &at)?, &at)?;
    let (port, at) = member(container, PATH, "containerPort");
    int_at(port, &at)?;
    if let (Some(logs), at) = member(container, PATH, "awsLogsConfiguration") {
        let logs = structure(logs, &at)?;
        for key in ["logGroup", "logStreamPrefix"] {
            let (value, key_at) = member(logs, &at, key);
            required(str_at(value, &key_at)?, &key_at)?;
        }
    }
    if let (Some(credentials), at) = member(container, PATH, "repositoryCredentials") {
        let credentials = structure(credentials, &at)?;
        let (value, key_at) = member(credentials, &at, "credentialsParameter");
        str_at(value, &key_at)?;
    }
    let (command, at) = member(container, PATH, "command");
    strings_at(command, &at)?;
    let (environment, at) = member(container, PATH, "environment");
    pairs_at(environment, &at, ["name", "value"], &[])?;
    let (secrets, at) = member(container, PATH, "secrets");
    pairs_at(secrets, &at, ["name", "valueFrom"], &["name", "valueFrom"])?;
    let known = [
        "image",
        "containerPort",
        "awsLogsConfiguration",
        "repositoryCredentials",
        "command",
        "environment",
        "secrets",
    ];
    let kept: Input = container
        .iter()
        .filter(|(key, _)| known.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    Ok(Value::Object(kept))
}

/// The express configuration members of a request (or of a seeded configuration), checked
/// as ECS checks them: [`CHOSEN_MEMBERS`] by their model types (`healthCheckPath` must start
/// with `/`), and `taskDefinitionArn`, which excludes [`TASK_DEFINITION_MEMBERS`]. Returns
/// the chosen members present and the task definition named, if any.
fn configuration_members(input: &Input) -> Result<(Input, Option<&str>), ApiError> {
    let text = |key: &str| str_at(input.get(key), key);
    for key in ["executionRoleArn", "taskRoleArn", "cpu", "memory"] {
        text(key)?;
    }
    if let Some(path) = text("healthCheckPath")? {
        if !path.starts_with('/') {
            return Err(invalid(format!(
                "Invalid healthCheckPath '{path}': it must start with a forward slash."
            )));
        }
    }
    enum_at(
        input.get("cpuArchitecture"),
        "cpuArchitecture",
        &CPU_ARCHITECTURES,
    )?;
    if let Some(network) = input.get("networkConfiguration") {
        let network = structure(network, "networkConfiguration")?;
        for key in ["securityGroups", "subnets"] {
            let (value, at) = member(network, "networkConfiguration", key);
            strings_at(value, &at)?;
        }
    }
    if let Some(scaling) = input.get("scalingTarget") {
        let scaling = structure(scaling, "scalingTarget")?;
        for key in ["minTaskCount", "maxTaskCount", "autoScalingTargetValue"] {
            let (value, at) = member(scaling, "scalingTarget", key);
            int_at(value, &at)?;
        }
        let (metric, at) = member(scaling, "scalingTarget", "autoScalingMetric");
        enum_at(metric, &at, &SCALING_METRICS)?;
    }
    let mut members = Input::new();
    for key in CHOSEN_MEMBERS {
        if let Some(value) = input.get(key) {
            let value = match key {
                "primaryContainer" => primary_container(value)?,
                _ => value.clone(),
            };
            members.insert(key.to_string(), value);
        }
    }
    let task_definition = text("taskDefinitionArn")?;
    if task_definition.is_some()
        && TASK_DEFINITION_MEMBERS
            .iter()
            .any(|k| members.contains_key(*k))
    {
        return Err(invalid(
            "If you provide a task definition ARN, you cannot also specify primaryContainer, executionRoleArn, taskRoleArn, cpu, memory, or cpuArchitecture.",
        ));
    }
    Ok((members, task_definition))
}

/// The ARN of the customer task definition `reference`, which must exist, be ACTIVE and fit
/// Express Mode (see [`express::unfit`]).
fn customer_task_definition(world: &World, reference: &str) -> Result<String, ApiError> {
    let td = world
        .find_task_def(reference)
        .ok_or_else(|| client("TaskDefinition not found."))?;
    if !td.is_active() {
        return Err(client("TaskDefinition is inactive"));
    }
    match express::unfit(&td.description) {
        Some(why) => Err(invalid(why)),
        None => Ok(td.arn()),
    }
}

/// Register the task definition ECS makes of a configuration with a primary container, for
/// the service `name` of `cluster`; its ARN.
fn register_managed(
    world: &mut World,
    cluster: &str,
    name: &str,
    members: &Input,
) -> Result<String, ApiError> {
    let input = express::task_definition_input(&express::family(cluster, name), members);
    let Value::Object(input) = input else {
        unreachable!("a task definition input is an object");
    };
    let index = register(world, &input)?;
    Ok(world.task_defs[index].arn())
}

fn update(state: &mut State, input: &Input) -> Result<Value, ApiError> {
    let (found, service_arn) = find(state, input)?;
    let i = match found {
        Found::Express(i) => i,
        Found::Other(name) => {
            return Err(invalid(format!(
                "The service {name} is not an Express service: update it with UpdateService."
            )))
        }
        Found::Missing => return Err(err("ServiceNotFoundException", "Service not found.")),
    };
    if state.services[i].status != ACTIVE {
        return Err(err("ServiceNotActiveException", "Service was not ACTIVE."));
    }
    let (chosen, task_definition) = configuration_members(input)?;
    let service = &state.services[i];
    // What the service runs (or is moving to): the PRIMARY deployment's configuration.
    let base = service
        .deployments
        .first()
        .and_then(|d| service.express.as_ref()?.configuration(&d.revision_arn))
        .ok_or_else(|| {
            err(
                "ServerException",
                format!("The Express service {service_arn} has no active configuration."),
            )
        })?;
    if !base.has_primary_container()
        && task_definition.is_none()
        && TASK_DEFINITION_MEMBERS
            .iter()
            .any(|k| chosen.contains_key(*k))
    {
        return Err(invalid(format!(
            "The Express service {} runs the customer task definition {}: update it with taskDefinitionArn; primaryContainer, executionRoleArn, taskRoleArn, cpu, memory and cpuArchitecture come from the task definition.",
            service.name, base.task_definition_arn
        )));
    }
    let customer = match task_definition {
        Some(reference) => Some(customer_task_definition(&state.world, reference)?),
        None => None,
    };
    let mut members = base.members.clone();
    let base_task_definition = base.task_definition_arn.clone();
    if customer.is_some() {
        members.retain(|key, _| !TASK_DEFINITION_MEMBERS.contains(&key.as_str()));
    }
    members.extend(chosen);
    let rollout = scripted_rollout(service, &service.deployment_configuration)?;
    let (cluster, name) = (service.cluster.clone(), service.name.clone());
    let task_definition = match customer {
        Some(arn) => arn,
        None if members.contains_key("primaryContainer") => {
            register_managed(&mut state.world, &cluster, &name, &members)?
        }
        None => base_task_definition,
    };
    let now = state.world.now();
    let service = &mut state.services[i];
    rollout::begin(&mut state.world, service, &task_definition, rollout);
    let revision_arn = service.deployments[0].revision_arn.clone();
    let configuration = Configuration {
        revision_arn,
        task_definition_arn: task_definition,
        members,
        created_at: now,
    };
    let target = configuration.render(&name);
    if let Some(express) = service.express.as_mut() {
        express.configurations.push(configuration);
        express.updated_at = now;
    }
    Ok(json!({"service": {
        "serviceArn": service.arn(),
        "cluster": arn(&format!("cluster/{cluster}")),
        "serviceName": name,
        "status": status(service),
        "targetConfiguration": target,
        "createdAt": service.created_at,
        "updatedAt": now,
    }}))
}

impl State {
    /// See `FakeEcs::add_express_service`.
    pub(crate) fn add_express_service(
        &mut self,
        cluster: &str,
        name: &str,
        configuration: Value,
        desired: u32,
    ) -> String {
        let Value::Object(configuration) = configuration else {
            panic!("fake-ecs: an express configuration is a JSON object, not {configuration}");
        };
        if let Some(key) = configuration
            .keys()
            .find(|k| !CHOSEN_MEMBERS.contains(&k.as_str()) && *k != "taskDefinitionArn")
        {
            panic!("fake-ecs: {key:?} is not a member an express configuration is given (ECS fills in serviceRevisionArn, ingressPaths and createdAt)");
        }
        let refused = |e: ApiError| -> ! {
            panic!(
                "fake-ecs: ECS refuses this express configuration: {}: {}",
                e.code, e.message
            )
        };
        let (members, task_definition) =
            configuration_members(&configuration).unwrap_or_else(|e| refused(e));
        self.world.tick();
        let task_definition = match task_definition {
            Some(reference) => customer_task_definition(&self.world, reference),
            None if members.contains_key("primaryContainer") => {
                register_managed(&mut self.world, cluster, name, &members)
            }
            None => panic!(
                "fake-ecs: an express configuration has a primaryContainer or a taskDefinitionArn"
            ),
        }
        .unwrap_or_else(|e| refused(e));
        // Express services run on Fargate capacity.
        let mut fargate = Map::new();
        fargate.insert("launchType".into(), Value::Null);
        fargate.insert(
            "capacityProviderStrategy".into(),
            json!([{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]),
        );
        let i = self.seed_service(cluster, name, &task_definition, desired, fargate);
        let service = &mut self.services[i];
        service.express = Some(Express {
            configurations: vec![Configuration {
                revision_arn: service.deployments[0].revision_arn.clone(),
                task_definition_arn: task_definition,
                members: express::with_defaults(members),
                created_at: service.created_at,
            }],
            updated_at: service.created_at,
        });
        service.arn()
    }

    /// See `FakeEcs::express_configuration`.
    pub(crate) fn express_configuration(&self, cluster: &str, name: &str) -> Value {
        let service = &self.services[self.expect_service(cluster, name)];
        let express = service
            .express
            .as_ref()
            .unwrap_or_else(|| panic!("fake-ecs: service {name} is not an Express service"));
        let primary = service
            .deployments
            .first()
            .and_then(|d| express.configuration(&d.revision_arn))
            .unwrap_or_else(|| panic!("fake-ecs: Express service {name} runs no configuration"));
        primary.render(name)
    }
}
