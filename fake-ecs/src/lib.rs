//! A stateful fake of the Amazon ECS JSON-1.1 API, served by wiremock on 127.0.0.1, which
//! also answers the AWS CodeDeploy API for ECS services.
//!
//! [`FakeEcs`] holds clusters, services, deployments, task definitions and tasks, answers
//! every request by its `X-Amz-Target` header in the shape real ECS uses (bodies start from
//! the templates in `fixtures/ecs/`), checks the shape of the SigV4 `Authorization` header,
//! advances a scripted [`Rollout`] each time `DescribeServices` names a service, and a
//! scripted [`TaskRun`] each time `DescribeTasks` names a task started by `RunTask`. Services
//! ECS manages in Express Mode (see [`FakeEcs::add_express_service`]) are deployed with
//! `UpdateExpressGatewayService`.
//!
//! Requests whose `X-Amz-Target` starts with `CodeDeploy_20141006.` (signed for the service
//! `codedeploy`) go to the CodeDeploy side: applications, deployment groups of CODE_DEPLOY
//! services, and blue/green deployments that advance one step of a scripted
//! [`CodeDeployRun`] per `GetDeployment` call and replace the service's task set as they go.
//!
//! Requests whose `X-Amz-Target` starts with `Logs_20140328.` (signed for `logs`) go to
//! CloudWatch Logs: log groups and streams that tests fill (see [`FakeEcs::put_log_lines`])
//! and that failing tasks write to through the `awslogs` driver (see
//! [`FakeEcs::set_failing_task_log`]), read with `GetLogEvents` and `DescribeLogGroups`. Those whose `X-Amz-Target` starts with
//! `AmazonEC2ContainerRegistry_V20150921.` (signed for `ecr`) go to ECR: the repositories
//! and images of the registry of [`ACCOUNT`] (see [`FakeEcs::add_ecr_image`]), read with
//! `DescribeImages`.
//!
//! Everything is deterministic: ids come from counters and timestamps from a fake clock that
//! ticks once per request (see [`FakeEcs::set_epoch`]), never from the wall clock — except the
//! progress of the two timed rollouts, [`Rollout::CompleteAfter`] and [`Rollout::FailAfter`],
//! which benchmarks use so that tools polling at different paces meet the same rollout, and
//! ECS's request throttling, off unless [`FakeEcs::throttle_like_ecs`] turns it on: token
//! buckets refilled by the wall clock, as ECS's are.
//!
//! The modules are layered. Each imports only from the layers below its own and, within its
//! layer, from those named before it, so no two import each other:
//!
//! 1. leaves: `account` (account id, region, credentials, ARNs), `script` (the public scripts
//!    and faults), `sha256`, `front` (the raw TCP front), `auth` (the SigV4 shape check),
//!    `throttle` (ECS's token buckets per category of actions);
//! 2. the data model: `deployment_configuration` (what a deploymentConfiguration asks of a
//!    ROLLING deployment: early success, the circuit breaker's threshold and reset),
//!    `service_deployment` (the records of service deployments, strategies), `express` (an
//!    Express Mode service's configurations, and the task definition ECS makes of a primary
//!    container), `logs` (CloudWatch Logs: groups, streams, events, and what the `awslogs` driver of a
//!    failing container writes), `ecr` (ECR repositories and images),
//!    `model` (clock, ids, task definitions, tasks and the logs they write to, services, and
//!    their ECS-shaped JSON);
//! 3. what happens to it: `rollout` (what one poll does to a service), `codedeploy`
//!    (CodeDeploy's groups, and deployments that replace a service's task set);
//! 4. `state`: `State`, everything the fake knows, and how [`FakeEcs`] seeds and reads it;
//! 5. the operations on it: `ops` (ECS, and the input checks every API shares),
//!    `express_ops` (ECS's Express Mode operations, which start deployments as UpdateService
//!    does), `codedeploy_ops` (CodeDeploy), `logs_ops` (CloudWatch Logs), `ecr_ops` (ECR);
//! 6. `dispatch`: `State::handle`, which checks one request, answers a fault, a throttled call
//!    or a denial or dispatches it by its `X-Amz-Target`, and writes its transcript line;
//! 7. this root: [`FakeEcs`] on wiremock, and the re-exports.
//!
//! `State`'s methods are defined in the layer that can provide them: most in `state`,
//! `seed_task_definition` in `ops` (it runs RegisterTaskDefinition), `add_express_service` in
//! `express_ops` (it does too), `handle` in `dispatch`.

mod account;
mod auth;
mod codedeploy;
mod codedeploy_ops;
mod deployment_configuration;
mod dispatch;
mod ecr;
mod ecr_ops;
mod express;
mod express_ops;
mod front;
mod logs;
mod logs_ops;
mod model;
mod ops;
mod rollout;
mod script;
mod service_deployment;
mod sha256;
mod state;
#[cfg(test)]
mod tests;
mod throttle;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use state::State;
use throttle::Buckets;

