//! A stateful fake of the Amazon ECS JSON-1.1 API, served by wiremock on 127.0.0.1, which
//! also answers the AWS CodeDeploy API for ECS services.
//!
//! [`FakeEcs`] holds clusters, services, deployments, task definitions and tasks, answers
//! every request by its `X-Amz-Target` header in the shape real ECS uses (bodies start from
//! the templates in `fixtures/ecs/`), checks the shape of the SigV4 `Authorization` header,
//! advances a scripted [`Rollout`] each time `DescribeServices` names a service, and a
//! scripted [`TaskRun`] each time `DescribeTasks` names a task started by `RunTask`.
//!
//! Requests whose `X-Amz-Target` starts with `CodeDeploy_20141006.` (signed for the service
//! `codedeploy`) go to the CodeDeploy side: applications, deployment groups of CODE_DEPLOY
//! services, and blue/green deployments that advance one step of a scripted
//! [`CodeDeployRun`] per `GetDeployment` call and replace the service's task set as they go.
//!
//! Everything is deterministic: ids come from counters and timestamps from a fake clock that
//! ticks once per request (see [`FakeEcs::set_epoch`]), never from the wall clock — except the
//! progress of the two timed rollouts, [`Rollout::CompleteAfter`] and [`Rollout::FailAfter`],
//! which benchmarks use so that tools polling at different paces meet the same rollout.

mod auth;
mod codedeploy;
mod codedeploy_ops;
mod front;
mod model;
mod ops;
mod rollout;
mod service_deployment;
mod sha256;
#[cfg(test)]
mod tests;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use model::State;

/// The AWS account id in every ARN the fake makes.
pub const ACCOUNT: &str = "123456789012";
/// The only region the fake accepts in a SigV4 credential scope.
pub const REGION: &str = "us-east-1";
/// The access key id the fake accepts (what tests pass as `AWS_ACCESS_KEY_ID`).
pub const ACCESS_KEY: &str = "AKIAFAKEECSDEPLOY001";
/// A secret key to pair with [`ACCESS_KEY`]; the fake never verifies signatures, only their shape.
pub const SECRET_KEY: &str = "fake/secret/key/for/tests/only/0000000000";

/// The environment variable that names the transcript file of every fake started (see
/// [`FakeEcs::set_transcript`]); `scripts/model_check.py` checks such a file against the AWS
/// model.
pub const TRANSCRIPT_VARIABLE: &str = "FAKE_ECS_TRANSCRIPT";

/// One request the fake received, in arrival order (rejected ones included).
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// The API the `X-Amz-Target` prefix names: `"codedeploy"` for `CodeDeploy_20141006.`,
    /// `"ecs"` for `AmazonEC2ContainerServiceV20141113.` and for any other or no prefix.
    pub service: String,
    /// The operation named by `X-Amz-Target` without its API prefix (the whole header if it has
    /// another prefix; empty if there was none).
    pub operation: String,
    /// The JSON body; a JSON string holding the raw text if the body was not JSON.
    pub body: Value,
    /// The access key id of the SigV4 credential, when one could be read.
    pub access_key: Option<String>,
    /// The `X-Amz-Security-Token` header, when present.
    pub security_token: Option<String>,
}

/// A canned failure answered instead of the real reply (see [`FakeEcs::inject_faults`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// No fault: this call is answered normally (to fault a later call).
    Pass,
    /// HTTP 400 `{"__type":"ThrottlingException","message":"Rate exceeded"}` with
    /// `x-amzn-errortype: ThrottlingException`.
    Throttle,
    /// HTTP 503 with an HTML (non-JSON) body, as a load balancer in front of ECS answers.
    ServiceUnavailable,
    /// Any status, content type and body, e.g. an XML or HTML error page, a 204, or a 200 whose
    /// JSON lacks what the operation promises (see [`Fault::json`]).
    Raw {
        /// The HTTP status.
        status: u16,
        /// The `Content-Type` header.
        content_type: String,
        /// The body, sent as is.
        body: String,
    },
    /// A redirect (301, 302, 307, …) to `location` with the body `{}`, as a misconfigured proxy
    /// or endpoint answers.
    Redirect {
        /// The HTTP status.
        status: u16,
        /// The `Location` header.
        location: String,
    },
    /// The fake acts on the request, then the answer is lost on the way back: its status line,
    /// headers and half its body, then a TCP reset. Needs [`FakeEcs::start_hostile`].
    ResetMidBody,
    /// The fake acts on the request, then sends its status line, headers (with the real
    /// Content-Length) and half the body, and closes the connection cleanly. Needs
    /// [`FakeEcs::start_hostile`].
    TruncatedBody,
    /// The fake acts on the request, then holds the answer for `seconds` (or until the client
    /// gives up). Needs [`FakeEcs::start_hostile`].
    Stall {
        /// How long the answer is held.
        seconds: f64,
    },
    /// HTTP 200 with a chunked body of `bytes` bytes and no Content-Length; the fake does not
    /// act. Needs [`FakeEcs::start_hostile`].
    HugeBody {
        /// How many bytes are sent (fewer if the client hangs up).
        bytes: u64,
    },
}

