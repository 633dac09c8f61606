//! The CodeDeploy operations: input checks and replies, with the error codes of CodeDeploy's
//! model.

use serde_json::{json, Map, Value};

use crate::codedeploy::{
    is_hook_event, AutoRollback, NewDeployment, Status, AUTO_ROLLBACK_EVENTS, BUILT_IN_CONFIGS,
};
use crate::ops::{err, opt_bool, opt_str, page_of, str_list, wrong_type, ApiError};
use crate::sha256;
use crate::state::State;

type Input = Map<String, Value>;

/// Items per page of every CodeDeploy listing.
const PAGE_SIZE: usize = 100;
/// The most deployment group names BatchGetDeploymentGroups takes.
const BATCH_LIMIT: usize = 100;
/// The longest application or deployment group name.
const MAX_NAME: usize = 100;
/// The target filters of ListDeploymentTargets.
const TARGET_FILTERS: [&str; 2] = ["TargetStatus", "ServerInstanceLabel"];

/// Run one CodeDeploy operation against the state.
pub(crate) fn call(state: &mut State, operation: &str, input: &Input) -> Result<Value, ApiError> {
    match operation {
        "ListApplications" => list_applications(state, input),
        "ListDeploymentGroups" => list_deployment_groups(state, input),
        "BatchGetDeploymentGroups" => batch_get_deployment_groups(state, input),
        "GetDeploymentGroup" => get_deployment_group(state, input),
        "CreateDeployment" => create_deployment(state, input),
        "GetDeployment" => get_deployment(state, input),
        "GetDeploymentTarget" => get_deployment_target(state, input),
        "ListDeploymentTargets" => list_deployment_targets(state, input),
        "ListDeployments" => list_deployments(state, input),
        "StopDeployment" => stop_deployment(state, input),
        "ContinueDeployment" => continue_deployment(state, input),
        _ => Err(err(
            "UnknownOperationException",
            format!("The fake CodeDeploy does not know the operation '{operation}'."),
        )),
    }
}

/// A name of 1 to 100 characters: `missing` when absent or empty, `too_long` past 100.
fn name<'a>(
    input: &'a Input,
    key: &str,
    missing: (&'static str, &str),
    too_long: &'static str,
) -> Result<Option<&'a str>, ApiError> {
    match opt_str(input, key)? {
        None => Ok(None),
        Some("") => Err(err(missing.0, missing.1)),
        Some(name) if name.chars().count() > MAX_NAME => Err(err(
            too_long,
            format!("{key} '{name}' is longer than {MAX_NAME} characters."),
        )),
        Some(name) => Ok(Some(name)),
    }
}

const APPLICATION_NAME_REQUIRED: (&str, &str) = (
    "ApplicationNameRequiredException",
    "The minimum number of required application names was not specified.",
);
const GROUP_NAME_REQUIRED: (&str, &str) = (
    "DeploymentGroupNameRequiredException",
    "The deployment group name was not specified.",
);

/// `applicationName`, if given: checked, and the application must exist.
fn opt_application<'a>(state: &State, input: &'a Input) -> Result<Option<&'a str>, ApiError> {
    let application = name(
        input,
        "applicationName",
        APPLICATION_NAME_REQUIRED,
        "InvalidApplicationNameException",
    )?;
    match application {
        Some(a) if !state.codedeploy.applications.iter().any(|x| x == a) => Err(err(
            "ApplicationDoesNotExistException",
            format!("No application found for name: {a}"),
        )),
        other => Ok(other),
    }
}

/// `applicationName`, which must be given and exist.
fn application<'a>(state: &State, input: &'a Input) -> Result<&'a str, ApiError> {
    opt_application(state, input)?
        .ok_or_else(|| err(APPLICATION_NAME_REQUIRED.0, APPLICATION_NAME_REQUIRED.1))
}

