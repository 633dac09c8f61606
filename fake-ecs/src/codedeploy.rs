//! AWS CodeDeploy for ECS: applications, blue/green deployment groups of CODE_DEPLOY services,
//! and deployments that walk the ECS lifecycle events one step per GetDeployment call (see
//! [`CodeDeployRun`]), replacing the service's task set as real CodeDeploy does; and how all
//! of it renders.

use std::collections::VecDeque;

use serde_json::{json, Map, Value};

use crate::account::{self, ACCOUNT, REGION};
use crate::model::{self, Service, World, ACTIVE, PRIMARY};
use crate::rollout;
use crate::script::{CodeDeployRun, DeploymentGroupOptions, ECS_LIFECYCLE_EVENTS};

/// Where Install is in [`ECS_LIFECYCLE_EVENTS`]: the replacement task set starts.
const INSTALL: usize = 1;
/// Where BeforeAllowTraffic is: a deployment that waits for rerouting is Ready before it.
const BEFORE_ALLOW_TRAFFIC: usize = 5;
/// Where AllowTraffic is: the production traffic moves.
const ALLOW_TRAFFIC: usize = 6;
/// Past the last event: every event is done.
const ALL_EVENTS: usize = ECS_LIFECYCLE_EVENTS.len();
/// The events CodeDeploy runs itself; the others run the AppSpec's hook functions.
const BUILT_IN_EVENTS: [&str; 3] = ["Install", "AllowTestTraffic", "AllowTraffic"];
/// How many InProgress calls a [`CodeDeployRun::FailAt`] walks like a `Succeed`.
const FAIL_AT_POLLS: u32 = 4;
/// The InProgress calls of a [`CodeDeployRun::TasksFail`] before it fails.
const TASKS_FAIL_POLLS: u32 = 2;

/// The deployment configuration of a group that names none.
pub(crate) const DEFAULT_CONFIG: &str = "CodeDeployDefault.ECSAllAtOnce";
/// The predefined ECS deployment configurations.
pub(crate) const BUILT_IN_CONFIGS: [&str; 5] = [
    DEFAULT_CONFIG,
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
    "CodeDeployDefault.ECSCanary10Percent5Minutes",
    "CodeDeployDefault.ECSCanary10Percent15Minutes",
];
/// The auto-rollback event of a failed deployment.
pub(crate) const DEPLOYMENT_FAILURE: &str = "DEPLOYMENT_FAILURE";
/// The auto-rollback event of a stopped deployment.
pub(crate) const DEPLOYMENT_STOP_ON_REQUEST: &str = "DEPLOYMENT_STOP_ON_REQUEST";
/// Every AutoRollbackEvent of the model.
pub(crate) const AUTO_ROLLBACK_EVENTS: [&str; 3] = [
    DEPLOYMENT_FAILURE,
    "DEPLOYMENT_STOP_ON_ALARM",
    DEPLOYMENT_STOP_ON_REQUEST,
];

/// A LifecycleEventStatus (and TargetStatus): not begun.
const PENDING: &str = "Pending";
/// Under way.
const IN_PROGRESS: &str = "InProgress";
/// Done.
const SUCCEEDED: &str = "Succeeded";
/// Failed (or stopped while under way).
const FAILED: &str = "Failed";
/// Not run: an earlier event failed, or a rollback needed no such step.
const SKIPPED: &str = "Skipped";
/// The TargetStatus of a target waiting for ContinueDeployment.
const READY: &str = "Ready";

/// The index of a lifecycle event in [`ECS_LIFECYCLE_EVENTS`].
pub(crate) fn event_index(name: &str) -> Option<usize> {
    ECS_LIFECYCLE_EVENTS.iter().position(|e| *e == name)
}

/// Whether the AppSpec may name a hook function for this event.
pub(crate) fn is_hook_event(name: &str) -> bool {
    event_index(name).is_some() && !BUILT_IN_EVENTS.contains(&name)
}

/// A DeploymentStatus.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Status {
    Created,
    Queued,
    InProgress,
    Baking,
    Ready,
    Succeeded,
    Failed,
    Stopped,
}

impl Status {
    /// Every DeploymentStatus of the model.
    pub(crate) const ALL: [Status; 8] = [
        Status::Created,
        Status::Queued,
        Status::InProgress,
        Status::Baking,
        Status::Ready,
        Status::Succeeded,
        Status::Failed,
        Status::Stopped,
    ];

    /// As the API spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Status::Created => "Created",
            Status::Queued => "Queued",
            Status::InProgress => "InProgress",
            Status::Baking => "Baking",
            Status::Ready => "Ready",
            Status::Succeeded => "Succeeded",
            Status::Failed => "Failed",
            Status::Stopped => "Stopped",
        }
    }

    /// The status the API spells `name`.
    pub(crate) fn parse(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Not over yet: the group cannot take another deployment.
    pub(crate) fn is_active(self) -> bool {
        !matches!(self, Status::Succeeded | Status::Failed | Status::Stopped)
    }
}

/// An `autoRollbackConfiguration`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct AutoRollback {
    pub(crate) enabled: bool,
    pub(crate) events: Vec<String>,
}

impl AutoRollback {
    /// What a group's options ask for.
    fn of_group(options: &DeploymentGroupOptions) -> AutoRollback {
        let events = [DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_REQUEST];
        AutoRollback {
            enabled: options.auto_rollback,
            events: if options.auto_rollback {
                events.iter().map(|e| e.to_string()).collect()
            } else {
                Vec::new()
            },
        }
    }

