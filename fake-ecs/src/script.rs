//! What a test scripts: how the deployments UpdateService starts proceed ([`Rollout`]), how
//! the tasks RunTask starts end ([`TaskRun`]), how CodeDeploy deployments proceed
//! ([`CodeDeployRun`], [`DeploymentGroupOptions`]), and the failures answered instead of the real
//! reply ([`Fault`]). The crate root re-exports all of it.

use std::time::Duration;

use serde_json::Value;

/// A canned failure answered instead of the real reply (see
/// [`FakeEcs::inject_faults`](crate::FakeEcs::inject_faults)).
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
    /// headers and half its body, then a TCP reset. Needs
    /// [`FakeEcs::start_hostile`](crate::FakeEcs::start_hostile).
    ResetMidBody,
    /// The fake acts on the request, then sends its status line, headers (with the real
    /// Content-Length) and half the body, and closes the connection cleanly. Needs
    /// [`FakeEcs::start_hostile`](crate::FakeEcs::start_hostile).
    TruncatedBody,
    /// The fake acts on the request, then holds the answer for `seconds` (or until the client
    /// gives up). Needs [`FakeEcs::start_hostile`](crate::FakeEcs::start_hostile).
    Stall {
        /// How long the answer is held.
        seconds: f64,
    },
    /// HTTP 200 with a chunked body of `bytes` bytes and no Content-Length; the fake does not
    /// act. Needs [`FakeEcs::start_hostile`](crate::FakeEcs::start_hostile).
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
    pub(crate) fn needs_front(&self) -> bool {
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
/// that names the service (see [`FakeEcs::set_rollout`](crate::FakeEcs::set_rollout)).
///
/// Every deployment of an `ECS`-controller service also has a service deployment record
/// (DescribeServiceDeployments) that follows it. The variants before [`Rollout::Staged`] are
/// for ROLLING services (no `deploymentConfiguration.strategy`, or ROLLING): the record is
/// PENDING at UpdateService, IN_PROGRESS with lifecycleStage SCALE_UP from the first poll,
/// SUCCESSFUL (CLEAN_UP) on the poll the deployment completes (or earlier, see early success
/// below), STOPPED (statusReason = rolloutStateReason) on the poll it fails,
/// ROLLBACK_IN_PROGRESS and then ROLLBACK_SUCCESSFUL for a circuit-breaker rollback; with a
/// desired count of 0 it is SUCCESSFUL on the first poll. The last four variants are for
/// BLUE_GREEN, LINEAR and CANARY services ([`Rollout::is_staged`]). UpdateService answers 400
/// `FakeEcsScriptError` when the variant does not fit the strategy.
///
/// The record's `deploymentCircuitBreaker.threshold` is computed when the deployment begins
/// from `deploymentConfiguration.deploymentCircuitBreaker.thresholdConfiguration` and the
/// desired count, as the model documents it: COUNT: `value`; BOUNDED_PERCENT: `value` % of the
/// desired count (rounded up), at least 3 and at most 200; UNBOUNDED_PERCENT: `value` % of the
/// desired count (rounded up), not bounded; without one BOUNDED_PERCENT 50 (half the desired
/// count, 3 to 200). Its `failureCount` is the new deployment's `failedTasks`, except that
/// when a task of the new revision turns RUNNING (healthy), the count starts again from 0 —
/// unless `resetOnHealthyTask` is false (see [`Rollout::FlakyTasks`]).
///
/// **Early success** (a ROLLING rollout whose deploymentConfiguration has
/// `earlySuccessCriteria {enable: true, healthyPercent, sourceServiceRevisionCleanup}`): on
/// the first poll after which the new deployment runs at least `healthyPercent` % of its
/// desired tasks (rounded up; 0 % is the first poll), the service deployment is SUCCESSFUL
/// (lifecycleStage CLEAN_UP; the fake models no bake for ROLLING, so there is none to wait
/// for), whatever the variant (one that never runs a task never gets there; a deployment
/// that failed or is rolled back does not). With `sourceServiceRevisionCleanup: BLOCKING`
/// every task of the older deployments stops and their `deployments[]` entries go on that
/// same poll, before SUCCESSFUL; with `DEFERRED` they stay (ACTIVE, rolloutState as before)
/// and drain as the variant says. Either way the new deployment goes on starting tasks as the
/// variant says, its rolloutState IN_PROGRESS until it completes (COMPLETED, "has reached a
/// steady state"): only the service deployment is early. The record's counts are frozen at
/// SUCCESSFUL, as for any finished service deployment.
#[derive(Clone, Debug, PartialEq)]
pub enum Rollout {
    /// Each poll moves more tasks of the new deployment to RUNNING (and stops old ones); after
    /// `polls` polls all desired tasks run, rolloutState is COMPLETED, the old deployment is
    /// gone and the events say "deployment completed" and "has reached a steady state".
    ///
    /// Poll k of `polls` finds ⌊desired·k/`polls`⌋ new tasks RUNNING and as many old ones
    /// stopped. With early success criteria (see above) the service deployment is SUCCESSFUL
    /// on the first poll where that reaches `healthyPercent`: e.g. 4 desired tasks, `polls:
    /// 4`, `healthyPercent: 50` make it SUCCESSFUL on poll 2, with (DEFERRED) 2 new and 2
    /// old tasks running and both `deployments[]` entries there, or (BLOCKING) the 2 old
    /// tasks stopped and the old entry gone; the new deployment completes on poll 4.
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
    ///
    /// Where the deploymentConfiguration sets a circuit breaker `thresholdConfiguration`,
    /// the threshold decides instead of `polls`: the deployment fails on the poll whose
    /// failures reach the service deployment's `deploymentCircuitBreaker.threshold`.
    TasksFail {
        /// Polls until the deployment fails (0 counts as 1), unless a `thresholdConfiguration`
        /// decides.
        polls: u32,
        /// Tasks that start and stop on each poll.
        tasks_per_poll: u32,
        /// The stoppedReason of each failed task and the reason of its essential container.
        reason: String,
    },
    /// Like [`Rollout::TasksFail`] (one task a poll; a `thresholdConfiguration` decides as
    /// there), then the circuit breaker rolls back: the deployment becomes ACTIVE with
    /// rolloutState FAILED and a new PRIMARY deployment of the previous task definition
    /// appears (IN_PROGRESS, COMPLETED on the next poll).
    CircuitBreakerRollback {
        /// Polls until the deployment fails and the rollback starts (0 counts as 1), unless a
        /// `thresholdConfiguration` decides.
        polls: u32,
    },
    /// Tasks of the new deployment alternately fail and turn healthy, one a poll: on odd
    /// polls one starts and stops at once (as in [`Rollout::TasksFail`], with `reason`;
    /// failedTasks counts it), on even polls one starts and stays RUNNING, and one old task
    /// stops. A healthy task sets the circuit breaker's failureCount back to 0 unless
    /// `deploymentCircuitBreaker.resetOnHealthyTask` is false. On the poll where failureCount
    /// reaches the threshold the circuit breaker trips: rolloutState FAILED and the service
    /// deployment STOPPED as for TasksFail, or, where `deploymentCircuitBreaker.rollback` is
    /// true, a rollback as in [`Rollout::CircuitBreakerRollback`]. Once all desired tasks run
    /// the deployment completes as [`Rollout::Complete`] does (after 2·desired polls, if the
    /// circuit breaker never trips).
    ///
    /// E.g. 3 desired tasks and `thresholdConfiguration {type: COUNT, value: 2}`: with the
    /// default reset the failureCount goes 1, 0, 1, 0, 1, 0 and the deployment completes on
    /// poll 6; with `resetOnHealthyTask: false` it goes 1, 1, 2 and trips on poll 3.
    FlakyTasks {
        /// The stoppedReason of each failed task and the reason of its essential container.
        reason: String,
    },
    /// Never progresses: pendingCount stays at the desired count, rolloutState IN_PROGRESS.
    Stuck,
    /// Like [`Rollout::Complete`], but following the wall clock instead of the polls, so
    /// that tools which poll at different paces meet the same rollout (for benchmarks): a
    /// poll a share `s` of `after` past UpdateService finds ⌊desired·s⌋ tasks of the new
    /// deployment RUNNING and as many old ones stopped; the first poll at or after `after`
    /// finds it complete. [`FakeEcs::rollout_due`](crate::FakeEcs::rollout_due) tells when that is.
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
    /// POST_PRODUCTION_TRAFFIC_SHIFT; [`FakeEcs::set_rollout`](crate::FakeEcs::set_rollout) panics
    /// on any other.
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

/// How a task started by `RunTask` ends, one step per `DescribeTasks` call that names it (see
/// [`FakeEcs::set_task_runs`](crate::FakeEcs::set_task_runs)). RunTask itself answers the task
/// PROVISIONING.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum TaskRun {
    /// RUNNING on the first DescribeTasks, STOPPED on the second; every container exits 0,
    /// stoppedReason "Essential container in task exited", stopCode "EssentialContainerExited".
    #[default]
    Succeed,
    /// Like Succeed, but the named container exits with `exit_code` and `reason` (the others exit
    /// 0).
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
    /// "TaskFailedToStart", stoppedReason = reason (e.g. "CannotPullContainerError: ..."),
    /// containers carry `reason`.
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

/// How a CodeDeploy deployment created by `CreateDeployment` proceeds, one step per `GetDeployment`
/// call of its id (see [`FakeEcs::set_codedeploy_runs`](crate::FakeEcs::set_codedeploy_runs)).
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
/// [`FakeEcs::set_codedeploy_runs`](crate::FakeEcs::set_codedeploy_runs)).
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
    /// [`FakeEcs::set_codedeploy_runs`](crate::FakeEcs::set_codedeploy_runs) panics if `event` is
    /// not in [`ECS_LIFECYCLE_EVENTS`].
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

/// How a CodeDeploy deployment group is configured (see
/// [`FakeEcs::add_deployment_group`](crate::FakeEcs::add_deployment_group)).
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
