//! Everything the fake knows, in one [`State`]: the ECS world (with CloudWatch Logs) and
//! services, the CodeDeploy side, the ECR registry, what tests scripted (faults, denied
//! operations, task runs), ECS's token buckets when it throttles, and the requests received;
//! and how `FakeEcs` and the tests seed and read it. Two layers above add the `State` methods
//! they need: `ops.rs` seeds a task definition (it runs RegisterTaskDefinition) and
//! `dispatch.rs` answers a request (`State::handle`).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::account::ACCESS_KEY;
use crate::codedeploy::{self, CodeDeploy};
use crate::ecr::{self, Ecr, IMAGE_TAG_LENGTHS, REPOSITORY_NAME_LENGTHS};
use crate::model::{
    is_computed_service_key, Deployment, Service, TaskDef, World, ACTIVE, ECS_CONTROLLER, INACTIVE,
    PRIMARY,
};
use crate::rollout;
use crate::script::{DeploymentGroupOptions, Fault, Rollout, TaskRun};
use crate::service_deployment::{ServiceDeployment, Strategy};
use crate::throttle::Buckets;

/// One request the fake received, in arrival order (rejected ones included).
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// The API the `X-Amz-Target` prefix names: `"codedeploy"` for `CodeDeploy_20141006.`,
    /// `"logs"` for `Logs_20140328.`, `"ecr"` for `AmazonEC2ContainerRegistry_V20150921.`,
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
    /// Whether it was answered `ThrottlingException` because its token bucket was empty (see
    /// [`FakeEcs::throttle_like_ecs`](crate::FakeEcs::throttle_like_ecs)); an injected
    /// [`Fault::Throttle`] does not count.
    pub throttled: bool,
}

/// Panics unless ECR could name a repository so.
fn expect_repository_name(name: &str) {
    assert!(
        REPOSITORY_NAME_LENGTHS.contains(&name.len()) && ecr::is_repository_name(name),
        "fake-ecs: {name:?} is no ECR repository name (lower-case letters and digits, joined by ., _, __, - or /)"
    );
}

/// Everything the fake knows.
pub(crate) struct State {
    pub(crate) world: World,
    pub(crate) clusters: Vec<String>,
    pub(crate) services: Vec<Service>,
    pub(crate) faults: HashMap<String, VecDeque<Fault>>,
    pub(crate) access_keys: Vec<String>,
    pub(crate) requests: Vec<Recorded>,
    /// How the next RunTask calls' tasks end (front first).
    pub(crate) next_task_runs: VecDeque<TaskRun>,
    /// Appended to every free-text field of every answer (see `FakeEcs::inject_text`).
    pub(crate) injected_text: Option<String>,
    /// Operations answered with AccessDeniedException (see `FakeEcs::deny`).
    pub(crate) denied: Vec<String>,
    /// The CodeDeploy applications, deployment groups and deployments.
    pub(crate) codedeploy: CodeDeploy,
    /// The ECR repositories and images.
    pub(crate) ecr: Ecr,
    /// The file every answered request is appended to as one JSON line (see `FakeEcs::start`).
    pub(crate) transcript: Option<PathBuf>,
    /// ECS's token buckets, when the fake throttles (see `FakeEcs::throttle_like_ecs`).
    pub(crate) throttle: Option<Buckets>,
}

