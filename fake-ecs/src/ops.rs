//! The ECS operations: input checks and replies, as real ECS gives them; and the input checks
//! the other APIs' operations share (types, and the constraints of an AWS model in its words).

use std::collections::HashSet;
use std::ops::RangeInclusive;

use serde_json::{json, Map, Value};

use crate::account::arn;
use crate::deployment_configuration::{CLEANUPS, THRESHOLD_TYPES};
use crate::model::{
    tags_json, Eni, Script, Service, TaskDef, World, ACTIVE, ECS_CONTROLLER, INACTIVE,
    REGISTERED_BY, RUNNING, STOPPED,
};
use crate::rollout;
use crate::script::{Rollout, TaskRun};
use crate::service_deployment::{Strategy, STATUSES};
use crate::state::State;

type Input = Map<String, Value>;

/// An ECS error reply: HTTP 400, `{"__type": code, "message": message}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

/// An error reply with this code and message.
pub(crate) fn err(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        code,
        message: message.into(),
    }
}

/// A ClientException.
pub(crate) fn client(message: impl Into<String>) -> ApiError {
    err("ClientException", message)
}

/// An InvalidParameterException.
pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
    err("InvalidParameterException", message)
}

/// The SerializationException of a key whose JSON type is wrong.
pub(crate) fn wrong_type(key: &str, expected: &str) -> ApiError {
    err(
        "SerializationException",
        format!("'{key}' must be {expected}."),
    )
}

/// The read-only keys DescribeTaskDefinition adds and RegisterTaskDefinition refuses.
pub(crate) const READ_ONLY_KEYS: [&str; 9] = [
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
];

/// An optional string (SerializationException if it is another type).
pub(crate) fn opt_str<'a>(input: &'a Input, key: &str) -> Result<Option<&'a str>, ApiError> {
    match input.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type(key, "a string")),
    }
}

fn req_str<'a>(input: &'a Input, key: &str) -> Result<&'a str, ApiError> {
    opt_str(input, key)?.ok_or_else(|| invalid(format!("{key} can not be blank.")))
}

fn opt_u32(input: &Input, key: &str) -> Result<Option<u32>, ApiError> {
    match input.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| wrong_type(key, "a non-negative integer")),
    }
}

/// An optional boolean (SerializationException if it is another type).
pub(crate) fn opt_bool(input: &Input, key: &str) -> Result<Option<bool>, ApiError> {
    match input.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(wrong_type(key, "a boolean")),
    }
}

/// An optional list of strings, empty when absent (SerializationException if it is not one).
pub(crate) fn str_list<'a>(input: &'a Input, key: &str) -> Result<Vec<&'a str>, ApiError> {
    match input.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| wrong_type(key, "a list of strings"))
            })
            .collect(),
        Some(_) => Err(wrong_type(key, "a list of strings")),
    }
}

/// The InvalidParameterException of a member that breaks a constraint of its API's model, in
/// AWS's words: `1 validation error detected: Value '0' at 'limit' failed to satisfy
/// constraint: Member must have value greater than or equal to 1`. `shown` is the value as
/// the message shows it (`'0'`, or `null`), `constraint` what follows "Member must".
pub(crate) fn violates(key: &str, shown: &str, constraint: &str) -> ApiError {
    invalid(format!(
        "1 validation error detected: Value {shown} at '{key}' failed to satisfy constraint: Member must {constraint}"
    ))
}

/// A member the model requires: refused as AWS refuses a missing one.
pub(crate) fn required<T>(value: Option<T>, key: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| violates(key, "null", "not be null"))
}

/// The `length` of the member `key` (a string's characters or a list's items; shown as
/// `shown`) must be within `lengths`.
pub(crate) fn check_length(
    key: &str,
    shown: &str,
    length: usize,
    lengths: RangeInclusive<usize>,
) -> Result<(), ApiError> {
    if length < *lengths.start() {
        return Err(violates(
            key,
            shown,
            &format!("have length greater than or equal to {}", lengths.start()),
        ));
    }
    if length > *lengths.end() {
        return Err(violates(
            key,
            shown,
            &format!("have length less than or equal to {}", lengths.end()),
        ));
    }
    Ok(())
}

/// A string member's pattern in its model, as AWS's message spells it, and the check of it.
pub(crate) type Pattern = (&'static str, fn(&str) -> bool);

/// An optional string of `lengths` characters that fits `pattern`, if it has one
/// (SerializationException if it is another type).
pub(crate) fn opt_text<'a>(
    input: &'a Input,
    key: &str,
    lengths: RangeInclusive<usize>,
    pattern: Option<Pattern>,
) -> Result<Option<&'a str>, ApiError> {
    let Some(text) = opt_str(input, key)? else {
        return Ok(None);
    };
    let shown = format!("'{text}'");
    check_length(key, &shown, text.chars().count(), lengths)?;
    match pattern {
        Some((spelled, fits)) if !fits(text) => Err(violates(
            key,
            &shown,
            &format!("satisfy regular expression pattern: {spelled}"),
        )),
        _ => Ok(Some(text)),
    }
}

/// An optional integer within `range` (SerializationException if it is not an integer).
pub(crate) fn opt_int(
    input: &Input,
    key: &str,
    range: RangeInclusive<i64>,
) -> Result<Option<i64>, ApiError> {
    let Some(value) = input.get(key) else {
        return Ok(None);
    };
    let n = value
        .as_i64()
        .ok_or_else(|| wrong_type(key, "an integer"))?;
    let shown = format!("'{n}'");
    if n < *range.start() {
        return Err(violates(
            key,
            &shown,
            &format!("have value greater than or equal to {}", range.start()),
        ));
    }
    if n > *range.end() {
        return Err(violates(
            key,
            &shown,
            &format!("have value less than or equal to {}", range.end()),
        ));
    }
    Ok(Some(n))
}

