//! The fake's state, request dispatch, and how the state renders into ECS-shaped JSON.

use std::collections::{HashMap, VecDeque};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use wiremock::http::Method;
use wiremock::Request;

use crate::account::{arn, ACCESS_KEY};
use crate::auth::{self, AuthError};
use crate::codedeploy::CodeDeploy;
use crate::script::{Fault, Rollout, TaskRun};
use crate::service_deployment::{ServiceDeployment, Strategy};
use crate::{codedeploy_ops, front, ops, rollout, Recorded};

/// The `X-Amz-Target` prefix of every ECS operation.
pub(crate) const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113.";
/// The `X-Amz-Target` prefix of every CodeDeploy operation.
pub(crate) const CODEDEPLOY_TARGET_PREFIX: &str = "CodeDeploy_20141006.";

/// The API a request is for, told by its `X-Amz-Target` prefix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Api {
    /// Amazon ECS (also what a request with an unknown or no prefix is taken for).
    Ecs,
    /// AWS CodeDeploy.
    CodeDeploy,
}

impl Api {
    /// The API and the operation an `X-Amz-Target` header names (the whole header as the
    /// operation when its prefix is neither API's).
    pub(crate) fn of_target(target: &str) -> (Api, &str) {
        if let Some(operation) = target.strip_prefix(CODEDEPLOY_TARGET_PREFIX) {
            (Api::CodeDeploy, operation)
        } else {
            (
                Api::Ecs,
                target.strip_prefix(TARGET_PREFIX).unwrap_or(target),
            )
        }
    }

    /// The SigV4 signing name, the IAM action prefix and the transcript's `service`:
    /// `ecs` or `codedeploy`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Api::Ecs => "ecs",
            Api::CodeDeploy => "codedeploy",
        }
    }

    /// The `X-Amz-Target` prefix of its operations.
    fn target_prefix(self) -> &'static str {
        match self {
            Api::Ecs => TARGET_PREFIX,
            Api::CodeDeploy => CODEDEPLOY_TARGET_PREFIX,
        }
    }
}

/// The media type of every ECS and CodeDeploy request and reply.
const JSON_1_1: &str = "application/x-amz-json-1.1";
/// Where the fake clock starts: 2023-11-14T22:13:20Z, plus a fraction so clients that only
/// parse integral seconds are caught.
const BASE_EPOCH: f64 = 1_700_000_000.125;
/// The principal that registers task definitions.
pub(crate) const REGISTERED_BY: &str = "arn:aws:iam::123456789012:user/ecs-deploy-tests";

pub(crate) const PRIMARY: &str = "PRIMARY";
pub(crate) const ACTIVE: &str = "ACTIVE";
pub(crate) const INACTIVE: &str = "INACTIVE";
pub(crate) const RUNNING: &str = "RUNNING";
pub(crate) const STOPPED: &str = "STOPPED";

/// Keys a template carries only as an example; the fake sets them or leaves them out.
const SERVICE_KEYS: &[&str] = &[
    "serviceArn",
    "serviceName",
    "clusterArn",
    "status",
    "desiredCount",
    "runningCount",
    "pendingCount",
    "taskDefinition",
    "deploymentConfiguration",
    "deploymentController",
    "deployments",
    "events",
    "createdAt",
    "tags",
];
const DEPLOYMENT_KEYS: &[&str] = &[
    "id",
    "status",
    "taskDefinition",
    "desiredCount",
    "pendingCount",
    "runningCount",
    "failedTasks",
    "createdAt",
    "updatedAt",
    "rolloutState",
    "rolloutStateReason",
];
const TASK_KEYS: &[&str] = &[
    "attachments",
    "clusterArn",
    "connectivityAt",
    "containers",
    "cpu",
    "memory",
    "createdAt",
    "desiredStatus",
    "executionStoppedAt",
    "group",
    "lastStatus",
    "launchType",
    "overrides",
    "platformVersion",
    "pullStartedAt",
    "pullStoppedAt",
    "startedAt",
    "startedBy",
    "stopCode",
    "stoppedAt",
    "stoppedReason",
    "stoppingAt",
    "tags",
    "taskArn",
    "taskDefinitionArn",
    "version",
];
const CONTAINER_KEYS: &[&str] = &[
    "containerArn",
    "taskArn",
    "name",
    "image",
    "runtimeId",
    "lastStatus",
    "exitCode",
    "reason",
    "networkBindings",
    "cpu",
    "memory",
];

/// Real-shaped objects from `fixtures/ecs/`, with their example values removed.
pub(crate) struct Templates {
    service: Map<String, Value>,
    deployment: Map<String, Value>,
    task: Map<String, Value>,
    container: Map<String, Value>,
    /// The deploymentConfiguration a new service gets.
    pub(crate) deployment_configuration: Value,
}

fn template(value: &Value, drop: &[&str]) -> Map<String, Value> {
    let mut map = value.as_object().expect("template is an object").clone();
    for key in drop {
        map.remove(*key);
    }
    map
}

impl Templates {
    fn load() -> Templates {
        let services: Value =
            serde_json::from_str(include_str!("../../fixtures/ecs/DescribeServices.json"))
                .expect("fixtures/ecs/DescribeServices.json is JSON");
        let tasks: Value =
            serde_json::from_str(include_str!("../../fixtures/ecs/DescribeTasks.json"))
                .expect("fixtures/ecs/DescribeTasks.json is JSON");
        let service = &services["services"][0];
        let task = &tasks["tasks"][0];
        Templates {
            service: template(service, SERVICE_KEYS),
            deployment: template(&service["deployments"][0], DEPLOYMENT_KEYS),
            task: template(task, TASK_KEYS),
            container: template(&task["containers"][0], CONTAINER_KEYS),
            deployment_configuration: service["deploymentConfiguration"].clone(),
        }
    }
}

/// One registered revision.
pub(crate) struct TaskDef {
    pub(crate) family: String,
    pub(crate) revision: u32,
    /// What DescribeTaskDefinition returns as `taskDefinition` (read-only keys included).
    pub(crate) description: Map<String, Value>,
    pub(crate) tags: Vec<(String, String)>,
}

