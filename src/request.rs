//! What a run is asked to do: the request the command line makes, typed
//! and checked (`cli` builds it; nothing below `run` knows about flags).

use std::path::PathBuf;
use std::time::Duration;

use crate::core::image::ImageRef;
use crate::core::secret::Secret;
use crate::core::watch::rolling::DoneRule;

/// What a run deploys to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `-c CLUSTER -n SERVICE [-n SERVICE…]`: new revisions, the services
    /// pointed at them, one wait for all.
    Services {
        cluster: String,
        services: Vec<String>,
    },
    /// `-d TASK_DEFINITION`: a new revision only (and maybe a one-off task).
    TaskDefinition {
        task_definition: String,
        cluster: Option<String>,
    },
}

/// How the new revision differs from its base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageChange {
    /// `-i`: containers of that repository get this image.
    Image(ImageRef),
    /// `-to`: every container's image gets this tag.
    TagOnly(String),
    /// `--force-new-deployment` alone: no new image.
    Unchanged,
}

/// `--run-task` and its options.
#[derive(Debug, Clone, PartialEq)]
pub struct RunTask {
    /// `--launch-type`.
    pub launch_type: Option<String>,
    /// `--platform-version`.
    pub platform_version: Option<String>,
    /// `--network-configuration`, as the JSON ECS takes.
    pub network_configuration: Option<serde_json::Value>,
    /// `--started-by`.
    pub started_by: Option<String>,
    /// `--wait-for-success`.
    pub wait_for_success: bool,
}

/// The CodeDeploy application (and deployment group) named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeDeployGroup {
    pub application: String,
    /// `None`: the group of the application that deploys the service.
    pub group: Option<String>,
}

/// What to do to a deployment instead of deploying: continue it past its
/// PAUSE hook, or undo it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookAction {
    /// `--continue-deployment`.
    Continue,
    /// `--rollback-deployment`: a paused hook is answered ROLLBACK, a
    /// deployment in progress is stopped with a rollback, else the service
    /// goes back to the revision its last deployment replaced.
    Rollback,
}

/// Where the result goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Progress and result as text on stdout.
    #[default]
    Text,
    /// Progress on stderr; one JSON document on stdout at the end.
    Json,
}

/// A validated request.
#[derive(Debug)]
pub struct Config {
    /// `-n` (with `-c`) or `-d`.
    pub target: Target,
    /// `-i`, `-to`, or neither.
    pub change: ImageChange,
    /// `--container`: restrict the changes to these containers.
    pub containers: Vec<String>,
    /// `--env NAME=VALUE` (values are never printed).
    pub set_env: Vec<(String, Secret)>,
    /// `--unset-env NAME`.
    pub unset_env: Vec<String>,
    /// `--dry-run`: read only.
    pub dry_run: bool,
    /// `--output`.
    pub output: OutputFormat,
    /// `--log-lines`: how many of a failed container's last log lines to
    /// show (0: none).
    pub log_lines: u32,
    /// Whether to check with ECR that the image exists (`--no-image-check`
    /// turns it off).
    pub image_check: bool,
    /// `--task-definition-file`: the base instead of the current revision.
    pub task_definition_file: Option<PathBuf>,
    /// `--use-latest-task-def`: the newest revision of the family as base.
    pub use_latest_task_definition: bool,
    /// `--copy-task-definition-tags`.
    pub copy_tags: bool,
    /// `--force-new-deployment`.
    pub force_new_deployment: bool,
    /// `-D`.
    pub desired_count: Option<u32>,
    /// `-m`.
    pub minimum_healthy_percent: Option<u32>,
    /// `-M`.
    pub maximum_percent: Option<u32>,
    /// `-t`: the deadline of a wait.
    pub timeout: Duration,
    /// Whether `-t` was given (else a configured bake may lengthen it).
    pub timeout_given: bool,
    /// `--poll-interval`.
    pub poll_interval: Duration,
    /// `--skip-deployments-check` or not.
    pub done_rule: DoneRule,
    /// `--enable-rollback`.
    pub enable_rollback: bool,
    /// `--wait-until`: a service-deployment lifecycle stage, or
    /// [`READY`](crate::core::model::READY) for CodeDeploy services.
    pub wait_until: Option<String>,
    /// `--codedeploy-application` and `--codedeploy-deployment-group`.
    pub codedeploy_group: Option<CodeDeployGroup>,
    /// `--codedeploy-appspec`.
    pub codedeploy_appspec: Option<PathBuf>,
    /// `--continue-deployment` (answer a PAUSE hook) or
    /// `--rollback-deployment` (undo the last deployment) instead of
    /// deploying.
    pub hook_action: Option<HookAction>,
    /// `--wait-only`: wait for the deployment each service is running now
    /// instead of deploying.
    pub wait_only: bool,
    /// `--max-definitions`.
    pub max_definitions: Option<u32>,
    /// `--run-task` and its options.
    pub run_task: Option<RunTask>,
    /// Where AWS is and who we are there.
    pub aws: AwsOptions,
    /// `-v`.
    pub verbose: bool,
}

/// The AWS settings given on the command line; the rest comes from the environment.
#[derive(Debug, Default)]
pub struct AwsOptions {
    /// `-r`.
    pub region: Option<String>,
    /// `--endpoint-url`: the ECS endpoint.
    pub endpoint_url: Option<String>,
    /// `-k`.
    pub access_key_id: Option<String>,
    /// `-s`.
    pub secret_access_key: Option<Secret>,
    /// `-p`.
    pub profile: Option<String>,
    /// Take credentials from instance metadata, skipping the rest of the chain.
    pub instance_profile: bool,
    /// A role to assume with whatever credentials the chain found.
    pub assume_role: Option<String>,
}