    /// Whether `event` (an AutoRollbackEvent) rolls back.
    fn on(&self, event: &str) -> bool {
        self.enabled && self.events.iter().any(|e| e == event)
    }

    fn render(&self) -> Value {
        json!({"enabled": self.enabled, "events": self.events})
    }
}

/// One target group of a deployment group's pair.
#[derive(Clone, Debug)]
pub(crate) struct TargetGroup {
    name: String,
    arn: String,
}

/// One deployment group (always BLUE_GREEN WITH_TRAFFIC_CONTROL, computePlatform ECS).
pub(crate) struct DeploymentGroup {
    pub(crate) application: String,
    pub(crate) name: String,
    id: String,
    pub(crate) cluster: String,
    pub(crate) service: String,
    options: DeploymentGroupOptions,
    /// Blue (what the original task set serves), then green (the replacement's).
    target_groups: [TargetGroup; 2],
    /// The production listener, then the test listener.
    listeners: [String; 2],
    /// How its next deployments proceed (front first).
    next_runs: VecDeque<CodeDeployRun>,
}

/// The ARN of a deployment group.
fn group_arn(application: &str, group: &str) -> String {
    format!("arn:aws:codedeploy:{REGION}:{ACCOUNT}:deploymentgroup:{application}/{group}")
}

/// The ARN of an application.
fn application_arn(application: &str) -> String {
    format!("arn:aws:codedeploy:{REGION}:{ACCOUNT}:application:{application}")
}

/// `deploymentStyle` of every deployment group and deployment.
fn deployment_style() -> Value {
    json!({"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"})
}

impl DeploymentGroup {
    /// Its `deploymentConfigName`.
    pub(crate) fn config_name(&self) -> &str {
        self.options
            .deployment_config_name
            .as_deref()
            .unwrap_or(DEFAULT_CONFIG)
    }

    fn blue_green_configuration(&self) -> Value {
        let (action, minutes) = if self.options.wait_for_reroute {
            ("STOP_DEPLOYMENT", 60)
        } else {
            ("CONTINUE_DEPLOYMENT", 0)
        };
        json!({
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 0,
            },
            "deploymentReadyOption": {"actionOnTimeout": action, "waitTimeInMinutes": minutes},
        })
    }

    fn load_balancer_info(&self) -> Value {
        let [blue, green] = &self.target_groups;
        let [production, test] = &self.listeners;
        json!({
            "targetGroupPairInfoList": [{
                "targetGroups": [{"name": blue.name}, {"name": green.name}],
                "prodTrafficRoute": {"listenerArns": [production]},
                "testTrafficRoute": {"listenerArns": [test]},
            }]
        })
    }

    /// As BatchGetDeploymentGroups renders it; `deployments` are all of them, oldest first.
    pub(crate) fn render(&self, deployments: &[Deployment]) -> Value {
        let mut m = Map::new();
        m.insert("applicationName".into(), json!(self.application));
        m.insert("deploymentGroupId".into(), json!(self.id));
        m.insert("deploymentGroupName".into(), json!(self.name));
        m.insert("deploymentConfigName".into(), json!(self.config_name()));
        for key in [
            "ec2TagFilters",
            "onPremisesInstanceTagFilters",
            "autoScalingGroups",
        ] {
            m.insert(key.into(), json!([]));
        }
        m.insert(
            "serviceRoleArn".into(),
            json!(format!(
                "arn:aws:iam::{ACCOUNT}:role/CodeDeployServiceRoleForECS"
            )),
        );
        m.insert("triggerConfigurations".into(), json!([]));
        m.insert(
            "alarmConfiguration".into(),
            json!({"enabled": false, "ignorePollAlarmFailure": false, "alarms": []}),
        );
        m.insert(
            "autoRollbackConfiguration".into(),
            AutoRollback::of_group(&self.options).render(),
        );
        m.insert("deploymentStyle".into(), deployment_style());
        m.insert("outdatedInstancesStrategy".into(), json!("UPDATE"));
        m.insert(
            "blueGreenDeploymentConfiguration".into(),
            self.blue_green_configuration(),
        );
        m.insert("loadBalancerInfo".into(), self.load_balancer_info());
        let mine: Vec<&Deployment> = deployments
            .iter()
            .filter(|d| d.application == self.application && d.group == self.name)
            .collect();
        let last_successful = mine.iter().rev().find(|d| d.status == Status::Succeeded);
        let last = [
            ("lastSuccessfulDeployment", last_successful),
            ("lastAttemptedDeployment", mine.last()),
        ];
        for (key, deployment) in last {
            if let Some(d) = deployment {
                let mut info = json!({
                    "deploymentId": d.id,
                    "status": d.status.name(),
                    "createTime": d.create_time,
                });
                if let Some(t) = d.complete_time {
                    info["endTime"] = json!(t);
                }
                m.insert(key.into(), info);
            }
        }
        m.insert("computePlatform".into(), json!("ECS"));
        m.insert(
            "ecsServices".into(),
            json!([{"serviceName": self.service, "clusterName": self.cluster}]),
        );
        m.insert("terminationHookEnabled".into(), json!(false));
        Value::Object(m)
    }
}

/// `diagnostics` of a failed lifecycle event.
#[derive(Clone, Debug)]
struct Diagnostics {
    error_code: &'static str,
    script_name: String,
    message: String,
    log_tail: String,
}

/// One lifecycle event of a deployment's ECS target.
#[derive(Clone, Debug)]
struct LifecycleEvent {
    status: &'static str,
    start: Option<f64>,
    end: Option<f64>,
    diagnostics: Option<Diagnostics>,
}