impl TaskDef {
    pub(crate) fn arn(&self) -> String {
        arn(&format!(
            "task-definition/{}:{}",
            self.family, self.revision
        ))
    }

    pub(crate) fn is_active(&self) -> bool {
        self.description.get("status").and_then(Value::as_str) == Some(ACTIVE)
    }

    /// Each container definition: (name, image, essential, cpu, memory).
    fn containers(&self) -> Vec<Container> {
        let defs = self.description["containerDefinitions"].as_array();
        defs.into_iter()
            .flatten()
            .map(|c| Container {
                name: c["name"].as_str().unwrap_or_default().to_string(),
                image: c["image"].as_str().unwrap_or_default().to_string(),
                essential: c["essential"].as_bool().unwrap_or(true),
                cpu: c.get("cpu").map(|v| json!(number_text(v))),
                memory: c.get("memory").map(|v| json!(number_text(v))),
                last_status: "PENDING",
                exit_code: None,
                reason: None,
            })
            .collect()
    }
}

/// ECS reports container and task cpu/memory as strings.
fn number_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Tags as ECS writes them.
pub(crate) fn tags_json(tags: &[(String, String)]) -> Value {
    tags.iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect()
}

/// One deployment of a service.
pub(crate) struct Deployment {
    pub(crate) id: String,
    pub(crate) status: &'static str,
    pub(crate) task_definition: String,
    pub(crate) desired: u32,
    pub(crate) pending: u32,
    pub(crate) failed: u32,
    pub(crate) created_at: f64,
    pub(crate) updated_at: f64,
    pub(crate) rollout_state: Option<&'static str>,
    pub(crate) rollout_state_reason: Option<String>,
    /// The service revision this deployment runs (see [`World::service_revision_arn`]).
    pub(crate) revision_arn: String,
}

/// One service event.
pub(crate) struct Event {
    id: String,
    created_at: f64,
    message: String,
}

/// A rollout under way: the script and how far it got.
pub(crate) struct Progress {
    /// The deployment the script drives (the rollback deployment once one exists).
    pub(crate) deployment_id: String,
    pub(crate) rollout: Rollout,
    /// DescribeServices polls seen so far.
    pub(crate) polls: u32,
    /// Tasks of the older deployments running when the deployment began.
    pub(crate) old_running: u32,
    pub(crate) previous_task_definition: String,
    pub(crate) previous_deployment_id: String,
    /// The steps of a BLUE_GREEN, LINEAR or CANARY deployment, one per poll (empty: ROLLING).
    pub(crate) plan: Vec<rollout::Step>,
    /// The next step of `plan`.
    pub(crate) next_step: usize,
    /// What StopServiceDeployment or ContinueServiceDeployment asked for, if anything.
    pub(crate) stopping: Option<rollout::Stopping>,
    /// The wall clock when the deployment began (see [`World::wall_now`]).
    pub(crate) started_wall: Duration,
}

/// One service.
pub(crate) struct Service {
    pub(crate) cluster: String,
    pub(crate) name: String,
    pub(crate) status: &'static str,
    pub(crate) desired: u32,
    pub(crate) deployment_configuration: Value,
    /// PRIMARY first.
    pub(crate) deployments: Vec<Deployment>,
    /// Newest first.
    pub(crate) events: Vec<Event>,
    pub(crate) created_at: f64,
    pub(crate) next_rollouts: VecDeque<Rollout>,
    pub(crate) progress: Option<Progress>,
    pub(crate) tags: Vec<(String, String)>,
    /// `deploymentController.type`: ECS, CODE_DEPLOY or EXTERNAL.
    pub(crate) controller: &'static str,
    /// Whether descriptions leave `currentServiceDeployment` out.
    pub(crate) omit_current_service_deployment: bool,
    /// Oldest first.
    pub(crate) service_deployments: Vec<ServiceDeployment>,
    /// Raw keys merged into the description (see `FakeEcs::set_service_fields`); a null
    /// removes the template's key.
    pub(crate) extra_fields: Map<String, Value>,
    /// When the newest timed rollout ends, by the wall clock (see `FakeEcs::rollout_due`).
    pub(crate) rollout_due: Option<Duration>,
}

/// The default deployment controller.
pub(crate) const ECS_CONTROLLER: &str = "ECS";

impl Service {
    pub(crate) fn arn(&self) -> String {
        arn(&format!("service/{}/{}", self.cluster, self.name))
    }

    /// The newest service deployment, while it is not over.
    pub(crate) fn current_service_deployment(&mut self) -> Option<&mut ServiceDeployment> {
        self.service_deployments
            .last_mut()
            .filter(|sd| !sd.is_final())
    }

    pub(crate) fn deployment_mut(&mut self, id: &str) -> Option<&mut Deployment> {
        self.deployments.iter_mut().find(|d| d.id == id)
    }

    /// The launch type of the tasks the service starts: its `launchType` (see
    /// `FakeEcs::set_service_fields`), FARGATE for a FARGATE capacity provider, else EC2.
    pub(crate) fn launch_type(&self) -> String {
        let fields = &self.extra_fields;
        if let Some(launch_type) = fields.get("launchType").and_then(Value::as_str) {
            return launch_type.to_string();
        }
        let provider = fields
            .get("capacityProviderStrategy")
            .and_then(|s| s[0]["capacityProvider"].as_str())
            .unwrap_or_default();
        if provider.starts_with("FARGATE") {
            "FARGATE".to_string()
        } else {
            "EC2".to_string()
        }
    }
}

/// The keys of a service description the fake computes, which `FakeEcs::set_service_fields`
/// may not set.
pub(crate) fn is_computed_service_key(key: &str) -> bool {
    SERVICE_KEYS.contains(&key) || key == "taskSets" || key == "currentServiceDeployment"
}

/// One container of a task.
#[derive(Clone)]
pub(crate) struct Container {
    pub(crate) name: String,
    pub(crate) image: String,
    pub(crate) essential: bool,
    cpu: Option<Value>,
    memory: Option<Value>,
    pub(crate) last_status: &'static str,
    pub(crate) exit_code: Option<i64>,
    pub(crate) reason: Option<String>,
}

