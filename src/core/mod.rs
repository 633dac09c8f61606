//! The pure core: no network, no clock. Image references, the task-definition
//! transform, the diff a dry run shows, the aws-cli shorthand, what stopped
//! tasks say, the service as ECS describes it, the judges of a deployment,
//! and the result of a run as data.
//! Nothing here imports anything of ours outside `core`.

/// The AppSpec of a CodeDeploy deployment.
pub mod appspec;
/// The AWS CLI's examples through the core's parsers and judges.
#[cfg(test)]
mod aws_examples;
/// How a deploy concludes: per service, what happened and what to do next.
pub mod conclusion;
/// The unified diff for `--dry-run`.
pub mod diff;
/// Express Mode services: their configuration, and a deploy through it.
pub mod express;
/// Image references and which containers an image is for.
pub mod image;
/// Why a task failed, in its containers' words: where their logs go.
pub mod logs;
/// How a service is deployed: controller and strategy, and their bake.
pub mod model;
/// The result of a run as data: outcomes, rollbacks, the report.
pub mod report;
/// Values never printed.
pub mod secret;
/// A service as `DescribeServices` describes it.
pub mod service;
/// Commands to suggest, quoted for a POSIX shell.
pub mod shell;
/// The aws-cli shorthand syntax of `--network-configuration`.
pub mod shorthand;
/// The task-definition transform.
pub mod taskdef;
/// What stopped tasks say.
pub mod tasks;
/// The judges of a deployment.
pub mod watch;

/// Where and how a JSON text breaks, without quoting any of it (it may
/// hold a task definition's environment values).
pub fn json_breaks(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match error.classify() {
        Category::Eof => "it ends too early",
        Category::Syntax => "a syntax error",
        Category::Data | Category::Io => "it cannot be read",
    };
    format!("{what} at line {}, column {}", error.line(), error.column())
}