impl LifecycleEvent {
    /// Every event of a new deployment: Pending.
    fn all_pending() -> Vec<LifecycleEvent> {
        let pending = LifecycleEvent {
            status: PENDING,
            start: None,
            end: None,
            diagnostics: None,
        };
        vec![pending; ALL_EVENTS]
    }
}

/// `rollbackInfo`: on a rolled-back deployment the rollback's id, on a rollback the id of the
/// deployment it rolls back.
#[derive(Clone, Debug)]
struct RollbackInfo {
    rollback_deployment_id: Option<String>,
    triggering_deployment_id: Option<String>,
    message: String,
}

/// What drives a deployment.
#[derive(Clone, Debug)]
enum Kind {
    /// Made by CreateDeployment: the run, and the task definition of the AppSpec.
    Deploy {
        run: CodeDeployRun,
        task_definition: String,
    },
    /// The rollback of a failed or stopped deployment (see `FakeEcs::set_codedeploy_runs`).
    Rollback,
}

/// One deployment.
pub(crate) struct Deployment {
    pub(crate) id: String,
    pub(crate) application: String,
    pub(crate) group: String,
    config_name: String,
    /// The AppSpec CreateDeployment got, parsed; null for a rollback.
    pub(crate) appspec: Value,
    /// The SHA-256 of the AppSpec content (GetDeployment shows only that of the revision);
    /// for a rollback that of the group's last successful revision, if any.
    revision_sha256: Option<String>,
    description: Option<String>,
    /// `user` or `codeDeployRollback`.
    creator: &'static str,
    pub(crate) status: Status,
    /// `errorInformation`: (code, message).
    error: Option<(&'static str, String)>,
    pub(crate) create_time: f64,
    start_time: Option<f64>,
    complete_time: Option<f64>,
    rollback_info: Option<RollbackInfo>,
    auto_rollback: AutoRollback,
    /// Whether it waits in Ready after the test traffic.
    wait_for_reroute: bool,
    /// Whether ContinueDeployment let it go on from Ready.
    continued: bool,
    kind: Kind,
    /// GetDeployment calls that advanced it (the one that made it Ready excluded).
    calls: u32,
    events: Vec<LifecycleEvent>,
    pub(crate) cluster: String,
    pub(crate) service: String,
    /// The task set serving production when it began (an ECS `deployments` id).
    original: String,
    /// The task set it starts at Install (a rollback's is that of the deployment it rolls
    /// back).
    replacement: Option<String>,
    target_status: &'static str,
    target_updated_at: f64,
    /// Blue, green: the original's and the replacement's target groups.
    target_groups: [TargetGroup; 2],
}

/// The InProgress event of call `calls` (1-based) of a run that succeeds after `polls`
/// InProgress calls: 1 + ⌊7·(calls−1)/polls⌋, or [`ALL_EVENTS`] after `polls` calls.
fn position(calls: u32, polls: u32) -> usize {
    let polls = polls.max(1);
    if calls > polls {
        ALL_EVENTS
    } else {
        1 + (7 * (calls - 1) / polls) as usize
    }
}

/// The service's task set `id`.
fn task_set<'a>(service: &'a Service, id: &str) -> Option<&'a model::Deployment> {
    service.deployments.iter().find(|d| d.id == id)
}

/// Make task set `id` PRIMARY (first, with the production traffic) and the others ACTIVE.
fn route_production(world: &World, service: &mut Service, id: &str) {
    let Some(i) = service.deployments.iter().position(|d| d.id == id) else {
        return;
    };
    let now = world.now();
    let primary = service.deployments.remove(i);
    service.deployments.insert(0, primary);
    for (k, d) in service.deployments.iter_mut().enumerate() {
        let status = if k == 0 { PRIMARY } else { ACTIVE };
        if d.status != status {
            d.status = status;
            d.updated_at = now;
        }
    }
}

/// A task set goes: it drains, its tasks stop and it leaves the service's `taskSets`.
fn retire_task_set(world: &mut World, service: &mut Service, id: &str) {
    if task_set(service, id).is_none() {
        return;
    }
    let running = world.running_of(id);
    if running > 0 {
        let message = format!(
            "(service {}, taskSet {id}) has begun draining connections on {running} tasks.",
            service.name
        );
        world.event(service, message);
    }
    rollout::stop_tasks(world, service, u32::MAX, |d| d.id == id);
    service.deployments.retain(|d| d.id != id);
}

/// The "steady state" event of a service whose deployment ended.
fn steady(world: &mut World, service: &mut Service) {
    let message = format!("(service {}) has reached a steady state.", service.name);
    world.event(service, message);
}

impl Deployment {
    /// The target id of its ECS service: `cluster:service`.
    pub(crate) fn target_id(&self) -> String {
        format!("{}:{}", self.cluster, self.service)
    }

    fn touch(&mut self, now: f64, target_status: &'static str) {
        self.target_status = target_status;
        self.target_updated_at = now;
    }

    /// The AppSpec's hook function for `event`, if it names one.
    fn hook_function(&self, event: &str) -> Option<String> {
        let hooks = self.appspec["Hooks"].as_array()?;
        hooks
            .iter()
            .find_map(|hook| hook.get(event).and_then(Value::as_str))
            .map(str::to_string)
    }