/// One task.
pub(crate) struct Task {
    pub(crate) id: String,
    pub(crate) cluster: String,
    pub(crate) task_definition: String,
    pub(crate) family: String,
    pub(crate) started_by: Option<String>,
    pub(crate) group: String,
    pub(crate) launch_type: String,
    pub(crate) last_status: &'static str,
    pub(crate) desired_status: &'static str,
    pub(crate) created_at: f64,
    pub(crate) started_at: Option<f64>,
    pub(crate) stopped_at: Option<f64>,
    pub(crate) stopped_reason: Option<String>,
    pub(crate) stop_code: Option<&'static str>,
    pub(crate) containers: Vec<Container>,
    cpu: Option<Value>,
    memory: Option<Value>,
    pub(crate) overrides: Value,
    pub(crate) tags: Vec<(String, String)>,
    /// For tasks started by RunTask: how the task ends and how far it got.
    pub(crate) script: Option<Script>,
    /// For tasks started by RunTask with the FARGATE launch type.
    pub(crate) platform_version: Option<String>,
    /// For tasks started by RunTask with a networkConfiguration: its elastic network interface.
    pub(crate) eni: Option<Eni>,
    pub(crate) version: u32,
}

/// A RunTask task's script: the outcome and the DescribeTasks calls seen so far.
pub(crate) struct Script {
    pub(crate) run: TaskRun,
    pub(crate) polls: u32,
}

/// The network interface of an awsvpc task, rendered as an `ElasticNetworkInterface` attachment.
pub(crate) struct Eni {
    /// The attachment id (UUID-shaped).
    pub(crate) id: String,
    /// The first subnet of the networkConfiguration.
    pub(crate) subnet: String,
    /// 17 hex digits: the ENI is `eni-{suffix}`.
    pub(crate) suffix: String,
    /// The last two octets of its private 10.0.x.y address.
    pub(crate) host: (u8, u8),
}

impl Task {
    pub(crate) fn arn(&self) -> String {
        arn(&format!("task/{}/{}", self.cluster, self.id))
    }
}

/// Everything but the services: clocks, counters, task definitions, tasks.
pub(crate) struct World {
    now: f64,
    /// The wall clock that timed rollouts follow (time since the Unix epoch): the real one
    /// when `None`, else frozen at this reading (tests move it by hand).
    wall: Option<Duration>,
    seq: u64,
    /// Service revisions made so far.
    revisions: u64,
    pub(crate) task_defs: Vec<TaskDef>,
    pub(crate) tasks: Vec<Task>,
    pub(crate) templates: Templates,
}