/// The index of the deployment group `deploymentGroupName` of `application`, which must be
/// given and exist.
fn group(state: &State, input: &Input, application: &str) -> Result<usize, ApiError> {
    let group = name(
        input,
        "deploymentGroupName",
        GROUP_NAME_REQUIRED,
        "InvalidDeploymentGroupNameException",
    )?
    .ok_or_else(|| err(GROUP_NAME_REQUIRED.0, GROUP_NAME_REQUIRED.1))?;
    state
        .codedeploy
        .find_group(application, group)
        .ok_or_else(|| {
            err(
                "DeploymentGroupDoesNotExistException",
                format!("No Deployment Group found for name: {group}"),
            )
        })
}

/// Whether `id` looks like a deployment id: `d-` and 9 upper-case letters or digits.
fn is_deployment_id(id: &str) -> bool {
    id.strip_prefix("d-").is_some_and(|rest| {
        rest.len() == 9
            && rest
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    })
}

/// The index of the deployment `deploymentId` names, which must be given, well-formed and exist.
fn deployment(state: &State, input: &Input) -> Result<usize, ApiError> {
    let id = match opt_str(input, "deploymentId")? {
        None | Some("") => {
            return Err(err(
                "DeploymentIdRequiredException",
                "At least one deployment ID must be specified.",
            ))
        }
        Some(id) => id,
    };
    if !is_deployment_id(id) {
        return Err(err(
            "InvalidDeploymentIdException",
            format!(
                "The deployment ID {id} is not in a valid format (d- and 9 letters or digits)."
            ),
        ));
    }
    state.codedeploy.find_deployment(id).ok_or_else(|| {
        err(
            "DeploymentDoesNotExistException",
            format!("The deployment {id} could not be found."),
        )
    })
}

/// The deployment at `index` must have started (its target exists).
fn started(state: &State, index: usize) -> Result<(), ApiError> {
    let d = &state.codedeploy.deployments[index];
    if d.status == Status::Created {
        return Err(err(
            "DeploymentNotStartedException",
            format!("The deployment {} has not started yet.", d.id),
        ));
    }
    Ok(())
}

/// The deployment at `index` must not be over.
fn not_completed(state: &State, index: usize) -> Result<(), ApiError> {
    let d = &state.codedeploy.deployments[index];
    if !d.status.is_active() {
        return Err(err(
            "DeploymentAlreadyCompletedException",
            format!(
                "The deployment {} has already completed ({}).",
                d.id,
                d.status.name()
            ),
        ));
    }
    Ok(())
}

/// A page of a CodeDeploy listing ([`PAGE_SIZE`] items) from `nextToken`.
fn paged(items: Vec<Value>, input: &Input, key: &str) -> Result<Value, ApiError> {
    page_of(items, opt_str(input, "nextToken")?, PAGE_SIZE, key).ok_or_else(|| {
        err(
            "InvalidNextTokenException",
            "The next token was specified in an invalid format.",
        )
    })
}

fn list_applications(state: &State, input: &Input) -> Result<Value, ApiError> {
    let mut names = state.codedeploy.applications.clone();
    names.sort();
    paged(
        names.into_iter().map(Value::from).collect(),
        input,
        "applications",
    )
}

fn list_deployment_groups(state: &State, input: &Input) -> Result<Value, ApiError> {
    let application = application(state, input)?;
    let mut names: Vec<&str> = state
        .codedeploy
        .groups
        .iter()
        .filter(|g| g.application == application)
        .map(|g| g.name.as_str())
        .collect();
    names.sort_unstable();
    let mut reply = paged(
        names.into_iter().map(Value::from).collect(),
        input,
        "deploymentGroups",
    )?;
    reply["applicationName"] = json!(application);
    Ok(reply)
}