impl State {
    pub(crate) fn new() -> State {
        State {
            world: World::new(),
            clusters: Vec::new(),
            services: Vec::new(),
            faults: HashMap::new(),
            access_keys: vec![ACCESS_KEY.to_string()],
            requests: Vec::new(),
            next_task_runs: VecDeque::new(),
            injected_text: None,
            denied: Vec::new(),
            codedeploy: CodeDeploy::default(),
            ecr: Ecr::default(),
            transcript: None,
            throttle: None,
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

    pub(crate) fn add_service(
        &mut self,
        cluster: &str,
        name: &str,
        task_definition: &str,
        desired: u32,
    ) {
        self.seed_service(cluster, name, task_definition, desired, Map::new());
    }

    /// A service as `FakeEcs::add_service` makes it, with these raw keys merged into its
    /// description from the start (see `FakeEcs::set_service_fields`); its index.
    pub(crate) fn seed_service(
        &mut self,
        cluster: &str,
        name: &str,
        task_definition: &str,
        desired: u32,
        extra_fields: Map<String, Value>,
    ) -> usize {
        self.add_cluster(cluster);
        let td = self.expect_task_def(task_definition).arn();
        if let Some(i) = self.find_service(cluster, name) {
            self.services.remove(i);
        }
        self.world.tick();
        let id = self.world.deployment_id();
        let revision_arn = self.world.service_revision_arn(cluster, name, &td);
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
            extra_fields,
            rollout_due: None,
            express: None,
        };
        self.world.tick();
        rollout::complete(&mut self.world, &mut service, &id, true);
        self.services.push(service);
        self.services.len() - 1
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

    /// See `FakeEcs::add_log_group`.
    pub(crate) fn add_log_group(&mut self, name: &str) {
        let now = self.world.now();
        self.world.logs.add_group(name, now);
    }

    /// See `FakeEcs::put_log_lines`.
    pub(crate) fn put_log_lines(&mut self, group: &str, stream: &str, lines: &[&str]) {
        assert!(
            lines.iter().all(|line| !line.is_empty()),
            "fake-ecs: a log event cannot be empty"
        );
        let lines: Vec<String> = lines.iter().map(|line| line.to_string()).collect();
        let now = self.world.now();
        self.world.logs.put(group, stream, &lines, now);
    }

    /// See `FakeEcs::set_failing_task_log`.
    pub(crate) fn set_failing_task_log(&mut self, lines: Vec<String>) {
        assert!(
            lines.iter().all(|line| !line.is_empty()),
            "fake-ecs: a log event cannot be empty"
        );
        self.world.logs.set_failing_task_log(lines);
    }

    /// See `FakeEcs::add_ecr_repository`.
    pub(crate) fn add_ecr_repository(&mut self, repository: &str) {
        expect_repository_name(repository);
        self.ecr.add_repository(repository);
    }

    /// See `FakeEcs::add_ecr_image`.
    pub(crate) fn add_ecr_image(&mut self, repository: &str, tag: &str) -> String {
        expect_repository_name(repository);
        assert!(
            IMAGE_TAG_LENGTHS.contains(&tag.chars().count()),
            "fake-ecs: an image tag has 1 to 300 characters, not {tag:?}"
        );
        let now = self.world.now();
        self.ecr.add_image(repository, tag, now)
    }

    pub(crate) fn accept_access_key(&mut self, key: &str) {
        self.access_keys.push(key.to_string());
    }

    pub(crate) fn set_epoch(&mut self, epoch_seconds: f64) {
        self.world.set_epoch(epoch_seconds);
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

    /// See `FakeEcs::add_codedeploy_application`.
    pub(crate) fn add_codedeploy_application(&mut self, name: &str) {
        let applications = &mut self.codedeploy.applications;
        if !applications.iter().any(|a| a == name) {
            applications.push(name.to_string());
        }
    }

    /// See `FakeEcs::add_deployment_group`.
    pub(crate) fn add_deployment_group(
        &mut self,
        application: &str,
        group: &str,
        cluster: &str,
        service: &str,
        options: DeploymentGroupOptions,
    ) {
        assert!(
            self.codedeploy
                .applications
                .iter()
                .any(|a| a == application),
            "fake-ecs: no CodeDeploy application {application}"
        );
        let i = self.expect_service(cluster, service);
        assert_eq!(
            self.services[i].controller, "CODE_DEPLOY",
            "fake-ecs: service {service} is not deployed by CodeDeploy; call set_deployment_controller(.., \"CODE_DEPLOY\") first"
        );
        self.codedeploy.add_group(
            &mut self.world,
            application,
            group,
            cluster,
            service,
            options,
        );
    }

    /// Every deployment as GetDeployment renders it, newest first.
    pub(crate) fn codedeploy_deployments_json(&self) -> Vec<Value> {
        (0..self.codedeploy.deployments.len())
            .rev()
            .map(|i| self.codedeploy.render(i))
            .collect()
    }

    /// The ACTIVE service a deployment targets.
    fn codedeploy_service(&self, d: &codedeploy::Deployment) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.cluster == d.cluster && s.name == d.service && s.status == ACTIVE)
    }

    /// The target of the deployment at `index` as GetDeploymentTarget renders it.
    pub(crate) fn render_deployment_target(&self, index: usize) -> Value {
        let d = &self.codedeploy.deployments[index];
        d.render_target(&self.world, self.codedeploy_service(d))
    }

    /// See `FakeEcs::codedeploy_target`.
    pub(crate) fn deployment_target_json(&self, id: &str) -> Value {
        let index = self
            .codedeploy
            .find_deployment(id)
            .unwrap_or_else(|| panic!("fake-ecs: no CodeDeploy deployment {id}"));
        self.render_deployment_target(index)
    }
}