/// SplitMix64: a fixed scramble so counter-made ids look like real ones.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl World {
    /// The fake clock: the time of the request being handled.
    pub(crate) fn now(&self) -> f64 {
        self.now
    }

    /// Move the clock one second on.
    pub(crate) fn tick(&mut self) {
        self.now += 1.0;
    }

    /// The wall clock (time since the Unix epoch) that [`Rollout::CompleteAfter`] and
    /// [`Rollout::FailAfter`] follow; everything else follows the fake clock of
    /// [`World::now`], so that answers stay deterministic.
    pub(crate) fn wall_now(&self) -> Duration {
        self.wall.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
        })
    }

    /// Freeze the wall clock at its current reading (the first call), then move it `by` on.
    #[cfg(test)]
    pub(crate) fn advance_wall(&mut self, by: Duration) {
        self.wall = Some(self.wall_now() + by);
    }

    fn next(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// 32 hex digits, like a task id.
    pub(crate) fn hex_id(&mut self) -> String {
        let n = self.next();
        format!("{:016x}{:016x}", mix(n), mix(n ^ 0x5EED_0000_0000_0000))
    }

    /// A UUID-shaped id, like an event id or a request id.
    pub(crate) fn uuid(&mut self) -> String {
        let h = self.hex_id();
        format!(
            "{}-{}-4{}-8{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }

    /// `ecs-svc/` and 19 digits.
    pub(crate) fn deployment_id(&mut self) -> String {
        let n = self.next();
        format!(
            "ecs-svc/{}",
            9_223_370_000_000_000_000 + n * 1_000_000 + mix(n) % 1_000_000
        )
    }

    /// A new service revision of a service: `service-revision/{cluster}/{service}/{n}`.
    pub(crate) fn service_revision_arn(&mut self, cluster: &str, service: &str) -> String {
        self.revisions += 1;
        arn(&format!(
            "service-revision/{cluster}/{service}/{}",
            self.revisions
        ))
    }

    /// Find a revision by ARN, `family:revision`, or `family` (the latest ACTIVE revision).
    pub(crate) fn find_task_def(&self, reference: &str) -> Option<&TaskDef> {
        let name = match reference.split_once(":task-definition/") {
            Some((_, rest)) => rest,
            None => reference,
        };
        match name.split_once(':') {
            Some((family, rev)) => {
                let rev: u32 = rev.parse().ok()?;
                self.task_defs
                    .iter()
                    .find(|t| t.family == family && t.revision == rev)
            }
            None => self
                .task_defs
                .iter()
                .filter(|t| t.family == name && t.is_active())
                .max_by_key(|t| t.revision),
        }
    }

    /// Tasks of this deployment in RUNNING.
    pub(crate) fn running_of(&self, deployment_id: &str) -> u32 {
        self.tasks
            .iter()
            .filter(|t| t.started_by.as_deref() == Some(deployment_id) && t.last_status == RUNNING)
            .count() as u32
    }

    /// Make a PROVISIONING task of this task definition; returns its index.
    pub(crate) fn new_task(
        &mut self,
        cluster: &str,
        task_definition: &str,
        started_by: Option<String>,
        group: Option<String>,
        launch_type: &str,
    ) -> usize {
        let td = self
            .find_task_def(task_definition)
            .expect("task definition of a new task exists");
        let (arn, family, containers) = (td.arn(), td.family.clone(), td.containers());
        let cpu = td.description.get("cpu").map(|v| json!(number_text(v)));
        let memory = td.description.get("memory").map(|v| json!(number_text(v)));
        let overrides = json!({
            "containerOverrides": containers.iter().map(|c| json!({"name": c.name})).collect::<Vec<_>>(),
            "inferenceAcceleratorOverrides": [],
        });
        let id = self.hex_id();
        self.tasks.push(Task {
            id,
            cluster: cluster.to_string(),
            task_definition: arn,
            group: group.unwrap_or_else(|| format!("family:{family}")),
            family,
            started_by,
            launch_type: launch_type.to_string(),
            last_status: "PROVISIONING",
            desired_status: RUNNING,
            created_at: self.now,
            started_at: None,
            stopped_at: None,
            stopped_reason: None,
            stop_code: None,
            containers,
            cpu,
            memory,
            overrides,
            tags: Vec::new(),
            script: None,
            platform_version: None,
            eni: None,
            version: 1,
        });
        self.tasks.len() - 1
    }

    /// Move a task to PENDING (it never got to run).
    pub(crate) fn pend(&mut self, index: usize) {
        let task = &mut self.tasks[index];
        task.last_status = "PENDING";
        task.version += 1;
    }

    /// Move a task to RUNNING now.
    pub(crate) fn run(&mut self, index: usize) {
        let now = self.now;
        let task = &mut self.tasks[index];
        task.last_status = RUNNING;
        task.started_at = Some(now);
        task.version += 1;
        for c in &mut task.containers {
            c.last_status = RUNNING;
        }
    }

    /// Stop a task now. `exit` gives each container's exit code and reason.
    pub(crate) fn stop(
        &mut self,
        index: usize,
        reason: &str,
        code: &'static str,
        exit: impl Fn(&Container) -> (Option<i64>, Option<String>),
    ) {
        let now = self.now;
        let task = &mut self.tasks[index];
        task.last_status = STOPPED;
        task.desired_status = STOPPED;
        task.stopped_at = Some(now);
        task.stopped_reason = Some(reason.to_string());
        task.stop_code = Some(code);
        task.version += 1;
        for c in &mut task.containers {
            let (exit_code, why) = exit(c);
            c.last_status = STOPPED;
            c.exit_code = exit_code;
            c.reason = why;
        }
    }

    fn render_deployment(&self, d: &Deployment) -> Value {
        let mut m = self.templates.deployment.clone();
        m.insert("id".into(), json!(d.id));
        m.insert("status".into(), json!(d.status));
        m.insert("taskDefinition".into(), json!(d.task_definition));
        m.insert("desiredCount".into(), json!(d.desired));
        m.insert("pendingCount".into(), json!(d.pending));
        m.insert("runningCount".into(), json!(self.running_of(&d.id)));
        m.insert("failedTasks".into(), json!(d.failed));
        m.insert("createdAt".into(), json!(d.created_at));
        m.insert("updatedAt".into(), json!(d.updated_at));
        if let Some(state) = d.rollout_state {
            m.insert("rolloutState".into(), json!(state));
        }
        if let Some(reason) = &d.rollout_state_reason {
            m.insert("rolloutStateReason".into(), json!(reason));
        }
        Value::Object(m)
    }

    /// A task set of a CODE_DEPLOY or EXTERNAL service, from the deployment that runs it (its
    /// status PRIMARY or ACTIVE); launch type, network configuration, load balancers and the
    /// like are the service's.
    fn render_task_set(&self, s: &Service, d: &Deployment) -> Value {
        let running = self.running_of(&d.id);
        let mut m = Map::new();
        m.insert("id".into(), json!(d.id));
        m.insert(
            "taskSetArn".into(),
            json!(arn(&format!("task-set/{}/{}/{}", s.cluster, s.name, d.id))),
        );
        m.insert("serviceArn".into(), json!(s.arn()));
        m.insert(
            "clusterArn".into(),
            json!(arn(&format!("cluster/{}", s.cluster))),
        );
        if s.controller == "CODE_DEPLOY" {
            m.insert("startedBy".into(), json!("CodeDeploy"));
        }
        m.insert("status".into(), json!(d.status));
        m.insert("taskDefinition".into(), json!(d.task_definition));
        m.insert("computedDesiredCount".into(), json!(d.desired));
        m.insert("pendingCount".into(), json!(d.pending));
        m.insert("runningCount".into(), json!(running));
        m.insert("createdAt".into(), json!(d.created_at));
        m.insert("updatedAt".into(), json!(d.updated_at));
        let shared = [
            ("launchType", json!("EC2")),
            ("capacityProviderStrategy", Value::Null),
            ("platformVersion", Value::Null),
            ("networkConfiguration", Value::Null),
            ("loadBalancers", json!([])),
            ("serviceRegistries", json!([])),
        ];
        for (key, default) in shared {
            match s.extra_fields.get(key).unwrap_or(&default) {
                Value::Null => {}
                value => {
                    m.insert(key.into(), value.clone());
                }
            }
        }
        m.insert("scale".into(), json!({"value": 100.0, "unit": "PERCENT"}));
        let steady = running == d.desired && d.pending == 0;
        m.insert(
            "stabilityStatus".into(),
            json!(if steady {
                "STEADY_STATE"
            } else {
                "STABILIZING"
            }),
        );
        m.insert("stabilityStatusAt".into(), json!(d.updated_at));
        m.insert("tags".into(), json!([]));
        Value::Object(m)
    }

    /// The service as DescribeServices returns it.
    pub(crate) fn render_service(&self, s: &Service, with_tags: bool) -> Value {
        let mut m = self.templates.service.clone();
        for (key, value) in &s.extra_fields {
            match value {
                Value::Null => m.remove(key),
                value => m.insert(key.clone(), value.clone()),
            };
        }
        let running: u32 = s.deployments.iter().map(|d| self.running_of(&d.id)).sum();
        let pending: u32 = s.deployments.iter().map(|d| d.pending).sum();
        let task_definition = s.deployments.first().map(|d| d.task_definition.clone());
        m.insert("serviceArn".into(), json!(s.arn()));
        m.insert("serviceName".into(), json!(s.name));
        m.insert(
            "clusterArn".into(),
            json!(arn(&format!("cluster/{}", s.cluster))),
        );
        m.insert("status".into(), json!(s.status));
        m.insert("desiredCount".into(), json!(s.desired));
        m.insert("runningCount".into(), json!(running));
        m.insert("pendingCount".into(), json!(pending));
        if let Some(td) = task_definition {
            m.insert("taskDefinition".into(), json!(td));
        }
        m.insert(
            "deploymentConfiguration".into(),
            s.deployment_configuration.clone(),
        );
        m.insert("deploymentController".into(), json!({"type": s.controller}));
        if s.controller == ECS_CONTROLLER {
            let deployments: Vec<Value> = s
                .deployments
                .iter()
                .map(|d| self.render_deployment(d))
                .collect();
            m.insert("deployments".into(), Value::Array(deployments));
        } else {
            // Task sets instead: the PRIMARY deployment is the PRIMARY task set, a CodeDeploy
            // replacement an ACTIVE one.
            let task_sets: Vec<Value> = s
                .deployments
                .iter()
                .map(|d| self.render_task_set(s, d))
                .collect();
            m.insert("taskSets".into(), Value::Array(task_sets));
            m.insert("deployments".into(), json!([]));
        }
        let current = s.service_deployments.last();
        if let Some(sd) = current.filter(|_| !s.omit_current_service_deployment) {
            m.insert("currentServiceDeployment".into(), json!(sd.arn));
        }
        let events: Vec<Value> = s
            .events
            .iter()
            .map(|e| json!({"id": e.id, "createdAt": e.created_at, "message": e.message}))
            .collect();
        m.insert("events".into(), Value::Array(events));
        m.insert("createdAt".into(), json!(s.created_at));
        if with_tags {
            m.insert("tags".into(), tags_json(&s.tags));
        }
        Value::Object(m)
    }

    /// The task as DescribeTasks returns it.
    pub(crate) fn render_task(&self, t: &Task) -> Value {
        let mut m = self.templates.task.clone();
        let task_arn = t.arn();
        let containers: Vec<Value> = t
            .containers
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut cm = self.templates.container.clone();
                let suffix = format!("{:04x}", i + 1);
                cm.insert(
                    "containerArn".into(),
                    json!(arn(&format!(
                        "container/{}/{}/{}-0000-4000-8000-{}{}",
                        t.cluster,
                        t.id,
                        &t.id[..8],
                        &t.id[20..28],
                        suffix
                    ))),
                );
                cm.insert("taskArn".into(), json!(task_arn));
                cm.insert("name".into(), json!(c.name));
                cm.insert("image".into(), json!(c.image));
                cm.insert("lastStatus".into(), json!(c.last_status));
                if t.started_at.is_some() {
                    cm.insert(
                        "runtimeId".into(),
                        json!(format!("{}-{}", t.id, 1_000_000_000 + i)),
                    );
                }
                if let Some(code) = c.exit_code {
                    cm.insert("exitCode".into(), json!(code));
                }
                if let Some(reason) = &c.reason {
                    cm.insert("reason".into(), json!(reason));
                }
                cm.insert("networkBindings".into(), json!([]));
                for (key, value) in [("cpu", &c.cpu), ("memory", &c.memory)] {
                    if let Some(v) = value {
                        cm.insert(key.into(), v.clone());
                    }
                }
                Value::Object(cm)
            })
            .collect();
        if t.launch_type != "EC2" {
            m.remove("containerInstanceArn");
        }
        m.insert(
            "clusterArn".into(),
            json!(arn(&format!("cluster/{}", t.cluster))),
        );
        m.insert("connectivityAt".into(), json!(t.created_at));
        m.insert("containers".into(), Value::Array(containers));
        for (key, value) in [("cpu", &t.cpu), ("memory", &t.memory)] {
            if let Some(v) = value {
                m.insert(key.into(), v.clone());
            }
        }
        m.insert("createdAt".into(), json!(t.created_at));
        m.insert("desiredStatus".into(), json!(t.desired_status));
        m.insert("group".into(), json!(t.group));
        m.insert("lastStatus".into(), json!(t.last_status));
        m.insert("launchType".into(), json!(t.launch_type));
        m.insert("overrides".into(), t.overrides.clone());
        if let Some(version) = &t.platform_version {
            m.insert("platformVersion".into(), json!(version));
        }
        let attachments: Vec<Value> = t.eni.iter().map(|eni| render_eni(t, eni)).collect();
        m.insert("attachments".into(), Value::Array(attachments));
        if let Some(started) = t.started_at {
            m.insert("pullStartedAt".into(), json!(t.created_at));
            m.insert("pullStoppedAt".into(), json!(started));
            m.insert("startedAt".into(), json!(started));
        }
        if let Some(by) = &t.started_by {
            m.insert("startedBy".into(), json!(by));
        }
        if let Some(stopped) = t.stopped_at {
            m.insert("executionStoppedAt".into(), json!(stopped));
            m.insert("stoppingAt".into(), json!(stopped));
            m.insert("stoppedAt".into(), json!(stopped));
        }
        if let Some(code) = t.stop_code {
            m.insert("stopCode".into(), json!(code));
        }
        if let Some(reason) = &t.stopped_reason {
            m.insert("stoppedReason".into(), json!(reason));
        }
        m.insert("tags".into(), tags_json(&t.tags));
        m.insert("taskArn".into(), json!(task_arn));
        m.insert("taskDefinitionArn".into(), json!(t.task_definition));
        m.insert("version".into(), json!(t.version));
        Value::Object(m)
    }

    /// Add an event to a service (it becomes the newest; ECS keeps the last 100).
    pub(crate) fn event(&mut self, service: &mut Service, message: String) {
        let id = self.uuid();
        service.events.insert(
            0,
            Event {
                id,
                created_at: self.now,
                message,
            },
        );
        service.events.truncate(100);
    }
}