    /// Event `i` starts, with what that does to the service: Install creates the replacement
    /// task set (its tasks PROVISIONING, none for a TasksFail run).
    fn start_event(&mut self, world: &mut World, service: &mut Service, i: usize) {
        if self.events[i].status != PENDING {
            return;
        }
        let now = world.now();
        self.events[i].status = IN_PROGRESS;
        self.events[i].start = Some(now);
        self.touch(now, IN_PROGRESS);
        let Kind::Deploy {
            run,
            task_definition,
        } = &self.kind
        else {
            return;
        };
        if i == INSTALL && self.replacement.is_none() {
            let id = world.deployment_id();
            let revision_arn =
                world.service_revision_arn(&service.cluster, &service.name, task_definition);
            let desired = service.desired;
            service.deployments.push(model::Deployment {
                id: id.clone(),
                status: ACTIVE,
                task_definition: task_definition.clone(),
                desired,
                pending: desired,
                failed: 0,
                created_at: now,
                updated_at: now,
                rollout_state: None,
                rollout_state_reason: None,
                revision_arn,
            });
            if !matches!(run, CodeDeployRun::TasksFail { .. }) {
                rollout::place_tasks(world, service, &id, desired, false);
            }
            self.replacement = Some(id);
        }
    }

    /// Event `i` succeeds (starting first if it had not), with what that does to the service:
    /// Install runs the replacement's tasks, AllowTraffic makes the replacement PRIMARY.
    fn succeed_event(&mut self, world: &mut World, service: &mut Service, i: usize) {
        self.start_event(world, service, i);
        if self.events[i].status != IN_PROGRESS {
            return;
        }
        let now = world.now();
        self.events[i].status = SUCCEEDED;
        self.events[i].end = Some(now);
        self.touch(now, IN_PROGRESS);
        let Some(replacement) = self.replacement.clone() else {
            return;
        };
        match i {
            INSTALL => self.run_replacement(world, service, &replacement),
            ALLOW_TRAFFIC => route_production(world, service, &replacement),
            _ => {}
        }
    }

    /// The replacement's PROVISIONING tasks run: the task set is STEADY_STATE and its targets
    /// registered in the green target group.
    fn run_replacement(&self, world: &mut World, service: &mut Service, id: &str) {
        let starting: Vec<usize> = (0..world.tasks.len())
            .filter(|&i| {
                let t = &world.tasks[i];
                t.started_by.as_deref() == Some(id) && t.last_status == "PROVISIONING"
            })
            .collect();
        for &i in &starting {
            world.run(i);
        }
        let now = world.now();
        if let Some(d) = service.deployment_mut(id) {
            d.pending = 0;
            d.updated_at = now;
        }
        if !starting.is_empty() {
            let message = format!(
                "(service {}) registered {} targets in (target-group {})",
                service.name,
                starting.len(),
                self.target_groups[1].arn
            );
            world.event(service, message);
        }
    }

    /// Every event before `n` succeeds.
    fn finish_events_before(&mut self, world: &mut World, service: &mut Service, n: usize) {
        for i in 0..n.min(ALL_EVENTS) {
            self.succeed_event(world, service, i);
        }
    }