pub use account::{ACCESS_KEY, ACCOUNT, REGION, SECRET_KEY};
pub use script::{
    CodeDeployRun, DeploymentGroupOptions, Fault, Rollout, TaskRun, ECS_LIFECYCLE_EVENTS,
};
pub use state::Recorded;

/// The environment variable that names the transcript file of every fake started (see
/// [`FakeEcs::set_transcript`]); `scripts/model_check.py` checks such a file against the AWS
/// model.
pub const TRANSCRIPT_VARIABLE: &str = "FAKE_ECS_TRANSCRIPT";

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

    /// The endpoint to pass as `--endpoint-url`, e.g. `http://127.0.0.1:41234`; CodeDeploy,
    /// CloudWatch Logs and ECR clients use it too (e.g. as `AWS_ENDPOINT_URL_CODEDEPLOY`,
    /// `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`, `AWS_ENDPOINT_URL_ECR`).
    pub fn uri(&self) -> String {
        match &self.front {
            Some(front) => front.uri(),
            None => self.server.uri(),
        }
    }

    /// Append `text` to every free-text field the fake answers with (`message`, `reason`,
    /// `stoppedReason`, `rolloutStateReason`, `statusReason`), as someone allowed to call
    /// `ecs:StopTask` may choose a stoppedReason, or an application what it logs (a log
    /// event's `message`): for tests of what the client prints.
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

    /// An Express Mode service (`resourceManagementType: ECS`, managed by ECS from an express
    /// configuration): like [`FakeEcs::add_service`] (ACTIVE, controller ECS, ROLLING, `desired`
    /// tasks running one PRIMARY deployment, on FARGATE capacity), plus its express
    /// configuration; returns the service ARN.
    ///
    /// `configuration` is an `ExpressGatewayServiceConfiguration` without what ECS fills in
    /// (`serviceRevisionArn`, `taskDefinitionArn`, `ingressPaths`, `createdAt`), either with a
    /// `primaryContainer` (e.g. `{"primaryContainer": {"image": …, "containerPort": 8080,
    /// "environment": […], "secrets": […], "command": […], "awsLogsConfiguration":
    /// {"logGroup": …, "logStreamPrefix": …}, "repositoryCredentials": {…}}, "cpu": "256",
    /// "memory": "512", "executionRoleArn": …, "healthCheckPath": "/health"}`) or naming a
    /// customer task definition as `taskDefinitionArn` (an ARN or `family:revision`). For a
    /// primary container the fake registers the task definition ECS would, in the family
    /// `{cluster}-{name}`: FARGATE, awsvpc, the configuration's cpu and memory (default "256"
    /// and "512", which the configuration then shows), roles and cpuArchitecture, and one
    /// essential container `Main` made of the primary container (its image, command,
    /// environment, secrets and repositoryCredentials, one TCP port mapping `main` of its
    /// containerPort, default 80, and its awsLogsConfiguration as the awslogs driver with
    /// `awslogs-create-group`); what the primary container does not say, the container does
    /// not have. A customer task definition must exist, be ACTIVE and be what the model asks
    /// of one: a container `Main` with a single TCP port mapping that has a containerPort and
    /// a name, and FARGATE compatibility.
    ///
    /// DescribeExpressGatewayService answers the service: `activeConfigurations` are the
    /// configurations of the service revisions its `deployments[]` run, oldest first (during
    /// a deployment the source, then the target), each with its `serviceRevisionArn`,
    /// `taskDefinitionArn`, the chosen members, `ingressPaths` (a PUBLIC endpoint) and
    /// `createdAt`; `currentDeployment` is the newest service deployment. An
    /// UpdateExpressGatewayService builds the new configuration from the PRIMARY deployment's
    /// with the members it sends replaced (a `primaryContainer` replaced whole; a
    /// `taskDefinitionArn` drops the members the task definition says), registers a new
    /// revision of the family from a primary container (or takes the customer task
    /// definition, or keeps the customer one it had), and starts a deployment of it exactly as
    /// UpdateService does for a ROLLING service: the scripted [`Rollout`] (see
    /// [`FakeEcs::set_rollout`]), `deployments[]`, a service deployment and
    /// `currentServiceDeployment`, a new service revision, events; it advances on
    /// DescribeServices, and StopServiceDeployment rolls it back as any. UpdateService refuses
    /// a `taskDefinition` for the service (400 InvalidParameterException); its
    /// `forceNewDeployment` runs the PRIMARY deployment's configuration again in a new service
    /// revision.
    ///
    /// Panics as [`FakeEcs::add_service`] does, if `configuration` has members an
    /// `ExpressGatewayServiceConfiguration` is not given, or if UpdateExpressGatewayService
    /// would refuse it (and if it has neither a primary container nor a task definition).
    pub fn add_express_service(
        &self,
        cluster: &str,
        name: &str,
        configuration: Value,
        desired: u32,
    ) -> String {
        self.state()
            .add_express_service(cluster, name, configuration, desired)
    }

    /// The configuration of an Express service that its PRIMARY deployment runs (the target
    /// of a deployment under way, or what a rollback went back to), as
    /// DescribeExpressGatewayService renders it in `activeConfigurations`.
    ///
    /// Panics if the service is unknown, no Express service, or runs no deployment (INACTIVE).
    pub fn express_configuration(&self, cluster: &str, name: &str) -> Value {
        self.state().express_configuration(cluster, name)
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

    /// The next calls of `operation` (e.g. `"DescribeServices"`, the CodeDeploy
    /// `"GetDeployment"`, the CloudWatch Logs `"GetLogEvents"` or the ECR `"DescribeImages"`)
    /// answer these faults first, in order, without touching the state (well-signed requests
    /// only). The name is matched in every API (only `TagResource`, `UntagResource` and
    /// `ListTagsForResource` exist in more than one).
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

    /// From now on every call of `operation` (e.g. `"ListServiceDeployments"`, the CodeDeploy
    /// `"ListDeployments"`, the CloudWatch Logs `"GetLogEvents"` or the ECR `"DescribeImages"`)
    /// answers HTTP 400 `AccessDeniedException` with the message IAM gives a principal whose
    /// policy does not allow `ecs:{operation}` (`codedeploy:{operation}`, on the deployment
    /// group or application the request names; `logs:{operation}`, on the log stream or group;
    /// `ecr:{operation}`, on the repository), without touching the state (well-signed requests
    /// only; injected faults come first). For clients that must fall back when an old policy
    /// refuses new APIs, or do without an optional one. The name is matched in every API.
    pub fn deny(&self, operation: &str) {
        self.state().deny(operation);
    }

    /// From now on, throttle ECS requests as ECS does: every request whose `X-Amz-Target` starts
    /// with `AmazonEC2ContainerServiceV20141113.` (CodeDeploy, CloudWatch Logs and ECR are not
    /// throttled) takes a token from the bucket of its action's category, as AWS's page "Request
    /// throttling for the Amazon ECS API" sizes them for every Region: e.g. Service read actions
    /// (DescribeServices, ListServices) 100 tokens refilled at 20 a second, Service modify
    /// actions (CreateService, DeleteService, UpdateService) 50 at 5, Task definition modify
    /// actions (RegisterTaskDefinition, DeregisterTaskDefinition) 20 at 1, Task definition read
    /// actions 50 at 20, Cluster resource read actions (DescribeTasks, ListTasks, …) 100 at 20,
    /// Service deployment actions (DescribeServiceDeployments, ListServiceDeployments) 50 at 20.
    /// One set of buckets for the fake (its one account and Region), all full now; each refills
    /// continuously by the wall clock (not the fake clock, which ticks per request) at its
    /// sustained rate, up to its burst.
    ///
    /// A call whose bucket is empty is answered exactly as [`Fault::Throttle`] answers (HTTP 400
    /// `ThrottlingException`, "Rate exceeded") without acting on the state, and takes no token;
    /// [`Recorded::throttled`] marks it. The order of checks: the signature and access key (a
    /// rejected request takes no token), then injected faults (a faulted call takes none), then
    /// the bucket, then [`FakeEcs::deny`].
    ///
    /// ECS actions the page does not list share, by the fake's own assumption, the bucket of the
    /// listed category they are most like: StopServiceDeployment, ContinueServiceDeployment and
    /// UpdateExpressGatewayService that of Service modify actions (they change a service's
    /// deployment as UpdateService does), DescribeExpressGatewayService that of Service read
    /// actions. Operations ECS does not have are not throttled. Seeding methods and
    /// [`FakeEcs::call_as_another_client`] take no token.
    pub fn throttle_like_ecs(&self) {
        self.state().throttle = Some(Buckets::full(Instant::now()));
    }

    /// Append every request answered from now on to `path` (instead of the file named by
    /// [`TRANSCRIPT_VARIABLE`], if any), one JSON line each: `{"service": "ecs", "codedeploy",
    /// "logs" or "ecr", "operation" (without the API prefix),
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
    /// "rollback": true}}`. No `strategy` means ROLLING. What a ROLLING rollout makes of
    /// `earlySuccessCriteria` and of `deploymentCircuitBreaker` (`thresholdConfiguration`,
    /// `resetOnHealthyTask`, `rollback`) is told on [`Rollout`]. Unlike UpdateService, this
    /// does not check those values: a value ECS would refuse reads as the default.
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

    /// Create an empty CloudWatch Logs group, created now by the fake clock (nothing happens if
    /// it exists).
    pub fn add_log_group(&self, name: &str) {
        self.state().add_log_group(name);
    }

    /// Append one log event per line to the stream `stream` of the log group `group`, stamped
    /// with the fake clock's time (in milliseconds; `ingestionTime` the same), creating the
    /// group and the stream if missing.
    ///
    /// Panics if a line is empty (CloudWatch Logs has no empty events).
    pub fn put_log_lines(&self, group: &str, stream: &str, lines: &[&str]) {
        self.state().put_log_lines(group, stream, lines);
    }

    /// The messages of a log stream, oldest first; empty if the group or the stream does not
    /// exist.
    pub fn log_lines(&self, group: &str, stream: &str) -> Vec<String> {
        self.state().world.logs.lines(group, stream)
    }

    /// From now on, the lines the failing container of a task writes before it dies.
    ///
    /// Whenever the fake stops a task because an essential container exits non-zero
    /// ([`Rollout::TasksFail`], [`Rollout::FailAfter`], [`Rollout::CircuitBreakerRollback`],
    /// [`Rollout::CircuitBreakerInScaleUp`], [`CodeDeployRun::TasksFail`], and
    /// [`TaskRun::Exit`] with a non-zero code for an essential container), and that
    /// container's definition in the task's revision has `"logConfiguration": {"logDriver":
    /// "awslogs", "options": {"awslogs-group": …, "awslogs-stream-prefix": …}}`, the lines
    /// are appended, stamped with the fake clock, to the stream `<awslogs-stream-prefix>/<container
    /// name>/<task id>` (the task id: the last part of the task ARN) of that group. The group is
    /// created if the options say `"awslogs-create-group": "true"`; where it does not exist and
    /// may not be created, nothing is written (real ECS would not start such a task; the fake
    /// keeps the scripted failure). Nothing is written either for an `awslogs-region` other
    /// than [`REGION`], or without `awslogs-stream-prefix` (the stream would be named after the
    /// Docker container id).
    ///
    /// The default is `["Starting the application", "FATAL: {reason}"]`, where `reason` is the
    /// reason the container exits with, as DescribeTasks shows it in `containers[].reason`: the
    /// `reason` of the TasksFail or FailAfter rollout, of the CodeDeployRun::TasksFail or of
    /// the TaskRun::Exit; for a CircuitBreakerRollback its CannotPullContainerError; for a
    /// CircuitBreakerInScaleUp "Essential container in task exited".
    ///
    /// Panics if a line is empty (CloudWatch Logs has no empty events).
    pub fn set_failing_task_log(&self, lines: Vec<String>) {
        self.state().set_failing_task_log(lines);
    }

    /// Create an empty ECR repository in the fake's registry (that of [`ACCOUNT`]); nothing
    /// happens if it exists.
    ///
    /// Panics if ECR could not name a repository so (2 to 256 lower-case letters and digits,
    /// joined by `.`, `_`, `__`, runs of `-`, or `/`).
    pub fn add_ecr_repository(&self, repository: &str) {
        self.state().add_ecr_repository(repository);
    }

    /// Push an image tagged `tag` to the ECR repository `repository` (created if missing), now
    /// by the fake clock; returns its digest, `sha256:` and the 64 hex digits of the SHA-256 of
    /// `{repository}:{tag}` (so the same for the same repository and tag; pushing a tag again
    /// changes nothing). DescribeImages shows it with that one tag, a size of 20 to 100 MB
    /// from its digest and a Docker v2 manifest.
    ///
    /// Panics as [`FakeEcs::add_ecr_repository`] does, or if the tag is empty or longer than
    /// 300 characters.
    pub fn add_ecr_image(&self, repository: &str, tag: &str) -> String {
        self.state().add_ecr_image(repository, tag)
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

    /// Runs `operation` (an ECS operation, or a CodeDeploy one named with its
    /// `CodeDeploy_20141006.` prefix) with `input` on the fake's state as another client
    /// would — Terraform, CDK, the console — so that a test can start a deployment the
    /// client under test did not: answered like a request (an error as its code and message),
    /// but not recorded among [`FakeEcs::requests`] nor written to the transcript.
    pub fn call_as_another_client(&self, operation: &str, input: Value) -> Result<Value, String> {
        let Value::Object(input) = input else {
            return Err("the input is not a JSON object".into());
        };
        self.state().call_as_another_client(operation, &input)
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

    /// How many requests named `operation` of the API `service` (`"ecs"`, `"codedeploy"`,
    /// `"logs"` or `"ecr"`, as in [`Recorded::service`]), rejected ones included.
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