/// The `ElasticNetworkInterface` attachment of an awsvpc task.
fn render_eni(t: &Task, eni: &Eni) -> Value {
    let status = match t.last_status {
        STOPPED => "DELETED",
        RUNNING => "ATTACHED",
        _ => "PRECREATED",
    };
    let (a, b) = eni.host;
    let mac = format!(
        "0a:{}:{}:{}:{}:{}",
        &eni.suffix[0..2],
        &eni.suffix[2..4],
        &eni.suffix[4..6],
        &eni.suffix[6..8],
        &eni.suffix[8..10]
    );
    let details = [
        ("subnetId", eni.subnet.clone()),
        ("networkInterfaceId", format!("eni-{}", eni.suffix)),
        ("macAddress", mac),
        ("privateDnsName", format!("ip-10-0-{a}-{b}.ec2.internal")),
        ("privateIPv4Address", format!("10.0.{a}.{b}")),
    ];
    let details: Vec<Value> = details
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    json!({
        "id": eni.id,
        "type": "ElasticNetworkInterface",
        "status": status,
        "details": details,
    })
}

/// An HTTP reply, before it becomes a wiremock `ResponseTemplate`.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
    /// Whether an injected [`Fault`] or [`State::deny`] made (or broke) this answer.
    pub(crate) fault: bool,
}