fn batch_get_deployment_groups(state: &State, input: &Input) -> Result<Value, ApiError> {
    let application = application(state, input)?;
    let names = str_list(input, "deploymentGroupNames")?;
    if names.is_empty() {
        return Err(err(GROUP_NAME_REQUIRED.0, GROUP_NAME_REQUIRED.1));
    }
    if names.len() > BATCH_LIMIT {
        return Err(err(
            "BatchLimitExceededException",
            format!("The maximum number of deployment group names ({BATCH_LIMIT}) was exceeded."),
        ));
    }
    let cd = &state.codedeploy;
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        match cd.find_group(application, name) {
            Some(i) => found.push(cd.groups[i].render(&cd.deployments)),
            None => missing.push(name),
        }
    }
    let mut reply = json!({"deploymentGroupsInfo": found});
    if !missing.is_empty() {
        reply["errorMessage"] = json!(format!(
            "The following deployment groups do not exist in application {application}: {}",
            missing.join(", ")
        ));
    }
    Ok(reply)
}

fn get_deployment_group(state: &State, input: &Input) -> Result<Value, ApiError> {
    let application = application(state, input)?;
    let index = group(state, input, application)?;
    let cd = &state.codedeploy;
    Ok(json!({"deploymentGroupInfo": cd.groups[index].render(&cd.deployments)}))
}

fn invalid_revision(message: impl Into<String>) -> ApiError {
    err("InvalidRevisionException", message)
}

/// The checked `revision`: its AppSpec (parsed), the SHA-256 of its content and the task
/// definition ARN it deploys.
fn revision(state: &State, input: &Input) -> Result<(Value, String, String), ApiError> {
    let revision = match input.get("revision") {
        None => {
            return Err(err(
                "RevisionRequiredException",
                "The revision ID was not specified.",
            ))
        }
        Some(Value::Object(revision)) => revision,
        Some(_) => return Err(wrong_type("revision", "an object")),
    };
    match opt_str(revision, "revisionType")? {
        Some("AppSpecContent") => {}
        other => {
            return Err(invalid_revision(format!(
                "revision.revisionType is {}: the fake CodeDeploy takes only AppSpecContent revisions for ECS.",
                other.unwrap_or("missing")
            )))
        }
    }
    let content = match revision.get("appSpecContent") {
        Some(Value::Object(content)) => content,
        Some(_) => return Err(wrong_type("revision.appSpecContent", "an object")),
        None => {
            return Err(invalid_revision(
                "revision.appSpecContent is required for an AppSpecContent revision.",
            ))
        }
    };
    let text = opt_str(content, "content")?
        .ok_or_else(|| invalid_revision("revision.appSpecContent.content is required."))?;
    let sha256 = sha256::hex_digest(text.as_bytes());
    if let Some(given) = opt_str(content, "sha256")? {
        if given != sha256 {
            return Err(invalid_revision(format!(
                "revision.appSpecContent.sha256 {given} is not the SHA-256 of the content ({sha256}, in lower-case hexadecimal)."
            )));
        }
    }
    let appspec: Value = serde_json::from_str(text).map_err(|e| {
        invalid_revision(format!(
            "The AppSpec content is not JSON ({e}); the fake CodeDeploy reads JSON AppSpecs only, not YAML."
        ))
    })?;
    let task_definition = check_appspec(state, &appspec)?;
    Ok((appspec, sha256, task_definition))
}