/// `include: ["TAGS"]`?
fn wants_tags(input: &Input) -> Result<bool, ApiError> {
    Ok(str_list(input, "include")?.contains(&"TAGS"))
}

/// `maxResults` (1..=100, `default` when absent).
fn max_results(input: &Input, default: usize) -> Result<usize, ApiError> {
    match opt_u32(input, "maxResults")? {
        None => Ok(default),
        Some(n @ 1..=100) => Ok(n as usize),
        Some(_) => Err(invalid("maxResults must be between 1 and 100.")),
    }
}

/// Page a list with `nextToken` and `maxResults` (`default_max` items when it is absent).
fn page(
    items: Vec<Value>,
    input: &Input,
    key: &str,
    default_max: usize,
) -> Result<Value, ApiError> {
    let token = opt_str(input, "nextToken")?;
    let size = max_results(input, default_max)?;
    page_of(items, token, size, key).ok_or_else(|| invalid("Invalid nextToken."))
}

/// `{key: [up to size items]}` from where `token` (a `nextToken` the fake handed out, or none
/// for the first page) says, with a `nextToken` when more follow; `None` for a token the fake
/// did not make.
pub(crate) fn page_of(
    items: Vec<Value>,
    token: Option<&str>,
    size: usize,
    key: &str,
) -> Option<Value> {
    let start = match token {
        None => 0,
        Some(token) => token
            .strip_prefix("fake-ecs-page-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n <= items.len())?,
    };
    let end = (start + size).min(items.len());
    let mut reply = json!({ key: items[start..end] });
    if end < items.len() {
        reply["nextToken"] = json!(format!("fake-ecs-page-{end}"));
    }
    Some(reply)
}

/// The last `/` segment of a name or ARN.
fn short_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

/// The cluster named by `cluster` (default `default`); it must exist.
fn cluster(state: &State, input: &Input) -> Result<String, ApiError> {
    let name = short_name(opt_str(input, "cluster")?.unwrap_or("default"));
    if state.clusters.iter().any(|c| c == name) {
        Ok(name.to_string())
    } else {
        Err(err("ClusterNotFoundException", "Cluster not found."))
    }
}

fn parse_tags(value: Option<&Value>) -> Result<Vec<(String, String)>, ApiError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let items = value
        .as_array()
        .ok_or_else(|| client("tags must be a list of {\"key\", \"value\"} objects."))?;
    items
        .iter()
        .map(|t| match (t["key"].as_str(), t["value"].as_str()) {
            (Some(k), Some(v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(client(format!(
                "Invalid tag {t}: a tag needs a string key and value."
            ))),
        })
        .collect()
}

/// Set (or replace) tags by key.
fn merge_tags(into: &mut Vec<(String, String)>, tags: Vec<(String, String)>) {
    for (k, v) in tags {
        match into.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => slot.1 = v,
            None => into.push((k, v)),
        }
    }
}

/// Run one operation against the state.
pub(crate) fn call(state: &mut State, operation: &str, input: &Input) -> Result<Value, ApiError> {
    match operation {
        "DescribeServices" => describe_services(state, input),
        "UpdateService" => update_service(state, input),
        "DescribeTaskDefinition" => describe_task_definition(state, input),
        "RegisterTaskDefinition" => {
            let index = register(&mut state.world, input)?;
            let td = &state.world.task_defs[index];
            Ok(json!({"taskDefinition": td.description, "tags": tags_json(&td.tags)}))
        }
        "DeregisterTaskDefinition" => deregister_task_definition(state, input),
        "ListTaskDefinitions" => list_task_definitions(state, input),
        "ListTasks" => list_tasks(state, input),
        "DescribeTasks" => describe_tasks(state, input),
        "RunTask" => run_task(state, input),
        "TagResource" => tag_resource(state, input),
        "ListServiceDeployments" => list_service_deployments(state, input),
        "DescribeServiceDeployments" => describe_service_deployments(state, input),
        "DescribeServiceRevisions" => describe_service_revisions(state, input),
        "StopServiceDeployment" => stop_service_deployment(state, input),
        "ContinueServiceDeployment" => continue_service_deployment(state, input),
        _ => Err(err(
            "UnknownOperationException",
            format!("The fake ECS does not know the operation '{operation}'."),
        )),
    }
}

/// A list field ECS requires and caps, refused as ECS refuses it.
fn bounded_list<'a>(
    input: &'a Input,
    key: &str,
    max: usize,
    too_long: &str,
) -> Result<Vec<&'a str>, ApiError> {
    let list = str_list(input, key)?;
    if list.is_empty() {
        let mut field = key.to_string();
        field[..1].make_ascii_uppercase();
        return Err(invalid(format!("{field} cannot be empty.")));
    }
    if list.len() > max {
        return Err(invalid(too_long));
    }
    Ok(list)
}