    /// The deployment ends with `status` (and `errorInformation`, unless it succeeded).
    fn end(&mut self, now: f64, status: Status, error: Option<(&'static str, String)>) {
        self.status = status;
        self.error = error;
        self.complete_time = Some(now);
        let target = if status == Status::Succeeded {
            SUCCEEDED
        } else {
            FAILED
        };
        self.touch(now, target);
    }

    /// The production traffic goes back to the original task set and the replacement goes.
    fn drop_replacement(&self, world: &mut World, service: &mut Service) {
        route_production(world, service, &self.original);
        if let Some(id) = &self.replacement {
            retire_task_set(world, service, id);
            steady(world, service);
        }
    }

    /// Event `i` fails with `diagnostics`, the later ones are skipped and the deployment is
    /// Failed with `code` and `message`; true if that rolls back (else the replacement goes at
    /// once).
    fn fail_event(
        &mut self,
        world: &mut World,
        service: &mut Service,
        i: usize,
        error: (&'static str, String),
        diagnostics: Diagnostics,
    ) -> bool {
        self.start_event(world, service, i);
        let now = world.now();
        let event = &mut self.events[i];
        event.status = FAILED;
        event.end = Some(now);
        event.diagnostics = Some(diagnostics);
        for later in &mut self.events[i + 1..] {
            later.status = SKIPPED;
        }
        self.end(now, Status::Failed, Some(error));
        let rolls_back = self.auto_rollback.on(DEPLOYMENT_FAILURE);
        if !rolls_back {
            self.drop_replacement(world, service);
        }
        rolls_back
    }

    /// Every event done: the original task set drains and goes; Succeeded.
    fn succeed(&mut self, world: &mut World, service: &mut Service) {
        self.finish_events_before(world, service, ALL_EVENTS);
        retire_task_set(world, service, &self.original.clone());
        steady(world, service);
        self.end(world.now(), Status::Succeeded, None);
    }

    /// One GetDeployment call; true when the deployment just failed in a way that rolls back.
    fn step(&mut self, world: &mut World, service: &mut Service) -> bool {
        match self.status {
            Status::Created => {
                self.status = Status::InProgress;
                self.start_time = Some(world.now());
                self.touch(world.now(), IN_PROGRESS);
            }
            Status::InProgress => {}
            _ => return false,
        }
        self.calls += 1;
        let run = match &self.kind {
            Kind::Deploy { run, .. } => run.clone(),
            Kind::Rollback => {
                self.rollback_step(world, service);
                return false;
            }
        };
        match run {
            CodeDeployRun::Succeed { polls } => {
                self.walk(world, service, position(self.calls, polls), None)
            }
            CodeDeployRun::FailAt { event, message } => {
                let failing = event_index(&event).unwrap_or(0);
                let n = position(self.calls, FAIL_AT_POLLS);
                self.walk(world, service, n, Some((failing, message)))
            }
            CodeDeployRun::TasksFail { reason } => self.tasks_fail(world, service, &reason),
            CodeDeployRun::Stuck => self.walk(world, service, INSTALL, None),
        }
    }

    /// Move the events on to `n` (the InProgress one; [`ALL_EVENTS`] to succeed), or stop in
    /// Ready before BeforeAllowTraffic if the deployment waits for rerouting, or fail at
    /// `failing` if the walk gets past it. True when it failed in a way that rolls back.
    fn walk(
        &mut self,
        world: &mut World,
        service: &mut Service,
        n: usize,
        failing: Option<(usize, String)>,
    ) -> bool {
        let pause = self.wait_for_reroute && !self.continued && n >= BEFORE_ALLOW_TRAFFIC;
        let n = if pause { BEFORE_ALLOW_TRAFFIC } else { n };
        if let Some((f, message)) = failing.filter(|(f, _)| *f < n) {
            self.finish_events_before(world, service, f);
            return self.fail_at(world, service, f, &message);
        }
        self.finish_events_before(world, service, n);
        if pause {
            self.status = Status::Ready;
            self.calls -= 1;
            self.touch(world.now(), READY);
        } else if n >= ALL_EVENTS {
            self.succeed(world, service);
        } else {
            self.start_event(world, service, n);
        }
        false
    }

    /// [`CodeDeployRun::FailAt`] at event `i`; true when that rolls back.
    fn fail_at(
        &mut self,
        world: &mut World,
        service: &mut Service,
        i: usize,
        message: &str,
    ) -> bool {
        let event = ECS_LIFECYCLE_EVENTS[i];
        let code = match event {
            "Install" => "ECS_UPDATE_ERROR",
            "AllowTestTraffic" | "AllowTraffic" => "ELASTIC_LOAD_BALANCING_INVALID",
            _ => "HOOK_EXECUTION_FAILURE",
        };
        // The hook's log: its last line is what the hook says, the whole of
        // it is the tail of the log.
        let log_tail = message.to_string();
        let message = message.lines().last().unwrap_or_default();
        let diagnostics = Diagnostics {
            error_code: "ScriptFailed",
            script_name: self
                .hook_function(event)
                .unwrap_or_else(|| "N/A".to_string()),
            message: message.to_string(),
            log_tail,
        };
        let text =
            format!("The deployment failed because the {event} lifecycle event failed: {message}");
        self.fail_event(world, service, i, (code, text), diagnostics)
    }

    /// One call of a [`CodeDeployRun::TasksFail`]: a batch of failing tasks, or the failure.
    fn tasks_fail(&mut self, world: &mut World, service: &mut Service, reason: &str) -> bool {
        self.finish_events_before(world, service, INSTALL);
        self.start_event(world, service, INSTALL);
        let Some(id) = self.replacement.clone() else {
            return false;
        };
        if self.calls <= TASKS_FAIL_POLLS {
            let desired = task_set(service, &id).map_or(0, |d| d.desired);
            rollout::start_failing_tasks(world, service, &id, desired, reason);
            return false;
        }
        let message = format!(
            "The ECS service cannot reach a steady state. Error information: (service {}, taskSet {id}) tasks failed to start: {reason}",
            service.name
        );
        let diagnostics = Diagnostics {
            error_code: "UnknownError",
            script_name: "N/A".to_string(),
            message: message.clone(),
            log_tail: String::new(),
        };
        self.fail_event(
            world,
            service,
            INSTALL,
            ("ECS_UPDATE_ERROR", message),
            diagnostics,
        )
    }

    /// One call of a rollback: the production traffic back on the original task set (call
    /// 1), then the replacement gone and Succeeded (call 2).
    fn rollback_step(&mut self, world: &mut World, service: &mut Service) {
        let now = world.now();
        if self.calls == 1 {
            for event in &mut self.events[..ALLOW_TRAFFIC] {
                event.status = SKIPPED;
            }
            let allow = &mut self.events[ALLOW_TRAFFIC];
            allow.status = IN_PROGRESS;
            allow.start = Some(now);
            route_production(world, service, &self.original);
            return;
        }
        let allow = &mut self.events[ALLOW_TRAFFIC];
        allow.status = SUCCEEDED;
        allow.end = Some(now);
        self.events[ALLOW_TRAFFIC + 1].status = SKIPPED;
        self.drop_replacement(world, service);
        self.end(now, Status::Succeeded, None);
    }

    /// StopDeployment: Stopped with MANUAL_STOP, the event under way Failed, the pending ones
    /// Skipped; unless `rolls_back`, the replacement goes at once.
    fn stop(&mut self, world: &mut World, service: Option<&mut Service>, rolls_back: bool) {
        let now = world.now();
        for event in &mut self.events {
            match event.status {
                IN_PROGRESS => {
                    event.status = FAILED;
                    event.end = Some(now);
                    event.diagnostics = Some(Diagnostics {
                        error_code: "UnknownError",
                        script_name: "N/A".to_string(),
                        message: "The deployment was stopped.".to_string(),
                        log_tail: String::new(),
                    });
                }
                PENDING => event.status = SKIPPED,
                _ => {}
            }
        }
        let message = format!(
            "The deployment {} was stopped by a StopDeployment request.",
            self.id
        );
        self.end(now, Status::Stopped, Some(("MANUAL_STOP", message)));
        if let (false, Some(service)) = (rolls_back, service) {
            self.drop_replacement(world, service);
        }
    }

    /// ContinueDeployment on a Ready deployment: InProgress again; the next calls go on.
    pub(crate) fn resume(&mut self, now: f64) {
        self.status = Status::InProgress;
        self.continued = true;
        self.touch(now, IN_PROGRESS);
    }

    /// The service is gone: an active deployment fails with INVALID_ECS_SERVICE.
    fn lose_service(&mut self, now: f64) {
        if matches!(self.status, Status::Created | Status::InProgress) {
            let message = format!(
                "The ECS service {} of cluster {} does not exist or is not ACTIVE.",
                self.service, self.cluster
            );
            self.end(now, Status::Failed, Some(("INVALID_ECS_SERVICE", message)));
        }
    }

    /// As GetDeployment renders its `deploymentInfo`.
    pub(crate) fn render(&self, group: Option<&DeploymentGroup>) -> Value {
        let mut m = Map::new();
        m.insert("applicationName".into(), json!(self.application));
        m.insert("deploymentGroupName".into(), json!(self.group));
        m.insert("deploymentConfigName".into(), json!(self.config_name));
        m.insert("deploymentId".into(), json!(self.id));
        if let Some(sha256) = &self.revision_sha256 {
            m.insert(
                "revision".into(),
                json!({"revisionType": "AppSpecContent", "appSpecContent": {"sha256": sha256}}),
            );
        }
        m.insert("status".into(), json!(self.status.name()));
        if let Some((code, message)) = &self.error {
            m.insert(
                "errorInformation".into(),
                json!({"code": code, "message": message}),
            );
        }
        m.insert("createTime".into(), json!(self.create_time));
        for (key, time) in [
            ("startTime", self.start_time),
            ("completeTime", self.complete_time),
        ] {
            if let Some(t) = time {
                m.insert(key.into(), json!(t));
            }
        }
        let mut overview = Map::new();
        for status in [PENDING, IN_PROGRESS, SUCCEEDED, FAILED, SKIPPED, READY] {
            overview.insert(
                status.into(),
                json!(u32::from(self.target_status == status)),
            );
        }
        m.insert("deploymentOverview".into(), Value::Object(overview));
        if let Some(description) = &self.description {
            m.insert("description".into(), json!(description));
        }
        m.insert("creator".into(), json!(self.creator));
        m.insert("ignoreApplicationStopFailures".into(), json!(false));
        m.insert(
            "autoRollbackConfiguration".into(),
            self.auto_rollback.render(),
        );
        m.insert("updateOutdatedInstancesOnly".into(), json!(false));
        if let Some(info) = &self.rollback_info {
            let mut r = Map::new();
            if let Some(id) = &info.rollback_deployment_id {
                r.insert("rollbackDeploymentId".into(), json!(id));
            }
            if let Some(id) = &info.triggering_deployment_id {
                r.insert("rollbackTriggeringDeploymentId".into(), json!(id));
            }
            r.insert("rollbackMessage".into(), json!(info.message));
            m.insert("rollbackInfo".into(), Value::Object(r));
        }
        m.insert("deploymentStyle".into(), deployment_style());
        m.insert("instanceTerminationWaitTimeStarted".into(), json!(false));
        if let Some(group) = group {
            m.insert(
                "blueGreenDeploymentConfiguration".into(),
                group.blue_green_configuration(),
            );
            m.insert("loadBalancerInfo".into(), group.load_balancer_info());
        }
        m.insert("deploymentStatusMessages".into(), json!([]));
        m.insert("computePlatform".into(), json!("ECS"));
        Value::Object(m)
    }

    /// As GetDeploymentTarget renders its `deploymentTarget`; `service` is its ECS service, if
    /// it still exists.
    pub(crate) fn render_target(&self, world: &World, service: Option<&Service>) -> Value {
        let events: Vec<Value> = ECS_LIFECYCLE_EVENTS
            .iter()
            .zip(&self.events)
            .map(|(name, e)| {
                let mut m = Map::new();
                m.insert("lifecycleEventName".into(), json!(name));
                if let Some(d) = &e.diagnostics {
                    m.insert(
                        "diagnostics".into(),
                        json!({
                            "errorCode": d.error_code,
                            "scriptName": d.script_name,
                            "message": d.message,
                            "logTail": d.log_tail,
                        }),
                    );
                }
                for (key, time) in [("startTime", e.start), ("endTime", e.end)] {
                    if let Some(t) = time {
                        m.insert(key.into(), json!(t));
                    }
                }
                m.insert("status".into(), json!(e.status));
                Value::Object(m)
            })
            .collect();
        let sets = [
            (Some(&self.original), "Blue", &self.target_groups[0]),
            (self.replacement.as_ref(), "Green", &self.target_groups[1]),
        ];
        let task_sets: Vec<Value> = sets
            .into_iter()
            .filter_map(|(id, label, target_group)| {
                let d = task_set(service?, id?)?;
                let weight = if d.status == PRIMARY { 100.0 } else { 0.0 };
                Some(json!({
                    "identifer": d.id,
                    "desiredCount": d.desired,
                    "pendingCount": d.pending,
                    "runningCount": world.running_of(&d.id),
                    "status": d.status,
                    "trafficWeight": weight,
                    "targetGroup": {"name": target_group.name},
                    "taskSetLabel": label,
                }))
            })
            .collect();
        json!({
            "deploymentTargetType": "ECSTarget",
            "ecsTarget": {
                "deploymentId": self.id,
                "targetId": self.target_id(),
                "targetArn": account::arn(&format!("service/{}/{}", self.cluster, self.service)),
                "lastUpdatedAt": self.target_updated_at,
                "lifecycleEvents": events,
                "status": self.target_status,
                "taskSetsInfo": task_sets,
            }
        })
    }
}

/// What CreateDeployment checked and the new deployment needs.
pub(crate) struct NewDeployment {
    /// The AppSpec, parsed.
    pub(crate) appspec: Value,
    /// The SHA-256 of its content.
    pub(crate) sha256: String,
    /// Its task definition ARN.
    pub(crate) task_definition: String,
    pub(crate) description: Option<String>,
    /// `deploymentConfigName` if the request names one (else the group's).
    pub(crate) config_name: Option<String>,
    /// `autoRollbackConfiguration` if the request has one (else the group's).
    pub(crate) auto_rollback: Option<AutoRollback>,
}

/// Everything CodeDeploy knows.
#[derive(Default)]
pub(crate) struct CodeDeploy {
    /// Application names, in creation order.
    pub(crate) applications: Vec<String>,
    pub(crate) groups: Vec<DeploymentGroup>,
    /// Oldest first.
    pub(crate) deployments: Vec<Deployment>,
}

impl CodeDeploy {
    /// The index of a deployment group.
    pub(crate) fn find_group(&self, application: &str, name: &str) -> Option<usize> {
        self.groups
            .iter()
            .position(|g| g.application == application && g.name == name)
    }

    /// The index of a deployment.
    pub(crate) fn find_deployment(&self, id: &str) -> Option<usize> {
        self.deployments.iter().position(|d| d.id == id)
    }

    /// The deployment `id`; panics if there is none.
    pub(crate) fn expect(&self, id: &str) -> &Deployment {
        let i = self
            .find_deployment(id)
            .unwrap_or_else(|| panic!("fake-ecs: no CodeDeploy deployment {id}"));
        &self.deployments[i]
    }

    /// The group a deployment belongs to.
    fn group_of(&self, d: &Deployment) -> Option<&DeploymentGroup> {
        self.find_group(&d.application, &d.group)
            .map(|i| &self.groups[i])
    }

    /// The deployment at `index` as GetDeployment renders it.
    pub(crate) fn render(&self, index: usize) -> Value {
        let d = &self.deployments[index];
        d.render(self.group_of(d))
    }

    /// See `FakeEcs::set_codedeploy_runs`.
    pub(crate) fn set_runs(&mut self, application: &str, group: &str, runs: Vec<CodeDeployRun>) {
        let i = self.find_group(application, group).unwrap_or_else(|| {
            panic!("fake-ecs: no deployment group {group} in application {application}")
        });
        for run in &runs {
            if let CodeDeployRun::FailAt { event, .. } = run {
                assert!(
                    event_index(event).is_some(),
                    "fake-ecs: CodeDeployRun::FailAt names {event:?}; use one of {ECS_LIFECYCLE_EVENTS:?}"
                );
            }
        }
        self.groups[i].next_runs = runs.into();
    }

    /// The resource IAM would name when refusing a request with this body: the deployment
    /// group (of the deployment) it names, else the application, else `*`.
    pub(crate) fn resource_of(&self, body: &Value) -> String {
        let text = |key: &str| body.get(key).and_then(Value::as_str);
        let deployment = text("deploymentId")
            .and_then(|id| self.find_deployment(id))
            .map(|i| &self.deployments[i]);
        if let Some(d) = deployment {
            return group_arn(&d.application, &d.group);
        }
        let group = text("deploymentGroupName").or_else(|| {
            body.get("deploymentGroupNames")
                .and_then(|names| names.get(0))
                .and_then(Value::as_str)
        });
        match (text("applicationName"), group) {
            (Some(application), Some(group)) => group_arn(application, group),
            (Some(application), None) => application_arn(application),
            _ => "*".to_string(),
        }
    }
}

/// `d-` and 9 upper-case letters and digits, like a real deployment id.
fn new_deployment_id(world: &mut World, taken: &[Deployment]) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    loop {
        let hex = world.hex_id();
        let mut n = u64::from_str_radix(&hex[..16], 16).unwrap_or_default();
        let mut id = String::from("d-");
        for _ in 0..9 {
            id.push(char::from(DIGITS[(n % 36) as usize]));
            n /= 36;
        }
        if !taken.iter().any(|d| d.id == id) {
            return id;
        }
    }
}

/// A target group of the fake's load balancer.
fn target_group(world: &mut World, name: String) -> TargetGroup {
    let arn = format!(
        "arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{name}/{}",
        &world.hex_id()[..16]
    );
    TargetGroup { name, arn }
}

impl CodeDeploy {
    /// Create (or replace) the deployment group `group` of `application` for the service
    /// `service` of `cluster` (see `FakeEcs::add_deployment_group`, which checks both exist).
    pub(crate) fn add_group(
        &mut self,
        world: &mut World,
        application: &str,
        group: &str,
        cluster: &str,
        service: &str,
        options: DeploymentGroupOptions,
    ) {
        let alb = format!(
            "arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener/app/{service}-alb/{}",
            &world.hex_id()[..16]
        );
        let new = DeploymentGroup {
            application: application.to_string(),
            name: group.to_string(),
            id: world.uuid(),
            cluster: cluster.to_string(),
            service: service.to_string(),
            options,
            target_groups: [
                target_group(world, format!("{service}-blue")),
                target_group(world, format!("{service}-green")),
            ],
            listeners: [
                format!("{alb}/{}", &world.hex_id()[..16]),
                format!("{alb}/{}", &world.hex_id()[..16]),
            ],
            next_runs: VecDeque::new(),
        };
        match self.find_group(application, group) {
            Some(j) => self.groups[j] = new,
            None => self.groups.push(new),
        }
    }