/// The AppSpec of an ECS deployment: `Resources[0].TargetService` of Type AWS::ECS::Service
/// whose Properties name an ACTIVE task definition by ARN and one of its containers (with a
/// numeric port) in LoadBalancerInfo; `Hooks` of known events. Returns the task definition ARN.
fn check_appspec(state: &State, appspec: &Value) -> Result<String, ApiError> {
    let target = appspec["Resources"][0]
        .get("TargetService")
        .filter(|t| t.is_object())
        .ok_or_else(|| {
            invalid_revision("The AppSpec needs Resources[0].TargetService (an object).")
        })?;
    if target["Type"] != "AWS::ECS::Service" {
        return Err(invalid_revision(format!(
            "Resources[0].TargetService.Type is {}, not AWS::ECS::Service.",
            target["Type"]
        )));
    }
    let properties = &target["Properties"];
    let reference = properties["TaskDefinition"].as_str().ok_or_else(|| {
        invalid_revision(
            "Resources[0].TargetService.Properties.TaskDefinition must be a task definition ARN.",
        )
    })?;
    let td = state
        .world
        .find_task_def(reference)
        .filter(|td| reference.starts_with("arn:") && td.arn() == reference)
        .ok_or_else(|| {
            invalid_revision(format!(
                "The AppSpec's TaskDefinition {reference} is not the ARN of a registered task definition revision."
            ))
        })?;
    if !td.is_active() {
        return Err(invalid_revision(format!(
            "The AppSpec's TaskDefinition {reference} is INACTIVE."
        )));
    }
    let balancer = &properties["LoadBalancerInfo"];
    let container = balancer["ContainerName"].as_str().ok_or_else(|| {
        invalid_revision("Resources[0].TargetService.Properties.LoadBalancerInfo.ContainerName must be a string.")
    })?;
    let containers = td.description["containerDefinitions"].as_array();
    if !containers
        .into_iter()
        .flatten()
        .any(|c| c["name"] == container)
    {
        return Err(invalid_revision(format!(
            "The AppSpec's LoadBalancerInfo.ContainerName {container} is not a container of {reference}."
        )));
    }
    if !balancer["ContainerPort"].is_u64() {
        return Err(invalid_revision(format!(
            "The AppSpec's LoadBalancerInfo.ContainerPort must be a port number, not {}.",
            balancer["ContainerPort"]
        )));
    }
    let optional = [
        ("PlatformVersion", Value::is_string as fn(&Value) -> bool),
        ("NetworkConfiguration", Value::is_object),
        ("CapacityProviderStrategy", Value::is_array),
    ];
    for (key, fits) in optional {
        if properties.get(key).is_some_and(|v| !fits(v)) {
            return Err(invalid_revision(format!(
                "The AppSpec's Properties.{key} has the wrong type: {}.",
                properties[key]
            )));
        }
    }
    check_hooks(&appspec["Hooks"])?;
    Ok(td.arn())
}

/// The AppSpec's `Hooks`: absent, or a list of `{EVENT: function}` of hook events.
fn check_hooks(hooks: &Value) -> Result<(), ApiError> {
    let hooks = match hooks {
        Value::Null => return Ok(()),
        Value::Array(hooks) => hooks,
        other => {
            return Err(invalid_revision(format!(
                "The AppSpec's Hooks must be a list, not {other}."
            )))
        }
    };
    for hook in hooks {
        let fits = hook.as_object().is_some_and(|h| {
            h.len() == 1 && h.iter().all(|(k, v)| is_hook_event(k) && v.is_string())
        });
        if !fits {
            return Err(invalid_revision(format!(
                "The AppSpec hook {hook} is not {{EVENT: function}} with EVENT one of BeforeInstall, AfterInstall, AfterAllowTestTraffic, BeforeAllowTraffic, AfterAllowTraffic."
            )));
        }
    }
    Ok(())
}

/// An optional `autoRollbackConfiguration`.
fn auto_rollback(input: &Input) -> Result<Option<AutoRollback>, ApiError> {
    let config = match input.get("autoRollbackConfiguration") {
        None => return Ok(None),
        Some(Value::Object(config)) => config,
        Some(_) => return Err(wrong_type("autoRollbackConfiguration", "an object")),
    };
    let enabled = opt_bool(config, "enabled")?.unwrap_or(false);
    let events = str_list(config, "events")?;
    if let Some(bad) = events.iter().find(|e| !AUTO_ROLLBACK_EVENTS.contains(e)) {
        return Err(err(
            "InvalidAutoRollbackConfigException",
            format!(
                "Invalid auto rollback event {bad}: use {}.",
                AUTO_ROLLBACK_EVENTS.join(", ")
            ),
        ));
    }
    if enabled && events.is_empty() {
        return Err(err(
            "InvalidAutoRollbackConfigException",
            "An enabled auto rollback configuration needs at least one event.",
        ));
    }
    Ok(Some(AutoRollback {
        enabled,
        events: events.into_iter().map(str::to_string).collect(),
    }))
}