impl Fault {
    /// HTTP 200 with this JSON body (e.g. `{}` to DescribeServices).
    pub fn json(body: Value) -> Fault {
        Fault::Raw {
            status: 200,
            content_type: "application/x-amz-json-1.1".into(),
            body: body.to_string(),
        }
    }

    /// Whether only the raw front can carry this fault out.
    fn needs_front(&self) -> bool {
        matches!(
            self,
            Fault::ResetMidBody
                | Fault::TruncatedBody
                | Fault::Stall { .. }
                | Fault::HugeBody { .. }
        )
    }
}

/// How a deployment created by `UpdateService` proceeds, one step per `DescribeServices` call
/// that names the service (see [`FakeEcs::set_rollout`]).
///
/// Every deployment of an `ECS`-controller service also has a service deployment record
/// (DescribeServiceDeployments) that follows it. The first six variants are for ROLLING
/// services (no `deploymentConfiguration.strategy`, or ROLLING): the record is PENDING at
/// UpdateService, IN_PROGRESS with lifecycleStage SCALE_UP from the first poll, SUCCESSFUL
/// (CLEAN_UP) on the poll the deployment completes, STOPPED (statusReason = rolloutStateReason)
/// on the poll it fails, ROLLBACK_IN_PROGRESS and then ROLLBACK_SUCCESSFUL for a circuit-breaker
/// rollback; with a desired count of 0 it is SUCCESSFUL on the first poll. The last four
/// variants are for BLUE_GREEN, LINEAR and CANARY services ([`Rollout::is_staged`]).
/// UpdateService answers 400 `FakeEcsScriptError` when the variant does not fit the strategy.
#[derive(Clone, Debug, PartialEq)]
pub enum Rollout {
    /// Each poll moves more tasks of the new deployment to RUNNING (and stops old ones); after
    /// `polls` polls all desired tasks run, rolloutState is COMPLETED, the old deployment is
    /// gone and the events say "deployment completed" and "has reached a steady state".
    Complete {
        /// Polls until the deployment is complete (0 counts as 1).
        polls: u32,
    },
    /// Like [`Rollout::Complete`] but no deployment of the service reports a rolloutState (old
    /// style); the old deployment disappears on the final poll.
    CompleteWithoutRolloutState {
        /// Polls until the old deployment is gone (0 counts as 1).
        polls: u32,
    },
    /// The new deployment has all its tasks running after `polls` polls, but the old deployment
    /// keeps draining (ACTIVE, rolloutState IN_PROGRESS) for `drain_polls` more polls.
    SlowDrain {
        /// Polls until all new tasks run (0 counts as 1).
        polls: u32,
        /// Further polls until the old deployment is gone.
        drain_polls: u32,
    },
    /// Each poll `tasks_per_poll` tasks of the new deployment start and stop (stoppedReason =
    /// `reason`, stopCode EssentialContainerExited, the essential container exits 1 with
    /// `reason`); failedTasks counts up; after `polls` polls rolloutState is FAILED with
    /// "ECS deployment circuit breaker: tasks failed to start." and an event says so.
    TasksFail {
        /// Polls until the deployment fails (0 counts as 1).
        polls: u32,
        /// Tasks that start and stop on each poll.
        tasks_per_poll: u32,
        /// The stoppedReason of each failed task and the reason of its essential container.
        reason: String,
    },
    /// Like [`Rollout::TasksFail`] (one task a poll), then the circuit breaker rolls back: the
    /// deployment becomes ACTIVE with rolloutState FAILED and a new PRIMARY deployment of the
    /// previous task definition appears (IN_PROGRESS, COMPLETED on the next poll).
    CircuitBreakerRollback {
        /// Polls until the deployment fails and the rollback starts (0 counts as 1).
        polls: u32,
    },
    /// Never progresses: pendingCount stays at the desired count, rolloutState IN_PROGRESS.
    Stuck,
    /// Like [`Rollout::Complete`], but following the wall clock instead of the polls, so
    /// that tools which poll at different paces meet the same rollout (for benchmarks): a
    /// poll a share `s` of `after` past UpdateService finds ⌊desired·s⌋ tasks of the new
    /// deployment RUNNING and as many old ones stopped; the first poll at or after `after`
    /// finds it complete. [`FakeEcs::rollout_due`] tells when that is.
    CompleteAfter {
        /// How long the rollout takes, from UpdateService.
        after: Duration,
    },
    /// Following the wall clock like [`Rollout::CompleteAfter`]: nothing moves (all desired
    /// tasks pending, as [`Rollout::Stuck`]) until `after` has passed since UpdateService;
    /// the first poll from then on starts one task that stops at once (stoppedReason =
    /// `reason`, the essential container exits 1 with `reason`) and fails the deployment as
    /// [`Rollout::TasksFail`] does (rolloutState FAILED, the circuit breaker's reason and
    /// event; no rollback).
    FailAfter {
        /// How long until the deployment fails, from UpdateService.
        after: Duration,
        /// The stoppedReason of the failed task and the reason of its essential container.
        reason: String,
    },
    /// For a BLUE_GREEN, LINEAR or CANARY service (`deploymentConfiguration.strategy`): one
    /// lifecycle stage per poll. UpdateService leaves the service deployment PENDING; then
    /// PRE_SCALE_UP (IN_PROGRESS from here on), SCALE_UP (all desired tasks of the new revision
    /// start and run), POST_SCALE_UP, TEST_TRAFFIC_SHIFT (test traffic weight of the new
    /// revision 100), POST_TEST_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT (BLUE_GREEN: production
    /// weight 100 in one poll; LINEAR: one poll per `linearConfiguration.stepPercent`, default
    /// 10, until 100; CANARY: `canaryConfiguration.canaryPercent`, default 5, for one poll, then
    /// 100), POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME for `bake_polls` polls, CLEAN_UP (the old
    /// tasks stop, the old `deployments[]` entry goes, the new one is COMPLETED), and on the next
    /// poll status SUCCESSFUL. The old revision's weights are the rest to 100. Until CLEAN_UP
    /// `deployments[]` holds the new PRIMARY (IN_PROGRESS) and the old ACTIVE entry. Events
    /// tell of the started tasks, each traffic shift, the start of bake time and the
    /// completion. The bake times in minutes of the configuration are not used: polls are the
    /// fake's clock.
    ///
    /// This is the default rollout of a BLUE_GREEN, LINEAR or CANARY service (`bake_polls: 1`).
    Staged {
        /// Polls in BAKE_TIME (0 counts as 1).
        bake_polls: u32,
    },
    /// Like [`Rollout::Staged`] up to BAKE_TIME, which lasts `after_polls` polls (0 counts as
    /// 1); on the next poll the first of `deploymentConfiguration.alarms.alarmNames` goes into
    /// ALARM (whatever `alarms.enable` says): alarms TRIGGERED with that name in
    /// triggeredAlarmNames, status ROLLBACK_IN_PROGRESS with rollback.reason "CloudWatch alarm
    /// NAME is in ALARM state.", traffic back on the old revision, the old deployment PRIMARY
    /// again and the new one ACTIVE with rolloutState FAILED; on the next poll
    /// ROLLBACK_SUCCESSFUL: the old deployment alone, COMPLETED, the new tasks stopped.
    ///
    /// UpdateService answers 400 `FakeEcsScriptError` if no alarm name is configured.
    AlarmInBake {
        /// Polls in BAKE_TIME before the alarm (0 counts as 1).
        after_polls: u32,
    },
    /// Like [`Rollout::Staged`] up to SCALE_UP, where each poll one task of the new revision
    /// starts and stops (stoppedReason "Essential container in task exited", the essential
    /// container exits 1), failedTasks counts up and the circuit breaker is MONITORING with
    /// failureCount n of `threshold`; on the poll of the `threshold`-th failure the circuit
    /// breaker is TRIGGERED, the new deployment's rolloutState FAILED and the service deployment
    /// ROLLBACK_IN_PROGRESS (rollback.reason "ECS deployment circuit breaker: tasks failed to
    /// start.", the old deployment PRIMARY again); on the next poll ROLLBACK_SUCCESSFUL as in
    /// [`Rollout::AlarmInBake`].
    CircuitBreakerInScaleUp {
        /// Failed tasks until the circuit breaker trips (0 counts as 1).
        threshold: u32,
    },
    /// Like [`Rollout::Staged`] (with `bake_polls`), but on the first poll that reaches `stage`
    /// the deployment stops advancing and shows a PAUSE lifecycle hook AWAITING_ACTION (with a
    /// `hookId`, `expiresAt` an hour on, timeoutAction ROLLBACK) until ContinueServiceDeployment:
    /// action CONTINUE makes the hook SUCCEEDED and the next poll goes on with the next stage;
    /// action ROLLBACK makes it FAILED and the deployment ROLLBACK_REQUESTED, then
    /// ROLLBACK_IN_PROGRESS and ROLLBACK_SUCCESSFUL on the next two polls (as
    /// [`Rollout::AlarmInBake`], with a rollback.reason naming the hook).
    ///
    /// `stage` is a lifecycle stage a hook can pause at: PRE_SCALE_UP, POST_SCALE_UP,
    /// TEST_TRAFFIC_SHIFT, POST_TEST_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT or
    /// POST_PRODUCTION_TRAFFIC_SHIFT; [`FakeEcs::set_rollout`] panics on any other.
    PauseAt {
        /// The lifecycle stage to pause at.
        stage: String,
        /// Polls in BAKE_TIME (0 counts as 1).
        bake_polls: u32,
    },
}