    /// A new deployment of the group at `group_index` (CreateDeployment checked `new`), Created,
    /// taking the group's next run; returns its id.
    pub(crate) fn create_deployment(
        &mut self,
        world: &mut World,
        services: &[Service],
        group_index: usize,
        new: NewDeployment,
    ) -> String {
        let now = world.now();
        let id = new_deployment_id(world, &self.deployments);
        let group = &mut self.groups[group_index];
        let run = group.next_runs.pop_front().unwrap_or_default();
        let original = services
            .iter()
            .find(|s| s.cluster == group.cluster && s.name == group.service)
            .and_then(|s| s.deployments.first())
            .map(|d| d.id.clone())
            .unwrap_or_default();
        let deployment = Deployment {
            id: id.clone(),
            application: group.application.clone(),
            group: group.name.clone(),
            config_name: new
                .config_name
                .unwrap_or_else(|| group.config_name().to_string()),
            appspec: new.appspec,
            revision_sha256: Some(new.sha256),
            description: new.description,
            creator: "user",
            status: Status::Created,
            error: None,
            create_time: now,
            start_time: None,
            complete_time: None,
            rollback_info: None,
            auto_rollback: new
                .auto_rollback
                .unwrap_or_else(|| AutoRollback::of_group(&group.options)),
            wait_for_reroute: group.options.wait_for_reroute,
            continued: false,
            kind: Kind::Deploy {
                run,
                task_definition: new.task_definition,
            },
            calls: 0,
            events: LifecycleEvent::all_pending(),
            cluster: group.cluster.clone(),
            service: group.service.clone(),
            original,
            replacement: None,
            target_status: PENDING,
            target_updated_at: now,
            target_groups: group.target_groups.clone(),
        };
        self.deployments.push(deployment);
        id
    }