fn create_deployment(state: &mut State, input: &Input) -> Result<Value, ApiError> {
    let application = application(state, input)?;
    let group_index = group(state, input, application)?;
    let (appspec, sha256, task_definition) = revision(state, input)?;
    let group = &state.codedeploy.groups[group_index];
    let config_name = opt_str(input, "deploymentConfigName")?;
    if let Some(name) = config_name {
        if !BUILT_IN_CONFIGS.contains(&name) && name != group.config_name() {
            return Err(err(
                "DeploymentConfigDoesNotExistException",
                format!("No deployment configuration found for name: {name}"),
            ));
        }
    }
    let auto_rollback = auto_rollback(input)?;
    let description = opt_str(input, "description")?.map(str::to_string);
    let active =
        state.codedeploy.deployments.iter().find(|d| {
            d.application == application && d.group == group.name && d.status.is_active()
        });
    if let Some(active) = active {
        return Err(err(
            "DeploymentLimitExceededException",
            format!(
                "The deployment group {} of application {application} already has an active deployment, {} ({}).",
                group.name,
                active.id,
                active.status.name()
            ),
        ));
    }
    let new = NewDeployment {
        appspec,
        sha256,
        task_definition,
        description,
        config_name: config_name.map(str::to_string),
        auto_rollback,
    };
    let State {
        world,
        services,
        codedeploy,
        ..
    } = state;
    let id = codedeploy.create_deployment(world, services, group_index, new);
    Ok(json!({"deploymentId": id}))
}

fn get_deployment(state: &mut State, input: &Input) -> Result<Value, ApiError> {
    let index = deployment(state, input)?;
    let State {
        world,
        services,
        codedeploy,
        ..
    } = state;
    codedeploy.advance_deployment(world, services, index);
    Ok(json!({"deploymentInfo": codedeploy.render(index)}))
}

fn get_deployment_target(state: &State, input: &Input) -> Result<Value, ApiError> {
    let index = deployment(state, input)?;
    let target_id = match opt_str(input, "targetId")? {
        None | Some("") => {
            return Err(err(
                "DeploymentTargetIdRequiredException",
                "A deployment target ID was not provided.",
            ))
        }
        Some(id) => id,
    };
    started(state, index)?;
    let d = &state.codedeploy.deployments[index];
    if target_id != d.target_id() {
        return Err(err(
            "DeploymentTargetDoesNotExistException",
            format!(
                "The target {target_id} does not belong to the deployment {} (its ECS target is {}).",
                d.id,
                d.target_id()
            ),
        ));
    }
    Ok(json!({"deploymentTarget": state.render_deployment_target(index)}))
}

fn list_deployment_targets(state: &State, input: &Input) -> Result<Value, ApiError> {
    let index = deployment(state, input)?;
    let filters = match input.get("targetFilters") {
        None => Map::new(),
        Some(Value::Object(filters)) => filters.clone(),
        Some(_) => return Err(wrong_type("targetFilters", "an object")),
    };
    if let Some(bad) = filters
        .keys()
        .find(|k| !TARGET_FILTERS.contains(&k.as_str()))
    {
        return Err(err(
            "InvalidTargetFilterNameException",
            format!(
                "Invalid target filter {bad}: use {}.",
                TARGET_FILTERS.join(" or ")
            ),
        ));
    }
    let statuses = str_list(&filters, "TargetStatus")?;
    str_list(&filters, "ServerInstanceLabel")?;
    started(state, index)?;
    let target = state.render_deployment_target(index);
    let status = target["ecsTarget"]["status"].as_str().unwrap_or_default();
    let ids = if statuses.is_empty() || statuses.contains(&status) {
        vec![target["ecsTarget"]["targetId"].clone()]
    } else {
        Vec::new()
    };
    paged(ids, input, "targetIds")
}