fn describe_services(state: &mut State, input: &Input) -> Result<Value, ApiError> {
    let cluster = cluster(state, input)?;
    let names = bounded_list(input, "services", 10, "Services cannot be more than 10.")?;
    let with_tags = wants_tags(input)?;
    let mut advanced = HashSet::new();
    for name in &names {
        let name = short_name(name);
        if let Some(i) = state.find_service(&cluster, name) {
            if state.services[i].status == ACTIVE && advanced.insert(i) {
                rollout::advance(&mut state.world, &mut state.services[i]);
            }
        }
    }
    let mut services = Vec::new();
    let mut failures = Vec::new();
    for name in &names {
        match state.find_service(&cluster, short_name(name)) {
            Some(i) => services.push(state.world.render_service(&state.services[i], with_tags)),
            None => failures.push(json!({
                "arn": arn(&format!("service/{cluster}/{}", short_name(name))),
                "reason": "MISSING",
            })),
        }
    }
    Ok(json!({"services": services, "failures": failures}))
}

fn update_service(state: &mut State, input: &Input) -> Result<Value, ApiError> {
    let cluster = cluster(state, input)?;
    let name = short_name(req_str(input, "service")?);
    let i = state
        .find_service(&cluster, name)
        .ok_or_else(|| err("ServiceNotFoundException", "Service not found."))?;
    if state.services[i].status != ACTIVE {
        return Err(err("ServiceNotActiveException", "Service was not ACTIVE."));
    }
    if state.services[i].express.is_some() && input.contains_key("taskDefinition") {
        return Err(invalid(format!(
            "The service {name} is managed by Amazon ECS Express Mode (resourceManagementType ECS): its task definition cannot be changed with UpdateService. Use UpdateExpressGatewayService."
        )));
    }
    let task_definition = match opt_str(input, "taskDefinition")? {
        None => None,
        Some(reference) => {
            let td = state
                .world
                .find_task_def(reference)
                .ok_or_else(|| client("TaskDefinition not found."))?;
            if !td.is_active() {
                return Err(client("TaskDefinition is inactive"));
            }
            Some(td.arn())
        }
    };
    let desired = opt_u32(input, "desiredCount")?;
    let force = opt_bool(input, "forceNewDeployment")?.unwrap_or(false);
    let mut config = state.services[i].deployment_configuration.clone();
    match input.get("deploymentConfiguration") {
        None => {}
        Some(Value::Object(update)) => {
            if let Some(current) = config.as_object_mut() {
                current.extend(update.clone());
            }
            check_deployment_configuration(update, &config)?;
        }
        Some(_) => return Err(wrong_type("deploymentConfiguration", "an object")),
    }
    if Strategy::of(&config).is_none() {
        return Err(invalid(format!(
            "Invalid deployment strategy {}: use ROLLING, BLUE_GREEN, LINEAR or CANARY.",
            config["strategy"]
        )));
    }
    let controller = state.services[i].controller;
    if controller != ECS_CONTROLLER && (task_definition.is_some() || force) {
        let how = if controller == "CODE_DEPLOY" {
            "Use AWS CodeDeploy to deploy your application."
        } else {
            "Use task sets to deploy your application."
        };
        return Err(invalid(format!(
            "Unable to update task definition on services with a {controller} deployment controller. {how}"
        )));
    }
    let now = state.world.now();
    let service = &mut state.services[i];
    let current = service
        .deployments
        .first()
        .map(|d| d.task_definition.clone());
    let new_task_definition = task_definition.filter(|td| Some(td) != current.as_ref());
    let deploy = new_task_definition.or(if force { current } else { None });
    let rollout = match &deploy {
        Some(_) => Some(scripted_rollout(service, &config)?),
        None => None,
    };
    service.deployment_configuration = config;
    if let Some(d) = desired {
        service.desired = d;
    }
    match deploy.zip(rollout) {
        Some((td, rollout)) => {
            let from = service.deployments.first().map(|d| d.revision_arn.clone());
            rollout::begin(&mut state.world, service, &td, rollout);
            // An Express service's forced deployment runs its configuration again.
            let to = service.deployments[0].revision_arn.clone();
            if let (Some(express), Some(from)) = (service.express.as_mut(), from) {
                express.redeploy(&from, to, now);
            }
        }
        None => {
            if let (Some(d), Some(primary)) = (desired, service.deployments.first_mut()) {
                primary.desired = d;
                primary.updated_at = now;
            }
        }
    }
    Ok(json!({"service": state.world.render_service(&state.services[i], false)}))
}

/// The rollout the next deployment of `service` under the deploymentConfiguration `config`
/// follows (see `rollout::next_rollout`): what UpdateService, and whatever else starts a
/// deployment, passes to `rollout::begin`. 400 FakeEcsScriptError if the scripted one does not
/// fit the strategy.
pub(crate) fn scripted_rollout(service: &Service, config: &Value) -> Result<Rollout, ApiError> {
    rollout::next_rollout(service, config).map_err(|message| err("FakeEcsScriptError", message))
}

/// The member `key` of `object`, which is at `path` in the request, and its path.
pub(crate) fn member<'a>(object: &'a Input, path: &str, key: &str) -> (Option<&'a Value>, String) {
    (object.get(key), format!("{path}.{key}"))
}

/// A structure member: an object (SerializationException if it is another type).
pub(crate) fn structure<'a>(value: &'a Value, path: &str) -> Result<&'a Input, ApiError> {
    value
        .as_object()
        .ok_or_else(|| wrong_type(path, "an object"))
}

/// An optional boolean member at `path` (SerializationException if it is another type).
pub(crate) fn bool_at(value: Option<&Value>, path: &str) -> Result<Option<bool>, ApiError> {
    match value {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(wrong_type(path, "a boolean")),
    }
}

/// An optional integer member at `path` (SerializationException if it is another type).
pub(crate) fn int_at(value: Option<&Value>, path: &str) -> Result<Option<i64>, ApiError> {
    match value {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| wrong_type(path, "an integer")),
    }
}