impl Reply {
    fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            content_type: JSON_1_1.to_string(),
            headers: Vec::new(),
            body: body.to_string(),
            fault: false,
        }
    }

    /// An AWS JSON error: `{"__type": code, "message": ...}` plus `x-amzn-errortype`.
    pub(crate) fn error(status: u16, code: &str, message: &str) -> Reply {
        let mut reply = Reply::json(status, &json!({"__type": code, "message": message}));
        reply.headers.push(("x-amzn-errortype".into(), code.into()));
        reply
    }

    /// The canned reply of a fault; `None` for faults that let the request through
    /// ([`Fault::Pass`], and those the front carries out on the real answer).
    fn fault(fault: &Fault) -> Option<Reply> {
        Some(match fault.clone() {
            Fault::Pass | Fault::ResetMidBody | Fault::TruncatedBody | Fault::Stall { .. } => {
                return None
            }
            Fault::HugeBody { bytes } => {
                let mut reply = Reply::json(200, &json!({}));
                reply
                    .headers
                    .push((front::MARKER.into(), format!("huge:{bytes}")));
                reply
            }
            Fault::Redirect { status, location } => {
                let mut reply = Reply::json(status, &json!({}));
                reply.headers.push(("location".into(), location));
                reply
            }
            Fault::Throttle => Reply::error(400, "ThrottlingException", "Rate exceeded"),
            Fault::ServiceUnavailable => Reply {
                status: 503,
                content_type: "text/html".into(),
                headers: Vec::new(),
                body: "<html><body><b>Http/1.1 Service Unavailable</b></body> </html>".into(),
                fault: false,
            },
            Fault::Raw {
                status,
                content_type,
                body,
            } => Reply {
                status,
                content_type,
                headers: Vec::new(),
                body,
                fault: false,
            },
        })
    }
}

/// Everything the fake knows.
pub(crate) struct State {
    pub(crate) world: World,
    pub(crate) clusters: Vec<String>,
    pub(crate) services: Vec<Service>,
    faults: HashMap<String, VecDeque<Fault>>,
    access_keys: Vec<String>,
    pub(crate) requests: Vec<Recorded>,
    /// How the next RunTask calls' tasks end (front first).
    pub(crate) next_task_runs: VecDeque<TaskRun>,
    /// Appended to every free-text field of every answer (see `FakeEcs::inject_text`).
    pub(crate) injected_text: Option<String>,
    /// Operations answered with AccessDeniedException (see `FakeEcs::deny`).
    denied: Vec<String>,
    /// The CodeDeploy applications, deployment groups and deployments.
    pub(crate) codedeploy: CodeDeploy,
    /// The file every answered request is appended to as one JSON line (see `FakeEcs::start`).
    pub(crate) transcript: Option<PathBuf>,
}

/// The free-text fields of ECS answers: what a user with the right permission can choose.
const TEXT_FIELDS: [&str; 5] = [
    "message",
    "reason",
    "stoppedReason",
    "rolloutStateReason",
    "statusReason",
];

fn inject_text(value: &mut Value, text: &str) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                match field {
                    Value::String(s) if TEXT_FIELDS.contains(&key.as_str()) => s.push_str(text),
                    other => inject_text(other, text),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| inject_text(item, text)),
        _ => {}
    }
}

/// What IAM answers a principal whose policy does not allow `{api}:{operation}`, for a request
/// on `resource`.
fn access_denied_message(api: Api, operation: &str, resource: &str) -> String {
    let action = format!("{}:{operation}", api.name());
    format!(
        "User: {REGISTERED_BY} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"
    )
}

/// The ECS resource a request names, as far as the fake can tell (`*` when none).
fn ecs_resource(body: &Value) -> String {
    let text = |key: &str| body.get(key).and_then(Value::as_str);
    let first = |key: &str| body.get(key).and_then(|v| v.get(0)).and_then(Value::as_str);
    let cluster = text("cluster").map_or("default", |c| c.rsplit('/').next().unwrap_or(c));
    let service_arn = |name: &str| {
        if name.starts_with("arn:") {
            name.to_string()
        } else {
            arn(&format!("service/{cluster}/{name}"))
        }
    };
    text("serviceDeploymentArn")
        .or_else(|| first("serviceDeploymentArns"))
        .map(str::to_string)
        .or_else(|| text("service").map(service_arn))
        .or_else(|| first("services").map(service_arn))
        .unwrap_or_else(|| "*".to_string())
}

/// Append one answered request to the transcript: a whole JSON line in one write, to a file
/// opened for appending, so that several processes can share the file.
fn append_transcript(path: &Path, api: Api, operation: &str, request: Value, reply: &Reply) {
    let entry = json!({
        "service": api.name(),
        "operation": operation,
        "request": request,
        "status": reply.status,
        "response": serde_json::from_str::<Value>(&reply.body).ok(),
        "fault": reply.fault,
    });
    let mut line = entry.to_string();
    line.push('\n');
    let written = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!(
            "fake-ecs: cannot append to the transcript {}: {e}",
            path.display()
        );
    }
}

impl State {
    pub(crate) fn new() -> State {
        State {
            world: World {
                now: BASE_EPOCH,
                wall: None,
                seq: 0,
                revisions: 0,
                task_defs: Vec::new(),
                tasks: Vec::new(),
                templates: Templates::load(),
            },
            clusters: Vec::new(),
            services: Vec::new(),
            faults: HashMap::new(),
            access_keys: vec![ACCESS_KEY.to_string()],
            requests: Vec::new(),
            next_task_runs: VecDeque::new(),
            injected_text: None,
            denied: Vec::new(),
            codedeploy: CodeDeploy::default(),
            transcript: None,
        }
    }