fn list_deployments(state: &State, input: &Input) -> Result<Value, ApiError> {
    let application = opt_application(state, input)?;
    let group_name = name(
        input,
        "deploymentGroupName",
        GROUP_NAME_REQUIRED,
        "InvalidDeploymentGroupNameException",
    )?;
    let group = match (application, group_name) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(err(
                APPLICATION_NAME_REQUIRED.0,
                APPLICATION_NAME_REQUIRED.1,
            ))
        }
        (Some(_), None) => return Err(err(GROUP_NAME_REQUIRED.0, GROUP_NAME_REQUIRED.1)),
        (Some(a), Some(_)) => Some((a, &state.codedeploy.groups[group(state, input, a)?].name)),
    };
    opt_str(input, "externalId")?;
    let mut statuses = Vec::new();
    for name in str_list(input, "includeOnlyStatuses")? {
        statuses.push(Status::parse(name).ok_or_else(|| {
            err(
                "InvalidDeploymentStatusException",
                format!("Invalid deployment status {name}."),
            )
        })?);
    }
    let (start, end) = match input.get("createTimeRange") {
        None => (None, None),
        Some(Value::Object(range)) => {
            let time = |key: &str| match range.get(key) {
                None => Ok(None),
                Some(v) => v.as_f64().map(Some).ok_or_else(|| {
                    err(
                        "InvalidTimeRangeException",
                        format!("createTimeRange.{key} must be a timestamp (epoch seconds)."),
                    )
                }),
            };
            (time("start")?, time("end")?)
        }
        Some(_) => return Err(wrong_type("createTimeRange", "an object")),
    };
    if let (Some(start), Some(end)) = (start, end) {
        if start > end {
            return Err(err(
                "InvalidTimeRangeException",
                "createTimeRange.start is after createTimeRange.end.",
            ));
        }
    }
    let ids = state
        .codedeploy
        .deployments
        .iter()
        .rev()
        .filter(|d| group.is_none_or(|(a, g)| d.application == a && d.group == *g))
        .filter(|d| statuses.is_empty() || statuses.contains(&d.status))
        .filter(|d| start.is_none_or(|t| d.create_time >= t))
        .filter(|d| end.is_none_or(|t| d.create_time <= t))
        .map(|d| json!(d.id))
        .collect();
    paged(ids, input, "deployments")
}

fn stop_deployment(state: &mut State, input: &Input) -> Result<Value, ApiError> {
    let index = deployment(state, input)?;
    let rollback = opt_bool(input, "autoRollbackEnabled")?;
    not_completed(state, index)?;
    let id = state.codedeploy.deployments[index].id.clone();
    let State {
        world,
        services,
        codedeploy,
        ..
    } = state;
    let rollback_id = codedeploy.stop_deployment(world, services, index, rollback);
    Ok(match rollback_id {
        Some(rollback_id) => json!({
            "status": "Pending",
            "statusMessage": format!("Deployment {id} was stopped; rollback deployment {rollback_id} is pending."),
        }),
        None => json!({
            "status": "Succeeded",
            "statusMessage": format!("Deployment {id} was stopped."),
        }),
    })
}

fn continue_deployment(state: &mut State, input: &Input) -> Result<Value, ApiError> {
    let index = deployment(state, input)?;
    let wait_type = opt_str(input, "deploymentWaitType")?.unwrap_or("READY_WAIT");
    if wait_type != "READY_WAIT" && wait_type != "TERMINATION_WAIT" {
        return Err(err(
            "InvalidDeploymentWaitTypeException",
            format!("Invalid deploymentWaitType {wait_type}: use READY_WAIT or TERMINATION_WAIT."),
        ));
    }
    not_completed(state, index)?;
    let now = state.world.now();
    let d = &mut state.codedeploy.deployments[index];
    if wait_type == "TERMINATION_WAIT" || d.status != Status::Ready {
        return Err(err(
            "DeploymentIsNotInReadyStateException",
            format!(
                "The deployment {} is {}, not waiting for {}.",
                d.id,
                d.status.name(),
                if wait_type == "READY_WAIT" {
                    "traffic to be rerouted (Ready)"
                } else {
                    "the original task set's termination"
                }
            ),
        ));
    }
    d.resume(now);
    Ok(json!({}))
}