/// An optional string member at `path` (SerializationException if it is another type).
pub(crate) fn str_at<'a>(
    value: Option<&'a Value>,
    path: &str,
) -> Result<Option<&'a str>, ApiError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type(path, "a string")),
    }
}

/// An optional string member at `path` that must be one of the model's enum values
/// `allowed`, refused in AWS's words.
pub(crate) fn enum_at<'a>(
    value: Option<&'a Value>,
    path: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>, ApiError> {
    match str_at(value, path)? {
        Some(s) if !allowed.contains(&s) => Err(violates(
            path,
            &format!("'{s}'"),
            &format!("satisfy enum value set: [{}]", allowed.join(", ")),
        )),
        other => Ok(other),
    }
}

/// The members of a `deploymentConfiguration` sent to UpdateService that the fake acts on
/// besides the strategy, checked as ECS checks them: `deploymentCircuitBreaker` (`enable` and
/// `rollback` required; `resetOnHealthyTask`; `thresholdConfiguration` with a `type` of
/// [`THRESHOLD_TYPES`] and a `value` that is not negative) and `earlySuccessCriteria`
/// (`enable` required; `healthyPercent` 0 to 100; `sourceServiceRevisionCleanup` of
/// [`CLEANUPS`]; when enabled both are required, the strategy of `merged` (the service's
/// configuration with the update merged in) must be ROLLING, and `healthyPercent` must not be
/// below its `minimumHealthyPercent`).
pub(crate) fn check_deployment_configuration(
    update: &Input,
    merged: &Value,
) -> Result<(), ApiError> {
    const PATH: &str = "deploymentConfiguration";
    if let Some(breaker) = update.get("deploymentCircuitBreaker") {
        let path = format!("{PATH}.deploymentCircuitBreaker");
        let breaker = structure(breaker, &path)?;
        for key in ["enable", "rollback"] {
            let (value, at) = member(breaker, &path, key);
            required(bool_at(value, &at)?, &at)?;
        }
        let (value, at) = member(breaker, &path, "resetOnHealthyTask");
        bool_at(value, &at)?;
        if let (Some(threshold), at) = member(breaker, &path, "thresholdConfiguration") {
            let threshold = structure(threshold, &at)?;
            let (kind, kind_at) = member(threshold, &at, "type");
            required(enum_at(kind, &kind_at, &THRESHOLD_TYPES)?, &kind_at)?;
            let (value, value_at) = member(threshold, &at, "value");
            let value = required(int_at(value, &value_at)?, &value_at)?;
            if value < 0 {
                return Err(invalid(format!(
                    "Invalid {value_at} {value}: the failure threshold cannot be negative."
                )));
            }
        }
    }
    if let Some(criteria) = update.get("earlySuccessCriteria") {
        let path = format!("{PATH}.earlySuccessCriteria");
        let criteria = structure(criteria, &path)?;
        let (enable, at) = member(criteria, &path, "enable");
        let enable = required(bool_at(enable, &at)?, &at)?;
        let (percent, percent_at) = member(criteria, &path, "healthyPercent");
        let percent = int_at(percent, &percent_at)?;
        if let Some(p) = percent.filter(|p| !(0..=100).contains(p)) {
            let bound = if p < 0 {
                "have value greater than or equal to 0"
            } else {
                "have value less than or equal to 100"
            };
            return Err(violates(&percent_at, &format!("'{p}'"), bound));
        }
        let (cleanup, at) = member(criteria, &path, "sourceServiceRevisionCleanup");
        let cleanup = enum_at(cleanup, &at, &CLEANUPS)?;
        if enable {
            let (Some(percent), Some(_)) = (percent, cleanup) else {
                return Err(invalid(
                    "earlySuccessCriteria needs healthyPercent and sourceServiceRevisionCleanup when enable is true.",
                ));
            };
            if Strategy::of(merged) != Some(Strategy::Rolling) {
                return Err(invalid(
                    "earlySuccessCriteria can only be enabled for the ROLLING deployment strategy.",
                ));
            }
            let minimum = merged["minimumHealthyPercent"].as_i64().unwrap_or(100);
            if percent < minimum {
                return Err(invalid(format!(
                    "earlySuccessCriteria.healthyPercent ({percent}) must be greater than or equal to minimumHealthyPercent ({minimum})."
                )));
            }
        }
    }
    Ok(())
}

/// The service and index of the service deployment `serviceDeploymentArn` names;
/// ServiceDeploymentNotFoundException if there is none.
fn service_deployment_of(state: &State, input: &Input) -> Result<(usize, usize), ApiError> {
    let arn = req_str(input, "serviceDeploymentArn")?;
    state.find_service_deployment(arn).ok_or_else(|| {
        err(
            "ServiceDeploymentNotFoundException",
            format!("The service deployment {arn} does not exist."),
        )
    })
}

/// An optional string that must be one of `allowed`.
pub(crate) fn opt_choice<'a>(
    input: &'a Input,
    key: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>, ApiError> {
    match opt_str(input, key)? {
        Some(value) if !allowed.contains(&value) => Err(invalid(format!(
            "Invalid {key} '{value}': use one of {}.",
            allowed.join(", ")
        ))),
        other => Ok(other),
    }
}

/// An optional epoch-seconds timestamp inside `object`.
fn opt_time(object: &Input, key: &str, path: &str) -> Result<Option<f64>, ApiError> {
    match object.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| wrong_type(&format!("{path}.{key}"), "a timestamp (epoch seconds)")),
    }
}