    /// One GetDeployment call of the deployment at `index`: the next step of its script, and
    /// the rollback deployment if that step failed it with a rollback.
    pub(crate) fn advance_deployment(
        &mut self,
        world: &mut World,
        services: &mut [Service],
        index: usize,
    ) {
        let d = &mut self.deployments[index];
        let service = services
            .iter_mut()
            .find(|s| s.cluster == d.cluster && s.name == d.service && s.status == ACTIVE);
        let rolls_back = match service {
            Some(service) => d.step(world, service),
            None => {
                d.lose_service(world.now());
                false
            }
        };
        if rolls_back {
            self.start_rollback(world, index, "failed");
        }
    }

    /// StopDeployment of the active deployment at `index`, rolled back if `rollback` is true
    /// (absent: if its autoRollbackConfiguration covers DEPLOYMENT_STOP_ON_REQUEST; never for
    /// a rollback); returns the rollback deployment's id, if one starts.
    pub(crate) fn stop_deployment(
        &mut self,
        world: &mut World,
        services: &mut [Service],
        index: usize,
        rollback: Option<bool>,
    ) -> Option<String> {
        let d = &mut self.deployments[index];
        let rolls_back = matches!(d.kind, Kind::Deploy { .. })
            && rollback.unwrap_or_else(|| d.auto_rollback.on(DEPLOYMENT_STOP_ON_REQUEST));
        let service = services
            .iter_mut()
            .find(|s| s.cluster == d.cluster && s.name == d.service && s.status == ACTIVE);
        d.stop(world, service, rolls_back);
        rolls_back.then(|| self.start_rollback(world, index, "was stopped"))
    }