impl Rollout {
    /// Whether this rollout walks the lifecycle stages of a BLUE_GREEN, LINEAR or CANARY
    /// service (the other variants replace tasks as a ROLLING service does).
    pub fn is_staged(&self) -> bool {
        matches!(
            self,
            Rollout::Staged { .. }
                | Rollout::AlarmInBake { .. }
                | Rollout::CircuitBreakerInScaleUp { .. }
                | Rollout::PauseAt { .. }
        )
    }
}

impl Default for Rollout {
    /// `Rollout::Complete { polls: 2 }` (a BLUE_GREEN, LINEAR or CANARY service uses
    /// `Rollout::Staged { bake_polls: 1 }` instead).
    fn default() -> Self {
        Rollout::Complete { polls: 2 }
    }
}

/// How a task started by `RunTask` ends, one step per `DescribeTasks` call that names it
/// (see [`FakeEcs::set_task_runs`]). RunTask itself answers the task PROVISIONING.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum TaskRun {
    /// RUNNING on the first DescribeTasks, STOPPED on the second; every container exits 0,
    /// stoppedReason "Essential container in task exited", stopCode "EssentialContainerExited".
    #[default]
    Succeed,
    /// Like Succeed, but the named container exits with `exit_code` and `reason` (the others exit 0).
    ///
    /// RunTask answers 400 `FakeEcsScriptError` if the task definition has no such container.
    Exit {
        /// The name of the container (in the task definition) that fails.
        container: String,
        /// Its `exitCode`.
        exit_code: i64,
        /// Its `reason`.
        reason: String,
    },
    /// The task never starts: stopped on the second DescribeTasks without exit codes, stopCode
    /// "TaskFailedToStart", stoppedReason = reason (e.g. "CannotPullContainerError: ..."), containers carry `reason`.
    ///
    /// The first DescribeTasks finds it PENDING (never RUNNING, no `startedAt`).
    FailToStart {
        /// The task's stoppedReason and every container's reason.
        reason: String,
    },
    /// Stays RUNNING forever.
    NeverStops,
}