fn list_service_deployments(state: &State, input: &Input) -> Result<Value, ApiError> {
    let cluster = cluster(state, input)?;
    let name = short_name(req_str(input, "service")?);
    let i = state
        .find_service(&cluster, name)
        .ok_or_else(|| err("ServiceNotFoundException", "Service not found."))?;
    let statuses = str_list(input, "status")?;
    if let Some(bad) = statuses.iter().find(|s| !STATUSES.contains(s)) {
        return Err(invalid(format!(
            "Invalid status '{bad}': use one of {}.",
            STATUSES.join(", ")
        )));
    }
    let (after, before) = match input.get("createdAt") {
        None => (None, None),
        Some(Value::Object(range)) => (
            opt_time(range, "after", "createdAt")?,
            opt_time(range, "before", "createdAt")?,
        ),
        Some(_) => return Err(wrong_type("createdAt", "an object")),
    };
    let briefs = state.services[i]
        .service_deployments
        .iter()
        .rev()
        .filter(|sd| statuses.is_empty() || statuses.contains(&sd.status))
        .filter(|sd| after.is_none_or(|t| sd.created_at >= t))
        .filter(|sd| before.is_none_or(|t| sd.created_at <= t))
        .map(|sd| sd.render_brief())
        .collect();
    page(briefs, input, "serviceDeployments", 20)
}

fn describe_service_deployments(state: &State, input: &Input) -> Result<Value, ApiError> {
    let arns = bounded_list(
        input,
        "serviceDeploymentArns",
        20,
        "ServiceDeploymentArns cannot have more than 20 elements.",
    )?;
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for arn in arns {
        if !arn.starts_with("arn:aws:ecs:") || !arn.contains(":service-deployment/") {
            return Err(invalid(format!("Invalid service deployment ARN: {arn}")));
        }
        match state.find_service_deployment(arn) {
            Some((i, j)) => found.push(state.services[i].service_deployments[j].render()),
            None => failures.push(json!({"arn": arn, "reason": "MISSING"})),
        }
    }
    Ok(json!({"serviceDeployments": found, "failures": failures}))
}

fn describe_service_revisions(state: &State, input: &Input) -> Result<Value, ApiError> {
    let arns = bounded_list(
        input,
        "serviceRevisionArns",
        20,
        "ServiceRevisionArns cannot have more than 20 elements.",
    )?;
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for arn in arns {
        if !arn.starts_with("arn:aws:ecs:") || !arn.contains(":service-revision/") {
            return Err(invalid(format!("Invalid service revision ARN: {arn}")));
        }
        match state.world.service_revisions.iter().find(|r| r.arn == arn) {
            Some(revision) => found.push(json!({
                "serviceRevisionArn": revision.arn,
                "serviceArn": revision.service_arn,
                "clusterArn": revision.cluster_arn,
                "taskDefinition": revision.task_definition,
                "createdAt": revision.created_at,
            })),
            None => failures.push(json!({"arn": arn, "reason": "MISSING"})),
        }
    }
    Ok(json!({"serviceRevisions": found, "failures": failures}))
}

fn stop_service_deployment(state: &mut State, input: &Input) -> Result<Value, ApiError> {
    let stop_type = opt_choice(input, "stopType", &["ROLLBACK", "ABORT"])?.unwrap_or("ROLLBACK");
    let (i, j) = service_deployment_of(state, input)?;
    let service = &mut state.services[i];
    let sd = &service.service_deployments[j];
    let arn = sd.arn.clone();
    let newest = j + 1 == service.service_deployments.len();
    if !sd.is_under_way() || !newest || service.progress.is_none() {
        return Err(err(
            "ConflictException",
            format!(
                "The service deployment {arn} is {} and can't be stopped.",
                sd.status
            ),
        ));
    }
    rollout::request_stop(&state.world, service, stop_type == "ROLLBACK");
    Ok(json!({"serviceDeploymentArn": arn}))
}

fn continue_service_deployment(state: &mut State, input: &Input) -> Result<Value, ApiError> {
    let hook_id = req_str(input, "hookId")?;
    let action = opt_choice(input, "action", &["CONTINUE", "ROLLBACK"])?.unwrap_or("CONTINUE");
    let (i, j) = service_deployment_of(state, input)?;
    let service = &mut state.services[i];
    let arn = service.service_deployments[j].arn.clone();
    let newest = j + 1 == service.service_deployments.len();
    if !newest
        || !rollout::continue_deployment(&mut state.world, service, hook_id, action == "ROLLBACK")
    {
        return Err(invalid(format!(
            "The service deployment {arn} has no lifecycle hook {hook_id} awaiting action."
        )));
    }
    Ok(json!({"serviceDeploymentArn": arn}))
}

fn describe_task_definition(state: &State, input: &Input) -> Result<Value, ApiError> {
    let reference = req_str(input, "taskDefinition")?;
    let td = state
        .world
        .find_task_def(reference)
        .ok_or_else(|| client("Unable to describe task definition."))?;
    let mut reply = json!({"taskDefinition": td.description});
    if wants_tags(input)? {
        reply["tags"] = tags_json(&td.tags);
    }
    Ok(reply)
}