    /// The rollback of the deployment at `index`, which `what` ("failed", "was stopped"):
    /// rollbackInfo on both, the rollback Created; returns its id.
    fn start_rollback(&mut self, world: &mut World, index: usize, what: &str) -> String {
        let now = world.now();
        let id = new_deployment_id(world, &self.deployments);
        let deployments = &mut self.deployments;
        let triggering = &mut deployments[index];
        let old = triggering.id.clone();
        triggering.rollback_info = Some(RollbackInfo {
            rollback_deployment_id: Some(id.clone()),
            triggering_deployment_id: None,
            message: format!("Deployment {old} {what} and was rolled back by deployment {id}."),
        });
        let triggering = &deployments[index];
        let last_good = deployments
            .iter()
            .rev()
            .filter(|d| d.application == triggering.application && d.group == triggering.group)
            .find(|d| d.status == Status::Succeeded && matches!(d.kind, Kind::Deploy { .. }))
            .and_then(|d| d.revision_sha256.clone());
        let rollback = Deployment {
            id: id.clone(),
            application: triggering.application.clone(),
            group: triggering.group.clone(),
            config_name: triggering.config_name.clone(),
            appspec: Value::Null,
            revision_sha256: last_good,
            description: None,
            creator: "codeDeployRollback",
            status: Status::Created,
            error: None,
            create_time: now,
            start_time: None,
            complete_time: None,
            rollback_info: Some(RollbackInfo {
                rollback_deployment_id: None,
                triggering_deployment_id: Some(old.clone()),
                message: format!("Rollback of deployment {old}, which {what}."),
            }),
            auto_rollback: AutoRollback {
                enabled: false,
                events: Vec::new(),
            },
            wait_for_reroute: false,
            continued: false,
            kind: Kind::Rollback,
            calls: 0,
            events: LifecycleEvent::all_pending(),
            cluster: triggering.cluster.clone(),
            service: triggering.service.clone(),
            original: triggering.original.clone(),
            replacement: triggering.replacement.clone(),
            target_status: PENDING,
            target_updated_at: now,
            target_groups: triggering.target_groups.clone(),
        };
        deployments.push(rollback);
        id
    }
}