/// The lifecycle events of a CodeDeploy deployment to ECS, in the order they run (what
/// `GetDeploymentTarget` lists as `ecsTarget.lifecycleEvents`).
pub const ECS_LIFECYCLE_EVENTS: [&str; 8] = [
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
];

/// How a CodeDeploy deployment created by `CreateDeployment` proceeds, one step per
/// `GetDeployment` call of its id (see [`FakeEcs::set_codedeploy_runs`]).
///
/// CreateDeployment leaves the deployment `Created`, every lifecycle event (see
/// [`ECS_LIFECYCLE_EVENTS`]) `Pending` and the target `Pending`. The first GetDeployment makes
/// it `InProgress` (startTime). What the events do to the ECS service: when **Install** starts,
/// a REPLACEMENT task set (status ACTIVE, its own `ecs-svc/…` id, the AppSpec's task
/// definition, the service's desired count) appears in the service's `taskSets` with its tasks
/// PROVISIONING (startedBy = the task set id, group `service:NAME`), so stabilityStatus
/// STABILIZING; when Install succeeds they are RUNNING (STEADY_STATE). When **AllowTraffic**
/// succeeds the replacement becomes PRIMARY (trafficWeight 100; the original ACTIVE, 0) and
/// the service's `taskDefinition` is the new one. When the deployment **succeeds** the
/// original task set drains: its tasks stop and it goes away. When it fails or is stopped
/// without a rollback, the replacement's tasks stop and it goes away at once, and the original
/// is PRIMARY again; with a rollback that is left to the rollback deployment (see
/// [`FakeEcs::set_codedeploy_runs`]).
///
/// A failed event has `diagnostics`; the events after it are `Skipped`. The deployment's
/// `rollbackInfo` and the rollback deployment follow a failure when the group (or the
/// CreateDeployment's `autoRollbackConfiguration`) rolls back on DEPLOYMENT_FAILURE.
#[derive(Clone, Debug, PartialEq)]
pub enum CodeDeployRun {
    /// Succeeds. On the k-th GetDeployment (k = 1..=`polls`) the deployment is `InProgress`
    /// with event number 1 + ⌊7·(k−1)/`polls`⌋ (0-based in [`ECS_LIFECYCLE_EVENTS`]) InProgress
    /// and all before it Succeeded; on call `polls`+1 every event has Succeeded and so has the
    /// deployment (completeTime). With `polls: 4`: Install, AfterInstall, AfterAllowTestTraffic,
    /// AllowTraffic InProgress on calls 1 to 4, Succeeded on call 5.
    ///
    /// If the group waits for rerouting (`DeploymentGroupOptions::wait_for_reroute`), the call
    /// that would start BeforeAllowTraffic or anything after it instead leaves the deployment
    /// `Ready` (target `Ready`): the events up to AfterAllowTestTraffic Succeeded,
    /// BeforeAllowTraffic Pending. That call does not count, and the deployment stays Ready
    /// until `ContinueDeployment` (deploymentWaitType READY_WAIT) makes it InProgress again;
    /// the next calls go on where it stopped.
    ///
    /// This is the default (`polls: 4`).
    Succeed {
        /// InProgress GetDeployment calls before the one that succeeds (0 counts as 1).
        polls: u32,
    },
    /// Walks like `Succeed { polls: 4 }` until the call that would finish `event`: there
    /// `event` is Failed with diagnostics {errorCode ScriptFailed, scriptName: the AppSpec's
    /// hook function for the event or "N/A", message: the last line of `message`, logTail:
    /// all of `message` (the hook's log, which may have several lines)}, the later
    /// events are Skipped, the target and the deployment are Failed with errorInformation
    /// {code: HOOK_EXECUTION_FAILURE for a hook event (BeforeInstall, AfterInstall,
    /// AfterAllowTestTraffic, BeforeAllowTraffic, AfterAllowTraffic), ECS_UPDATE_ERROR for
    /// Install, ELASTIC_LOAD_BALANCING_INVALID for AllowTestTraffic and AllowTraffic; message:
    /// "The deployment failed because the {event} lifecycle event failed: {message}"}. With
    /// `wait_for_reroute`, an event from BeforeAllowTraffic on fails only after
    /// ContinueDeployment.
    ///
    /// [`FakeEcs::set_codedeploy_runs`] panics if `event` is not in [`ECS_LIFECYCLE_EVENTS`].
    FailAt {
        /// The lifecycle event that fails.
        event: String,
        /// The hook's log: its last line is the diagnostics' message and the end of the error
        /// message; all of it is the logTail.
        message: String,
    },
    /// The replacement's tasks cannot start. Calls 1 and 2: InProgress, BeforeInstall
    /// Succeeded, Install InProgress; the replacement task set is created and on each of the
    /// two calls `desired` of its tasks start and stop at once (stoppedReason = `reason`,
    /// stopCode EssentialContainerExited, the essential container exits 1 with `reason`,
    /// startedBy = the task set id). Call 3: Install Failed (diagnostics errorCode
    /// UnknownError), the deployment Failed with errorInformation {code: ECS_UPDATE_ERROR,
    /// message: "The ECS service cannot reach a steady state. Error information: (service
    /// NAME, taskSet ID) tasks failed to start: {reason}"}.
    TasksFail {
        /// The stoppedReason of each task and the reason of its essential container.
        reason: String,
    },
    /// InProgress forever from the first call: BeforeInstall Succeeded, Install InProgress, the
    /// replacement task set STABILIZING with its tasks PROVISIONING, until StopDeployment.
    Stuck,
}