/// The path of the first null inside `value`, if any.
fn find_null(value: &Value, path: String) -> Option<String> {
    match value {
        Value::Null => Some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_null(v, format!("{path}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, v)| find_null(v, format!("{path}.{k}"))),
        _ => None,
    }
}

/// The capability attributes ECS derives from a task definition.
fn requires_attributes(input: &Input) -> Value {
    let text = Value::Object(input.clone()).to_string();
    let mut names = vec!["com.amazonaws.ecs.capability.docker-remote-api.1.18"];
    let checks = [
        (
            "\"taskRoleArn\"",
            "com.amazonaws.ecs.capability.task-iam-role",
        ),
        (".dkr.ecr.", "com.amazonaws.ecs.capability.ecr-auth"),
        (
            "\"awslogs\"",
            "com.amazonaws.ecs.capability.logging-driver.awslogs",
        ),
        (
            ":secretsmanager:",
            "ecs.capability.secrets.asm.environment-variables",
        ),
        (":ssm:", "ecs.capability.secrets.ssm.environment-variables"),
        ("\"awsvpc\"", "ecs.capability.task-eni"),
        ("\"dependsOn\"", "ecs.capability.container-ordering"),
    ];
    for (needle, name) in checks {
        if text.contains(needle) {
            names.push(name);
        }
    }
    if input.contains_key("executionRoleArn") && text.contains(".dkr.ecr.") {
        names.push("ecs.capability.execution-role-ecr-pull");
    }
    names.iter().map(|n| json!({"name": n})).collect()
}

/// RegisterTaskDefinition: check the input, store a new revision; returns its index.
pub(crate) fn register(world: &mut World, input: &Input) -> Result<usize, ApiError> {
    if let Some(key) = READ_ONLY_KEYS.iter().find(|k| input.contains_key(**k)) {
        return Err(client(format!(
            "Unexpected key '{key}' found in params: it is a read-only task definition field."
        )));
    }
    if let Some(path) = find_null(&Value::Object(input.clone()), String::new()) {
        return Err(client(format!("Unexpected null value at '{path}'.")));
    }
    let tags = parse_tags(input.get("tags"))?;
    let family = req_str(input, "family").map_err(|_| client("Family can not be blank."))?;
    let valid_family = family.len() <= 255
        && family
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid_family {
        return Err(client(
            "Family contains invalid characters: up to 255 letters, numbers, hyphens and underscores.",
        ));
    }
    let containers = input
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| client("Container list cannot be empty."))?;
    let mut names = HashSet::new();
    for c in containers {
        let name = c["name"].as_str().filter(|n| !n.is_empty());
        let name = name.ok_or_else(|| client("Container.name should not be null or empty."))?;
        if c["image"].as_str().is_none_or(str::is_empty) {
            return Err(client("Container.image should not be null or empty."));
        }
        if !names.insert(name) {
            return Err(client(format!("Duplicate container name: {name}.")));
        }
    }
    let revision = world
        .task_defs
        .iter()
        .filter(|t| t.family == family)
        .map(|t| t.revision)
        .max()
        .unwrap_or(0)
        + 1;
    let mut description = input.clone();
    description.remove("tags");
    let mut compatibilities = vec!["EC2".to_string()];
    for c in str_list(input, "requiresCompatibilities")? {
        if !compatibilities.iter().any(|x| x == c) {
            compatibilities.push(c.to_string());
        }
    }
    let td = TaskDef {
        family: family.to_string(),
        revision,
        description: Map::new(),
        tags,
    };
    description.insert("taskDefinitionArn".into(), json!(td.arn()));
    description.insert("revision".into(), json!(revision));
    description.insert("status".into(), json!(ACTIVE));
    description.insert("requiresAttributes".into(), requires_attributes(input));
    description.insert("compatibilities".into(), json!(compatibilities));
    description.insert("registeredAt".into(), json!(world.now()));
    description.insert("registeredBy".into(), json!(REGISTERED_BY));
    world.task_defs.push(TaskDef { description, ..td });
    Ok(world.task_defs.len() - 1)
}

impl State {
    pub(crate) fn seed_task_definition(
        &mut self,
        input: Value,
        tags: Vec<(String, String)>,
    ) -> String {
        self.world.tick();
        let mut input = match input {
            Value::Object(map) => map,
            other => panic!("fake-ecs: a task definition is a JSON object, not {other}"),
        };
        if !tags.is_empty() {
            input.insert("tags".into(), tags_json(&tags));
        }
        let index = register(&mut self.world, &input).unwrap_or_else(|e| {
            panic!(
                "fake-ecs: RegisterTaskDefinition refuses it: {}: {}",
                e.code, e.message
            )
        });
        self.world.task_defs[index].arn()
    }
}

fn deregister_task_definition(state: &mut State, input: &Input) -> Result<Value, ApiError> {
    let reference = req_str(input, "taskDefinition")?;
    if !short_name(reference).contains(':') {
        return Err(client(
            "A revision must be specified: family:revision or the full ARN.",
        ));
    }
    let arn = state
        .world
        .find_task_def(reference)
        .map(TaskDef::arn)
        .ok_or_else(|| client("The specified task definition does not exist."))?;
    let now = state.world.now();
    let td = state
        .world
        .task_defs
        .iter_mut()
        .find(|t| t.arn() == arn)
        .ok_or_else(|| client("The specified task definition does not exist."))?;
    if td.is_active() {
        td.description.insert("status".into(), json!(INACTIVE));
        td.description.insert("deregisteredAt".into(), json!(now));
    }
    Ok(json!({"taskDefinition": td.description}))
}

fn list_task_definitions(state: &State, input: &Input) -> Result<Value, ApiError> {
    let prefix = opt_str(input, "familyPrefix")?.unwrap_or("");
    let status = opt_str(input, "status")?.unwrap_or(ACTIVE);
    if status != ACTIVE && status != INACTIVE && status != "DELETE_IN_PROGRESS" {
        return Err(invalid(format!("Invalid status: {status}.")));
    }
    let descending = match opt_str(input, "sort")?.unwrap_or("ASC") {
        "ASC" => false,
        "DESC" => true,
        other => return Err(invalid(format!("Invalid sort: {other}."))),
    };
    let mut matching: Vec<&TaskDef> = state
        .world
        .task_defs
        .iter()
        .filter(|t| t.family.starts_with(prefix))
        .filter(|t| t.description.get("status").and_then(Value::as_str) == Some(status))
        .collect();
    matching.sort_by(|a, b| (&a.family, a.revision).cmp(&(&b.family, b.revision)));
    if descending {
        matching.reverse();
    }
    page(
        matching.iter().map(|t| json!(t.arn())).collect(),
        input,
        "taskDefinitionArns",
        100,
    )
}

fn list_tasks(state: &State, input: &Input) -> Result<Value, ApiError> {
    let cluster = cluster(state, input)?;
    let group = match opt_str(input, "serviceName")? {
        None => None,
        Some(name) => {
            let name = short_name(name);
            state
                .find_service(&cluster, name)
                .ok_or_else(|| err("ServiceNotFoundException", "Service not found."))?;
            Some(format!("service:{name}"))
        }
    };
    let started_by = opt_str(input, "startedBy")?;
    let family = opt_str(input, "family")?;
    let launch_type = opt_str(input, "launchType")?;
    let desired = opt_str(input, "desiredStatus")?.unwrap_or(RUNNING);
    if desired != RUNNING && desired != STOPPED && desired != "PENDING" {
        return Err(invalid(format!("Invalid desiredStatus: {desired}.")));
    }
    let arns = state
        .world
        .tasks
        .iter()
        .filter(|t| t.cluster == cluster && t.desired_status == desired)
        .filter(|t| group.as_ref().is_none_or(|g| *g == t.group))
        .filter(|t| started_by.is_none_or(|s| t.started_by.as_deref() == Some(s)))
        .filter(|t| family.is_none_or(|f| t.family == f))
        .filter(|t| launch_type.is_none_or(|l| t.launch_type == l))
        .map(|t| json!(t.arn()))
        .collect();
    page(arns, input, "taskArns", 100)
}

fn describe_tasks(state: &mut State, input: &Input) -> Result<Value, ApiError> {
    let cluster = cluster(state, input)?;
    let refs = bounded_list(
        input,
        "tasks",
        100,
        "Tasks cannot have more than 100 elements.",
    )?;
    let with_tags = wants_tags(input)?;
    let found: Vec<Option<usize>> = refs
        .iter()
        .map(|r| {
            let id = short_name(r);
            state
                .world
                .tasks
                .iter()
                .position(|t| t.cluster == cluster && t.id == id)
        })
        .collect();
    let mut advanced = HashSet::new();
    for &i in found.iter().flatten() {
        if advanced.insert(i) {
            advance_run_task(&mut state.world, i);
        }
    }
    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    for (r, i) in refs.iter().zip(found) {
        match i {
            Some(i) => {
                let mut task = state.world.render_task(&state.world.tasks[i]);
                if !with_tags {
                    if let Value::Object(m) = &mut task {
                        m.remove("tags");
                    }
                }
                tasks.push(task);
            }
            None => {
                let arn = if r.starts_with("arn:") {
                    r.to_string()
                } else {
                    arn(&format!("task/{cluster}/{r}"))
                };
                failures.push(json!({"arn": arn, "reason": "MISSING"}));
            }
        }
    }
    Ok(json!({"tasks": tasks, "failures": failures}))
}

/// The stoppedReason of a task whose essential container exited.
const ESSENTIAL_EXITED: &str = "Essential container in task exited";

/// A RunTask task seen by DescribeTasks: one step of its [`TaskRun`] script per call.
fn advance_run_task(world: &mut World, index: usize) {
    let Some(script) = &mut world.tasks[index].script else {
        return;
    };
    let polls = script.polls;
    script.polls += 1;
    let run = script.run.clone();
    match (polls, run) {
        (0, TaskRun::FailToStart { .. }) => world.pend(index),
        (0, _) => world.run(index),
        (1, TaskRun::Succeed) => {
            world.stop(index, ESSENTIAL_EXITED, "EssentialContainerExited", |_| {
                (Some(0), None)
            })
        }
        (
            1,
            TaskRun::Exit {
                container,
                exit_code,
                reason,
            },
        ) => world.stop(index, ESSENTIAL_EXITED, "EssentialContainerExited", |c| {
            if c.name == container {
                (Some(exit_code), Some(reason.clone()))
            } else {
                (Some(0), None)
            }
        }),
        (1, TaskRun::FailToStart { reason }) => {
            world.stop(index, &reason, "TaskFailedToStart", |_| {
                (None, Some(reason.clone()))
            })
        }
        _ => {}
    }
}

/// The checked `awsvpcConfiguration` of a RunTask `networkConfiguration`: its first subnet.
fn network_configuration(value: &Value) -> Result<String, ApiError> {
    let config = value
        .as_object()
        .ok_or_else(|| invalid("networkConfiguration must be an object."))?;
    let awsvpc = config
        .get("awsvpcConfiguration")
        .ok_or_else(|| invalid("networkConfiguration.awsvpcConfiguration must be provided."))?
        .as_object()
        .ok_or_else(|| invalid("networkConfiguration.awsvpcConfiguration must be an object."))?;
    let strings = |key: &str| -> Result<Option<Vec<&str>>, ApiError> {
        match awsvpc.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| invalid(format!("{key} must be a list of strings.")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(invalid(format!("{key} must be a list of strings."))),
        }
    };
    let subnets = strings("subnets")?.unwrap_or_default();
    let first = subnets
        .first()
        .ok_or_else(|| invalid("subnets can not be empty."))?;
    if subnets.len() > 16 {
        return Err(invalid("subnets can have at most 16 items."));
    }
    if subnets.iter().any(|s| s.is_empty()) {
        return Err(invalid("subnets can not contain an empty string."));
    }
    if strings("securityGroups")?.is_some_and(|g| g.len() > 5) {
        return Err(invalid("securityGroups can have at most 5 items."));
    }
    match awsvpc.get("assignPublicIp") {
        None => {}
        Some(Value::String(v)) if v == "ENABLED" || v == "DISABLED" => {}
        Some(_) => return Err(invalid("assignPublicIp must be ENABLED or DISABLED.")),
    }
    Ok(first.to_string())
}

fn run_task(state: &mut State, input: &Input) -> Result<Value, ApiError> {
    let cluster = cluster(state, input)?;
    let reference = req_str(input, "taskDefinition")?;
    let td = state
        .world
        .find_task_def(reference)
        .ok_or_else(|| client("TaskDefinition not found."))?;
    if !td.is_active() {
        return Err(client("TaskDefinition is inactive"));
    }
    let arn = td.arn();
    let awsvpc = td.description.get("networkMode").and_then(Value::as_str) == Some("awsvpc");
    let container_names: Vec<String> = td.description["containerDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    let count = opt_u32(input, "count")?.unwrap_or(1);
    if !(1..=10).contains(&count) {
        return Err(invalid("count must be between 1 and 10."));
    }
    let started_by = opt_str(input, "startedBy")?.map(str::to_string);
    if started_by.as_ref().is_some_and(|s| s.len() > 128) {
        return Err(invalid("startedBy can have at most 128 characters."));
    }
    let group = opt_str(input, "group")?.map(str::to_string);
    let launch_type = opt_str(input, "launchType")?.unwrap_or("EC2");
    if !["EC2", "FARGATE", "EXTERNAL"].contains(&launch_type) {
        return Err(invalid(format!(
            "Invalid launchType '{launch_type}': use EC2, FARGATE or EXTERNAL."
        )));
    }
    let platform_version = opt_str(input, "platformVersion")?;
    let platform_version = match (launch_type, platform_version) {
        ("FARGATE", version) => Some(version.unwrap_or("LATEST").to_string()),
        (_, None) => None,
        (_, Some(_)) => {
            return Err(invalid(format!(
                "The platform version must be null when specifying an {launch_type} launch type."
            )))
        }
    };
    let subnet =
        match input.get("networkConfiguration") {
            None if awsvpc => return Err(invalid(
                "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
            )),
            None => None,
            Some(config) => Some(network_configuration(config)?),
        };
    let tags = parse_tags(input.get("tags"))?;
    let overrides = input.get("overrides").cloned();
    let run = state.next_task_runs.front().cloned().unwrap_or_default();
    if let TaskRun::Exit { container, .. } = &run {
        if !container_names.contains(container) {
            return Err(err(
                "FakeEcsScriptError",
                format!(
                    "fake-ecs: TaskRun::Exit names container '{container}', but {arn} has only {container_names:?}."
                ),
            ));
        }
    }
    state.next_task_runs.pop_front();
    let mut tasks = Vec::new();
    for _ in 0..count {
        let i = state.world.new_task(
            &cluster,
            &arn,
            started_by.clone(),
            group.clone(),
            launch_type,
        );
        let eni = subnet.clone().map(|subnet| {
            let id = state.world.uuid();
            let suffix = state.world.hex_id()[..17].to_string();
            let n = state.world.tasks.len();
            Eni {
                id,
                subnet,
                suffix,
                host: ((n / 250 % 250) as u8, (n % 250 + 2) as u8),
            }
        });
        let task = &mut state.world.tasks[i];
        task.script = Some(Script {
            run: run.clone(),
            polls: 0,
        });
        task.platform_version = platform_version.clone();
        task.eni = eni;
        task.tags = tags.clone();
        if let Some(o) = &overrides {
            task.overrides = o.clone();
        }
        tasks.push(state.world.render_task(&state.world.tasks[i]));
    }
    Ok(json!({"tasks": tasks, "failures": []}))
}

fn tag_resource(state: &mut State, input: &Input) -> Result<Value, ApiError> {
    let resource = req_str(input, "resourceArn")?;
    let tags = parse_tags(input.get("tags"))?;
    if tags.is_empty() {
        return Err(invalid("Tags cannot be empty."));
    }
    if resource.contains(":task-definition/") {
        let arn = state
            .world
            .find_task_def(resource)
            .map(TaskDef::arn)
            .ok_or_else(|| invalid("The specified task definition does not exist."))?;
        if let Some(td) = state.world.task_defs.iter_mut().find(|t| t.arn() == arn) {
            merge_tags(&mut td.tags, tags);
        }
    } else if let Some(service) = state.services.iter_mut().find(|s| s.arn() == resource) {
        merge_tags(&mut service.tags, tags);
    } else if let Some(task) = state.world.tasks.iter_mut().find(|t| t.arn() == resource) {
        merge_tags(&mut task.tags, tags);
    } else {
        return Err(invalid("The specified resource could not be found."));
    }
    Ok(json!({}))
}