    /// Answer one HTTP request: record it, check it, then run the operation.
    pub(crate) fn handle(&mut self, request: &Request) -> Reply {
        self.world.tick();
        let target = auth::header(&request.headers, "x-amz-target").unwrap_or_default();
        let (api, operation) = Api::of_target(target);
        let operation = operation.to_string();
        let body = if request.body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(&request.body).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&request.body).into_owned())
            })
        };
        self.requests.push(Recorded {
            service: api.name().to_string(),
            operation: operation.clone(),
            body: body.clone(),
            access_key: auth::access_key(&request.headers),
            security_token: auth::header(&request.headers, "x-amz-security-token")
                .map(str::to_string),
        });
        let mut reply = self.dispatch(request, target, api, &operation, body.clone());
        let request_id = self.world.uuid();
        reply.headers.push(("x-amzn-requestid".into(), request_id));
        if let Some(path) = &self.transcript {
            append_transcript(path, api, &operation, body, &reply);
        }
        reply
    }

    fn dispatch(
        &mut self,
        request: &Request,
        target: &str,
        api: Api,
        operation: &str,
        body: Value,
    ) -> Reply {
        if request.method != Method::POST || request.url.path() != "/" {
            return Reply::error(
                404,
                "UnknownOperationException",
                "ECS and CodeDeploy answer only POST / (JSON 1.1 protocol).",
            );
        }
        match auth::check(&request.headers, api.name()) {
            Err(AuthError::Incomplete(m)) => {
                return Reply::error(403, "IncompleteSignatureException", &m)
            }
            Err(AuthError::Invalid(m)) => {
                return Reply::error(403, "InvalidSignatureException", &m)
            }
            Ok(key) if !self.access_keys.contains(&key) => {
                return Reply::error(
                    403,
                    "UnrecognizedClientException",
                    "The security token included in the request is invalid.",
                )
            }
            Ok(_) => {}
        }
        let fault = self.faults.get_mut(operation).and_then(VecDeque::pop_front);
        if let Some(mut reply) = fault.as_ref().and_then(Reply::fault) {
            reply.fault = true;
            return reply;
        }
        if self.denied.iter().any(|d| d == operation) {
            let resource = match api {
                Api::Ecs => ecs_resource(&body),
                Api::CodeDeploy => self.codedeploy.resource_of(&body),
            };
            let mut reply = Reply::error(
                400,
                "AccessDeniedException",
                &access_denied_message(api, operation, &resource),
            );
            reply.fault = true;
            return reply;
        }
        let mut reply = self.answer(target, api, operation, request, body);
        // What the front is to do with the real answer.
        let marker = match fault {
            Some(Fault::ResetMidBody) => Some("reset".to_string()),
            Some(Fault::TruncatedBody) => Some("truncate".to_string()),
            Some(Fault::Stall { seconds }) => Some(format!("stall:{seconds}")),
            _ => None,
        };
        if let Some(marker) = marker {
            reply.headers.push((front::MARKER.into(), marker));
            reply.fault = true;
        }
        reply
    }

    /// The real answer to a well-signed request.
    fn answer(
        &mut self,
        target: &str,
        api: Api,
        operation: &str,
        request: &Request,
        body: Value,
    ) -> Reply {
        let content_type = auth::header(&request.headers, "content-type").unwrap_or_default();
        if !target.starts_with(api.target_prefix()) || !content_type.starts_with(JSON_1_1) {
            return Reply::error(
                400,
                "UnknownOperationException",
                &format!(
                    "No operation for X-Amz-Target '{target}' and Content-Type '{content_type}'."
                ),
            );
        }
        let Value::Object(input) = body else {
            return Reply::error(
                400,
                "SerializationException",
                "The request body is not a JSON object.",
            );
        };
        let answered = match api {
            Api::Ecs => ops::call(self, operation, &input),
            Api::CodeDeploy => codedeploy_ops::call(self, operation, &input),
        };
        match answered {
            Ok(mut value) => {
                if let Some(text) = &self.injected_text {
                    inject_text(&mut value, text);
                }
                Reply::json(200, &value)
            }
            Err(e) => Reply::error(400, e.code, &e.message),
        }
    }

    /// The index of a service, any status.
    pub(crate) fn find_service(&self, cluster: &str, name: &str) -> Option<usize> {
        self.services
            .iter()
            .position(|s| s.cluster == cluster && s.name == name)
    }

    pub(crate) fn expect_service(&self, cluster: &str, name: &str) -> usize {
        self.find_service(cluster, name)
            .unwrap_or_else(|| panic!("fake-ecs: no service {name} in cluster {cluster}"))
    }

    fn expect_task_def(&self, reference: &str) -> &TaskDef {
        self.world
            .find_task_def(reference)
            .unwrap_or_else(|| panic!("fake-ecs: no task definition {reference}"))
    }

    pub(crate) fn add_cluster(&mut self, name: &str) {
        if !self.clusters.iter().any(|c| c == name) {
            self.clusters.push(name.to_string());
        }
    }

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
        let index = ops::register(&mut self.world, &input).unwrap_or_else(|e| {
            panic!(
                "fake-ecs: RegisterTaskDefinition refuses it: {}: {}",
                e.code, e.message
            )
        });
        self.world.task_defs[index].arn()
    }

    pub(crate) fn add_service(
        &mut self,
        cluster: &str,
        name: &str,
        task_definition: &str,
        desired: u32,
    ) {
        self.add_cluster(cluster);
        let td = self.expect_task_def(task_definition).arn();
        if let Some(i) = self.find_service(cluster, name) {
            self.services.remove(i);
        }
        self.world.tick();
        let id = self.world.deployment_id();
        let revision_arn = self.world.service_revision_arn(cluster, name);
        let now = self.world.now();
        let mut service = Service {
            cluster: cluster.to_string(),
            name: name.to_string(),
            status: ACTIVE,
            desired,
            deployment_configuration: self.world.templates.deployment_configuration.clone(),
            deployments: vec![Deployment {
                id: id.clone(),
                status: PRIMARY,
                task_definition: td,
                desired,
                pending: 0,
                failed: 0,
                created_at: now,
                updated_at: now,
                rollout_state: Some("IN_PROGRESS"),
                rollout_state_reason: Some(format!("ECS deployment {id} in progress.")),
                revision_arn,
            }],
            events: Vec::new(),
            created_at: now,
            next_rollouts: VecDeque::new(),
            progress: None,
            tags: Vec::new(),
            controller: ECS_CONTROLLER,
            omit_current_service_deployment: false,
            service_deployments: Vec::new(),
            extra_fields: Map::new(),
            rollout_due: None,
        };
        self.world.tick();
        rollout::complete(&mut self.world, &mut service, &id, true);
        self.services.push(service);
    }

    pub(crate) fn deactivate_service(&mut self, cluster: &str, name: &str) {
        let i = self.expect_service(cluster, name);
        self.world.tick();
        let service = &mut self.services[i];
        rollout::stop_all(&mut self.world, service);
        let now = self.world.now();
        if let Some(sd) = service.current_service_deployment() {
            sd.stop(now, "The service was deleted.");
        }
        service.status = INACTIVE;
        service.desired = 0;
        service.deployments.clear();
        service.progress = None;
    }

    pub(crate) fn set_rollouts(&mut self, cluster: &str, name: &str, rollouts: Vec<Rollout>) {
        let i = self.expect_service(cluster, name);
        for rollout in &rollouts {
            rollout::check_pause_stage(rollout);
        }
        self.services[i].next_rollouts = rollouts.into();
    }

    pub(crate) fn set_deployment_controller(&mut self, cluster: &str, name: &str, kind: &str) {
        let i = self.expect_service(cluster, name);
        self.services[i].controller = match kind {
            "ECS" => ECS_CONTROLLER,
            "CODE_DEPLOY" => "CODE_DEPLOY",
            "EXTERNAL" => "EXTERNAL",
            other => panic!(
                "fake-ecs: unknown deployment controller {other:?} (ECS, CODE_DEPLOY or EXTERNAL)"
            ),
        };
    }

    pub(crate) fn set_deployment_configuration(
        &mut self,
        cluster: &str,
        name: &str,
        config: Value,
    ) {
        let i = self.expect_service(cluster, name);
        let Value::Object(config) = config else {
            panic!("fake-ecs: a deploymentConfiguration is a JSON object, not {config}");
        };
        let service = &mut self.services[i];
        if let Value::Object(current) = &mut service.deployment_configuration {
            current.extend(config);
        }
        assert!(
            Strategy::of(&service.deployment_configuration).is_some(),
            "fake-ecs: unknown deployment strategy {} (ROLLING, BLUE_GREEN, LINEAR or CANARY)",
            service.deployment_configuration["strategy"]
        );
    }

    /// See `FakeEcs::set_service_fields`.
    pub(crate) fn set_service_fields(&mut self, cluster: &str, name: &str, fields: Value) {
        let i = self.expect_service(cluster, name);
        let Value::Object(fields) = fields else {
            panic!("fake-ecs: service fields are a JSON object, not {fields}");
        };
        if let Some(key) = fields.keys().find(|k| is_computed_service_key(k)) {
            panic!("fake-ecs: set_service_fields cannot set {key:?}: the fake computes it");
        }
        self.services[i].extra_fields.extend(fields);
    }

    pub(crate) fn omit_current_service_deployment(&mut self, cluster: &str, name: &str) {
        let i = self.expect_service(cluster, name);
        self.services[i].omit_current_service_deployment = true;
    }

    /// The service deployments of a service as DescribeServiceDeployments renders them, newest
    /// first.
    pub(crate) fn service_deployments_json(&self, cluster: &str, name: &str) -> Vec<Value> {
        let i = self.expect_service(cluster, name);
        self.services[i]
            .service_deployments
            .iter()
            .rev()
            .map(ServiceDeployment::render)
            .collect()
    }

    /// The service and the index of the service deployment with this ARN.
    pub(crate) fn find_service_deployment(&self, arn: &str) -> Option<(usize, usize)> {
        self.services.iter().enumerate().find_map(|(i, s)| {
            s.service_deployments
                .iter()
                .position(|sd| sd.arn == arn)
                .map(|j| (i, j))
        })
    }

    pub(crate) fn set_task_runs(&mut self, runs: Vec<TaskRun>) {
        self.next_task_runs = runs.into();
    }

    pub(crate) fn inject_faults(&mut self, operation: &str, faults: Vec<Fault>) {
        self.faults
            .entry(operation.to_string())
            .or_default()
            .extend(faults);
    }

    pub(crate) fn deny(&mut self, operation: &str) {
        if !self.denied.iter().any(|d| d == operation) {
            self.denied.push(operation.to_string());
        }
    }

    pub(crate) fn accept_access_key(&mut self, key: &str) {
        self.access_keys.push(key.to_string());
    }

    pub(crate) fn set_epoch(&mut self, epoch_seconds: f64) {
        self.world.now = epoch_seconds - 1.0;
    }

    pub(crate) fn service_json(&self, cluster: &str, name: &str) -> Value {
        let i = self.expect_service(cluster, name);
        self.world.render_service(&self.services[i], false)
    }

    pub(crate) fn task_definition_json(&self, reference: &str) -> Value {
        Value::Object(self.expect_task_def(reference).description.clone())
    }

    pub(crate) fn task_definition_tags(&self, reference: &str) -> Vec<(String, String)> {
        self.expect_task_def(reference).tags.clone()
    }

    pub(crate) fn active_revisions(&self, family: &str) -> Vec<u32> {
        let mut revisions: Vec<u32> = self
            .world
            .task_defs
            .iter()
            .filter(|t| t.family == family && t.is_active())
            .map(|t| t.revision)
            .collect();
        revisions.sort_unstable();
        revisions
    }

    pub(crate) fn tasks_json(&self, cluster: &str) -> Vec<Value> {
        self.world
            .tasks
            .iter()
            .filter(|t| t.cluster == cluster)
            .map(|t| self.world.render_task(t))
            .collect()
    }
}