impl Default for CodeDeployRun {
    /// `CodeDeployRun::Succeed { polls: 4 }`.
    fn default() -> Self {
        CodeDeployRun::Succeed { polls: 4 }
    }
}

/// How a CodeDeploy deployment group is configured (see [`FakeEcs::add_deployment_group`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeploymentGroupOptions {
    /// `blueGreenDeploymentConfiguration.deploymentReadyOption` is {actionOnTimeout:
    /// STOP_DEPLOYMENT, waitTimeInMinutes: 60}: deployments wait in `Ready` after the test
    /// traffic until ContinueDeployment (the fake never times the wait out). Otherwise
    /// {CONTINUE_DEPLOYMENT, 0}.
    pub wait_for_reroute: bool,
    /// `autoRollbackConfiguration` is {enabled: true, events: [DEPLOYMENT_FAILURE,
    /// DEPLOYMENT_STOP_ON_REQUEST]}: a failed deployment, and a stopped one unless
    /// StopDeployment says `autoRollbackEnabled: false`, is rolled back. Otherwise {enabled:
    /// false, events: []}.
    pub auto_rollback: bool,
    /// The group's `deploymentConfigName`; `None` means `CodeDeployDefault.ECSAllAtOnce`.
    pub deployment_config_name: Option<String>,
}

/// A running fake ECS endpoint. Dropping it stops the server.
pub struct FakeEcs {
    server: MockServer,
    state: Arc<Mutex<State>>,
    /// The raw front of [`FakeEcs::start_hostile`], which clients talk to instead.
    front: Option<front::Front>,
}

