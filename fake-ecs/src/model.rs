//! The data model of the ECS side: the world (the fake clock, ids, task definitions, tasks and
//! the CloudWatch Logs they write to), services with their deployments, events and rollouts
//! under way, and how they render into ECS-shaped JSON.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::account::arn;
use crate::express::Express;
use crate::logs::Logs;
use crate::script::{Rollout, TaskRun};
use crate::service_deployment::{ServiceDeployment, CLEAN_UP, SCALE_UP};

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

    /// The definition of the container `name`.
    fn container_definition(&self, name: &str) -> Option<&Value> {
        let defs = self.description["containerDefinitions"].as_array();
        defs.into_iter().flatten().find(|c| c["name"] == name)
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
    pub(crate) plan: Vec<Step>,
    /// The next step of `plan`.
    pub(crate) next_step: usize,
    /// What StopServiceDeployment or ContinueServiceDeployment asked for, if anything.
    pub(crate) stopping: Option<Stopping>,
    /// The wall clock when the deployment began (see [`World::wall_now`]).
    pub(crate) started_wall: Duration,
}

/// One step of a BLUE_GREEN, LINEAR or CANARY deployment: what one poll does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Step {
    PreScaleUp,
    ScaleUp,
    PostScaleUp,
    TestTrafficShift,
    PostTestTrafficShift,
    /// The new revision's production traffic weight after this step.
    ProductionTrafficShift(f64),
    PostProductionTrafficShift,
    BakeTime,
    CleanUp,
}

impl Step {
    /// The lifecycleStage the service deployment reports during this step.
    pub(crate) fn stage(self) -> &'static str {
        match self {
            Step::PreScaleUp => "PRE_SCALE_UP",
            Step::ScaleUp => SCALE_UP,
            Step::PostScaleUp => "POST_SCALE_UP",
            Step::TestTrafficShift => "TEST_TRAFFIC_SHIFT",
            Step::PostTestTrafficShift => "POST_TEST_TRAFFIC_SHIFT",
            Step::ProductionTrafficShift(_) => "PRODUCTION_TRAFFIC_SHIFT",
            Step::PostProductionTrafficShift => "POST_PRODUCTION_TRAFFIC_SHIFT",
            Step::BakeTime => "BAKE_TIME",
            Step::CleanUp => CLEAN_UP,
        }
    }
}

/// What StopServiceDeployment or ContinueServiceDeployment asked of a deployment under way;
/// the next polls carry it out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Stopping {
    /// ROLLBACK_REQUESTED: the rollback starts on the next poll.
    RollbackRequested,
    /// ROLLBACK_IN_PROGRESS: the rollback is done on the next poll.
    RollingBack,
    /// STOP_REQUESTED: STOPPED on the next poll, the service left as it is.
    AbortRequested,
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
    /// For a service ECS manages in Express Mode (`resourceManagementType: ECS`), its express
    /// configurations.
    pub(crate) express: Option<Express>,
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
    SERVICE_KEYS.contains(&key)
        || [
            "taskSets",
            "currentServiceDeployment",
            "resourceManagementType",
        ]
        .contains(&key)
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

/// Everything but the services: clocks, counters, task definitions, tasks, and the CloudWatch
/// A service revision: the task definition (and the rest of the service's
/// configuration, which the fake does not vary) one deployment of a service runs.
pub(crate) struct ServiceRevision {
    pub(crate) arn: String,
    pub(crate) service_arn: String,
    pub(crate) cluster_arn: String,
    pub(crate) task_definition: String,
    pub(crate) created_at: f64,
}

/// Logs the tasks write to.
pub(crate) struct World {
    now: f64,
    /// The wall clock that timed rollouts follow (time since the Unix epoch): the real one
    /// when `None`, else frozen at this reading (tests move it by hand).
    wall: Option<Duration>,
    seq: u64,
    /// Service revisions made so far: what DescribeServiceRevisions describes.
    pub(crate) service_revisions: Vec<ServiceRevision>,
    pub(crate) task_defs: Vec<TaskDef>,
    pub(crate) tasks: Vec<Task>,
    pub(crate) templates: Templates,
    pub(crate) logs: Logs,
}

/// SplitMix64: a fixed scramble so counter-made ids look like real ones.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl World {
    /// An empty world, its clock at [`BASE_EPOCH`].
    pub(crate) fn new() -> World {
        World {
            now: BASE_EPOCH,
            wall: None,
            seq: 0,
            service_revisions: Vec::new(),
            task_defs: Vec::new(),
            tasks: Vec::new(),
            templates: Templates::load(),
            logs: Logs::default(),
        }
    }

    /// The fake clock: the time of the request being handled.
    pub(crate) fn now(&self) -> f64 {
        self.now
    }

    /// Move the clock one second on.
    pub(crate) fn tick(&mut self) {
        self.now += 1.0;
    }

    /// Set the fake clock so that the next tick is at `epoch_seconds`.
    pub(crate) fn set_epoch(&mut self, epoch_seconds: f64) {
        self.now = epoch_seconds - 1.0;
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

    /// A new service revision of a service, running `task_definition`:
    /// `service-revision/{cluster}/{service}/{n}`.
    pub(crate) fn service_revision_arn(
        &mut self,
        cluster: &str,
        service: &str,
        task_definition: &str,
    ) -> String {
        let revision_arn = arn(&format!(
            "service-revision/{cluster}/{service}/{}",
            self.service_revisions.len() + 1
        ));
        self.service_revisions.push(ServiceRevision {
            arn: revision_arn.clone(),
            service_arn: arn(&format!("service/{cluster}/{service}")),
            cluster_arn: arn(&format!("cluster/{cluster}")),
            task_definition: task_definition.to_string(),
            created_at: self.now,
        });
        revision_arn
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

    /// Stop a task now. `exit` gives each container's exit code and reason. An essential
    /// container that exits non-zero leaves its last words in CloudWatch Logs, if it logs there
    /// (see [`Logs::container_failed`]).
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
        let failed: Vec<(String, String)> = task
            .containers
            .iter()
            .filter(|c| c.essential && c.exit_code.is_some_and(|code| code != 0))
            .map(|c| {
                (
                    c.name.clone(),
                    c.reason.as_deref().unwrap_or(reason).to_string(),
                )
            })
            .collect();
        let (task_id, task_definition) = (task.id.clone(), task.task_definition.clone());
        for (name, why) in failed {
            let definition = self
                .find_task_def(&task_definition)
                .and_then(|td| td.container_definition(&name))
                .cloned();
            if let Some(definition) = definition {
                self.logs.container_failed(&definition, &task_id, &why, now);
            }
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
        if s.express.is_some() {
            m.insert("resourceManagementType".into(), json!("ECS"));
        }
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