/// The wiremock responder: every request goes to the shared [`State`].
struct Responder {
    state: Arc<Mutex<State>>,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let reply = lock(&self.state).handle(request);
        let mut template = ResponseTemplate::new(reply.status);
        for (name, value) in &reply.headers {
            template = template.insert_header(name.as_str(), value.as_str());
        }
        template.set_body_raw(reply.body.into_bytes(), &reply.content_type)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeEcs {
    /// Start on 127.0.0.1 with a random free port.
    pub async fn start() -> FakeEcs {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 for the fake ECS");
        FakeEcs::start_on(listener).await
    }

    /// Start on a listener the caller bound (the demo uses a fixed port).
    ///
    /// When the environment variable [`TRANSCRIPT_VARIABLE`] names a file, every request the
    /// fake answers is appended to it (see [`FakeEcs::set_transcript`]).
    pub async fn start_on(listener: TcpListener) -> FakeEcs {
        let server = MockServer::builder()
            .listener(listener)
            .disable_request_recording()
            .start()
            .await;
        let mut state = State::new();
        state.transcript = std::env::var_os(TRANSCRIPT_VARIABLE)
            .filter(|path| !path.is_empty())
            .map(PathBuf::from);
        let state = Arc::new(Mutex::new(state));
        Mock::given(any())
            .respond_with(Responder {
                state: Arc::clone(&state),
            })
            .mount(&server)
            .await;
        FakeEcs {
            server,
            state,
            front: None,
        }
    }

    /// Start on 127.0.0.1 behind a raw TCP front that can also break connections: resets,
    /// truncated and huge bodies, stalls (see [`Fault`]). [`FakeEcs::uri`] is the front's.
    pub async fn start_hostile() -> FakeEcs {
        let mut fake = FakeEcs::start().await;
        fake.front = Some(front::Front::start(*fake.server.address()).await);
        fake
    }

    /// The endpoint to pass as `--endpoint-url`, e.g. `http://127.0.0.1:41234`; CodeDeploy
    /// clients use it too (e.g. as `AWS_ENDPOINT_URL_CODEDEPLOY`).
    pub fn uri(&self) -> String {
        match &self.front {
            Some(front) => front.uri(),
            None => self.server.uri(),
        }
    }

    /// Append `text` to every free-text field the fake answers with (`message`, `reason`,
    /// `stoppedReason`, `rolloutStateReason`, `statusReason`), as someone allowed to call
    /// `ecs:StopTask` may choose a stoppedReason: for tests of what the client prints.
    pub fn inject_text(&self, text: &str) {
        self.state().injected_text = Some(text.to_string());
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Create an empty cluster (nothing happens if it exists).
    pub fn add_cluster(&self, name: &str) {
        self.state().add_cluster(name);
    }

    /// Seed a revision as if RegisterTaskDefinition had been called with `input` (a task
    /// definition without read-only keys) and these tags; returns its ARN.
    ///
    /// Panics if RegisterTaskDefinition would refuse `input`.
    pub fn seed_task_definition(&self, input: Value, tags: Vec<(String, String)>) -> String {
        self.state().seed_task_definition(input, tags)
    }

    /// A service running `task_definition_arn` (an ARN or `family:revision`) with `desired`
    /// tasks all RUNNING, one PRIMARY deployment COMPLETED and a few old events. Creates the
    /// cluster if needed; replaces a service of the same name.
    ///
    /// Panics if the task definition is unknown.
    pub fn add_service(&self, cluster: &str, name: &str, task_definition_arn: &str, desired: u32) {
        self.state()
            .add_service(cluster, name, task_definition_arn, desired);
    }

    /// Mark a service INACTIVE (deleted): its tasks stop and its deployments go away.
    ///
    /// Panics if the service is unknown.
    pub fn deactivate_service(&self, cluster: &str, name: &str) {
        self.state().deactivate_service(cluster, name);
    }

    /// How the NEXT deployment of this service (created by UpdateService) proceeds; the ones
    /// after it use the default, `Rollout::Complete { polls: 2 }` (`Rollout::Staged
    /// { bake_polls: 1 }` for a BLUE_GREEN, LINEAR or CANARY service).
    ///
    /// Panics if the service is unknown or a [`Rollout::PauseAt`] names a stage it cannot
    /// pause at. Whether the rollout fits the service's strategy is checked when UpdateService
    /// starts the deployment (400 `FakeEcsScriptError` if not).
    pub fn set_rollout(&self, cluster: &str, service: &str, rollout: Rollout) {
        self.set_rollouts(cluster, service, vec![rollout]);
    }

    /// How the next deployments of this service proceed, in order (e.g. a failing deploy and
    /// then the rollback); later ones use the default.
    ///
    /// Panics as [`FakeEcs::set_rollout`] does.
    pub fn set_rollouts(&self, cluster: &str, service: &str, rollouts: Vec<Rollout>) {
        self.state().set_rollouts(cluster, service, rollouts);
    }

    /// How the next tasks started by RunTask end, in order (later ones use the default, TaskRun::Succeed).
    ///
    /// Each successful RunTask call takes one entry and gives it to every task it starts
    /// (`count` > 1 shares it); a refused RunTask takes none. Replaces what was set before.
    pub fn set_task_runs(&self, runs: Vec<TaskRun>) {
        self.state().set_task_runs(runs);
    }

    /// The next calls of `operation` (e.g. `"DescribeServices"` or the CodeDeploy
    /// `"GetDeployment"`) answer these faults first, in order, without touching the state
    /// (well-signed requests only). The name is matched in both APIs (only `TagResource`,
    /// `UntagResource` and `ListTagsForResource` exist in both).
    ///
    /// Panics if a fault needs the raw front and the fake was not started with
    /// [`FakeEcs::start_hostile`].
    pub fn inject_faults(&self, operation: &str, faults: Vec<Fault>) {
        assert!(
            self.front.is_some() || !faults.iter().any(Fault::needs_front),
            "this fault needs FakeEcs::start_hostile()"
        );
        self.state().inject_faults(operation, faults);
    }

    /// From now on every call of `operation` (e.g. `"ListServiceDeployments"`, or the CodeDeploy
    /// `"ListDeployments"`) answers HTTP 400 `AccessDeniedException` with the message IAM gives
    /// a principal whose policy does not allow `ecs:{operation}` (`codedeploy:{operation}`, on
    /// the deployment group or application the request names), without touching the state
    /// (well-signed requests only; injected faults come first). For clients that must fall back
    /// when an old policy refuses new APIs. The name is matched in both APIs.
    pub fn deny(&self, operation: &str) {
        self.state().deny(operation);
    }

    /// Append every request answered from now on to `path` (instead of the file named by
    /// [`TRANSCRIPT_VARIABLE`], if any), one JSON line each: `{"service": "ecs" or
    /// "codedeploy", "operation" (without the API prefix),
    /// "request": <body>, "status", "response": <body, or null when not JSON>, "fault": <true
    /// when an injected Fault or deny() made or broke the answer>}`. The file is opened for
    /// appending and each line written whole, so processes can share it.
    pub fn set_transcript(&self, path: impl Into<PathBuf>) {
        self.state().transcript = Some(path.into());
    }

    /// The deployment controller of a service: `"ECS"` (the default), `"CODE_DEPLOY"` or
    /// `"EXTERNAL"`, rendered as `deploymentController`. A CODE_DEPLOY or EXTERNAL service
    /// shows `deployments: []` and one PRIMARY task set instead, and UpdateService refuses a
    /// taskDefinition or forceNewDeployment for it (400 InvalidParameterException).
    ///
    /// Panics if the service or the controller is unknown.
    pub fn set_deployment_controller(&self, cluster: &str, service: &str, kind: &str) {
        self.state()
            .set_deployment_controller(cluster, service, kind);
    }

    /// Merge these keys into the service's `deploymentConfiguration` (as UpdateService's
    /// `deploymentConfiguration` does), e.g. `{"strategy": "CANARY", "canaryConfiguration":
    /// {"canaryPercent": 10.0}, "alarms": {"alarmNames": ["web-5xx"], "enable": true,
    /// "rollback": true}}`. No `strategy` means ROLLING.
    ///
    /// Panics if the service is unknown, `config` is not an object or names an unknown
    /// strategy.
    pub fn set_deployment_configuration(&self, cluster: &str, service: &str, config: Value) {
        self.state()
            .set_deployment_configuration(cluster, service, config);
    }

    /// Merge raw keys into the service's description, e.g. `{"loadBalancers": [{"targetGroupArn":
    /// …, "containerName": "app", "containerPort": 80}], "networkConfiguration": {…},
    /// "platformVersion": "LATEST", "launchType": "FARGATE"}`; a null value removes a key of
    /// the template (e.g. `"launchType": null` next to a `capacityProviderStrategy`). The task
    /// sets of a CODE_DEPLOY or EXTERNAL service show the service's `launchType`,
    /// `capacityProviderStrategy`, `platformVersion`, `networkConfiguration`, `loadBalancers`
    /// and `serviceRegistries`, and the tasks it starts its launch type. Later calls add to
    /// earlier ones.
    ///
    /// Panics if the service is unknown, `fields` is not an object or names a key the fake
    /// computes (`serviceArn`, `status`, `taskDefinition`, `deployments`, `taskSets`, `events`,
    /// `deploymentConfiguration`, `deploymentController`, the counts, …).
    pub fn set_service_fields(&self, cluster: &str, service: &str, fields: Value) {
        self.state().set_service_fields(cluster, service, fields);
    }

    /// Create a CodeDeploy application with computePlatform ECS (nothing happens if it exists).
    pub fn add_codedeploy_application(&self, name: &str) {
        self.state().add_codedeploy_application(name);
    }

    /// Create (or replace) the blue/green deployment group `group` of `application` for the
    /// service `service` of `cluster`: deploymentStyle BLUE_GREEN WITH_TRAFFIC_CONTROL, the
    /// target groups `{service}-blue` (the original task set's) and `{service}-green` (the
    /// replacement's) with a production and a test listener of the load balancer
    /// `{service}-alb`, the service role `CodeDeployServiceRoleForECS`, and `options`.
    /// Its deployments take the runs of [`FakeEcs::set_codedeploy_runs`].
    ///
    /// Panics if the application or the service is unknown, or the service's deployment
    /// controller is not CODE_DEPLOY (see [`FakeEcs::set_deployment_controller`]).
    pub fn add_deployment_group(
        &self,
        application: &str,
        group: &str,
        cluster: &str,
        service: &str,
        options: DeploymentGroupOptions,
    ) {
        self.state()
            .add_deployment_group(application, group, cluster, service, options);
    }

    /// How the next deployments of this deployment group proceed, in order (each successful
    /// CreateDeployment takes one; later ones use the default, `CodeDeployRun::Succeed { polls:
    /// 4 }`). Replaces what was set before.
    ///
    /// A deployment that fails, or is stopped, with a rollback gets `rollbackInfo`
    /// {rollbackDeploymentId, rollbackMessage}, and a rollback deployment (creator
    /// codeDeployRollback, `rollbackInfo.rollbackTriggeringDeploymentId`) of the same group
    /// appears, `Created`. The GetDeployment calls of the rollback's own id move it: call 1
    /// InProgress (the events before AllowTraffic Skipped, AllowTraffic InProgress, the original
    /// task set PRIMARY again with the production traffic); call 2 Succeeded (AllowTraffic
    /// Succeeded, AfterAllowTraffic Skipped, the replacement's tasks stopped and the task set
    /// gone). Until then the group has an active deployment (CreateDeployment answers
    /// DeploymentLimitExceededException).
    ///
    /// Panics if the group is unknown or a [`CodeDeployRun::FailAt`] names an unknown event.
    pub fn set_codedeploy_runs(&self, application: &str, group: &str, runs: Vec<CodeDeployRun>) {
        self.state().codedeploy.set_runs(application, group, runs);
    }

    /// Every CodeDeploy deployment as GetDeployment renders its `deploymentInfo` now (without
    /// advancing it), newest first.
    pub fn codedeploy_deployments(&self) -> Vec<Value> {
        self.state().codedeploy_deployments_json()
    }

    /// The AppSpec a CodeDeploy deployment was created with, parsed (GetDeployment shows only
    /// its sha256); `null` for a rollback deployment.
    ///
    /// Panics if the deployment is unknown.
    pub fn appspec_of(&self, deployment_id: &str) -> Value {
        self.state()
            .codedeploy
            .expect(deployment_id)
            .appspec
            .clone()
    }

    /// The ECS target of a CodeDeploy deployment as GetDeploymentTarget renders its
    /// `deploymentTarget` now.
    ///
    /// Panics if the deployment is unknown.
    pub fn codedeploy_target(&self, deployment_id: &str) -> Value {
        self.state().deployment_target_json(deployment_id)
    }

    /// Leave `currentServiceDeployment` out of this service's descriptions (for clients that
    /// must find their deployment with ListServiceDeployments).
    ///
    /// Panics if the service is unknown.
    pub fn omit_current_service_deployment(&self, cluster: &str, service: &str) {
        self.state()
            .omit_current_service_deployment(cluster, service);
    }

    /// The service deployments of a service as DescribeServiceDeployments renders them, newest
    /// first.
    ///
    /// Panics if the service is unknown.
    pub fn service_deployments(&self, cluster: &str, service: &str) -> Vec<Value> {
        self.state().service_deployments_json(cluster, service)
    }

    /// Accept this access key id too (e.g. keys a fake STS hands out).
    pub fn accept_access_key(&self, access_key: &str) {
        self.state().accept_access_key(access_key);
    }

    /// Set the fake clock: the next request happens at `epoch_seconds` (+1 s per request).
    /// The default starts at 1700000000 (November 2023).
    pub fn set_epoch(&self, epoch_seconds: f64) {
        self.state().set_epoch(epoch_seconds);
    }

    /// When the newest [`Rollout::CompleteAfter`] or [`Rollout::FailAfter`] deployment of this
    /// service ends (completes or fails), as time since the Unix epoch by the wall clock: the
    /// moment a tool that watched it could know at the earliest. `None` if no timed rollout
    /// started.
    ///
    /// Panics if the service is unknown.
    pub fn rollout_due(&self, cluster: &str, service: &str) -> Option<Duration> {
        let state = self.state();
        state.services[state.expect_service(cluster, service)].rollout_due
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// How many requests named `operation` (rejected ones included), in either API (see
    /// [`FakeEcs::count_of`] for the three names both have).
    pub fn count(&self, operation: &str) -> usize {
        self.state()
            .requests
            .iter()
            .filter(|r| r.operation == operation)
            .count()
    }

    /// How many requests named `operation` of the API `service` (`"ecs"` or `"codedeploy"`,
    /// as in [`Recorded::service`]), rejected ones included.
    pub fn count_of(&self, service: &str, operation: &str) -> usize {
        self.state()
            .requests
            .iter()
            .filter(|r| r.service == service && r.operation == operation)
            .count()
    }

    /// The service as DescribeServices would return it now (without advancing its rollout).
    ///
    /// Panics if the service is unknown.
    pub fn service(&self, cluster: &str, name: &str) -> Value {
        self.state().service_json(cluster, name)
    }

    /// The stored description (the `taskDefinition` object) of a revision, by ARN or
    /// `family:revision`.
    ///
    /// Panics if the revision is unknown.
    pub fn task_definition(&self, arn_or_family_rev: &str) -> Value {
        self.state().task_definition_json(arn_or_family_rev)
    }

    /// The tags of a revision, by ARN or `family:revision`, as `(key, value)` pairs.
    ///
    /// Panics if the revision is unknown.
    pub fn task_definition_tags(&self, arn_or_family_rev: &str) -> Vec<(String, String)> {
        self.state().task_definition_tags(arn_or_family_rev)
    }

    /// The ACTIVE revisions of exactly this family, ascending.
    pub fn active_revisions(&self, family: &str) -> Vec<u32> {
        self.state().active_revisions(family)
    }

    /// Every task of a cluster as DescribeTasks would return it, in creation order.
    pub fn tasks(&self, cluster: &str) -> Vec<Value> {
        self.state().tasks_json(cluster)
    }
}
