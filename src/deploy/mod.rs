//! Orchestration over the AWS operations: what every kind of run shares
//! (the [`Deployer`], the [`Deadline`] of a wait), a new revision
//! ([`revision`]), deploys to services ([`service`]), one-off tasks
//! ([`oneoff`]) and what an interrupt says ([`interrupt`]). The decisions
//! live in `core`.

/// CODE_DEPLOY services: their deployment group, AppSpec and deployment.
pub mod codedeploy;
/// A run over services: its shared state, its lines, the update call.
mod context;
/// Why tasks failed, in their containers' logs.
mod diagnosis;
/// `--wait-only`: deployments someone else started.
pub mod elsewhere;
/// Express Mode services: a deploy through their express configuration.
mod express;
/// `--continue-deployment` / `--rollback-deployment`: answer a PAUSE hook.
pub mod hook;
/// Ctrl-C and the other signals, and the journal of what a run changed.
pub mod interrupt;
/// `--run-task` and `--wait-for-success`.
pub mod oneoff;
/// Refusing, before anything is written, a revision that cannot work.
mod preflight;
/// A new revision: worked out, shown, registered; `-d` runs; pruning.
pub mod revision;
/// Deciding and sending rollbacks.
mod rollback;
/// Deploys to services: plan, update, wait, conclude.
pub mod service;
/// `--rollback-deployment`: undo each service's last deployment.
pub mod undo;
/// Watching deployments until they end.
mod watch;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::aws::client::AwsError;
use crate::aws::codedeploy::CodeDeploy;
use crate::aws::ecs::Ecs;
use crate::aws::Clients;
use crate::output::Reporter;
use crate::request::Config;
use interrupt::Journal;

/// What every kind of run shares: ECS and CodeDeploy (and, now and then,
/// CloudWatch Logs and ECR), the flags, the output, the journal.
pub struct Deployer<'a> {
    pub ecs: Ecs,
    pub codedeploy: CodeDeploy,
    /// Clients of CloudWatch Logs and ECR, in the region each is needed in.
    pub others: Clients,
    /// What the diagnosis reads of revisions (their containers' log
    /// configuration), by ARN: each is described once however many of its
    /// tasks fail.
    pub revisions: RefCell<HashMap<String, Value>>,
    pub config: &'a Config,
    pub region: String,
    /// `--poll-interval`, at least the floor for the endpoint.
    pub poll_interval: Duration,
    pub out: &'a Reporter,
    pub journal: &'a Journal,
    /// The cluster's stopped tasks this run knows of: each is described
    /// once, however many waits look at them.
    pub stopped: RefCell<watch::KnownStopped>,
    /// Set once ECS refused the service-deployment API: not asked again
    /// (nor warned about again) in this run.
    pub service_deployments_refused: Cell<bool>,
}

/// How long a call may run past a deadline: long enough for one answer,
/// not for a series of retries.
pub const GRACE: Duration = Duration::from_secs(10);

/// The end of a wait (`-t`). It bounds every AWS call made for the wait,
/// so that a run ends by its deadline plus [`GRACE`] whatever ECS does.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    /// The deadline `timeout` from now (a timeout past what the clock can
    /// count means a deadline a century away).
    pub fn after(timeout: Duration) -> Deadline {
        const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
        Deadline {
            at: Instant::now() + timeout.min(CENTURY),
            timeout,
        }
    }

    /// Whether it has passed.
    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// Time left (zero once it passed).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// The timeout it was set with, in seconds, for messages.
    pub fn seconds(&self) -> f64 {
        self.timeout.as_secs_f64()
    }

    /// The last moment any call of the wait may run: the deadline plus [`GRACE`].
    pub fn hard_limit(&self) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.at + GRACE)
    }

    /// Runs AWS calls (`what`, for the message) that must be answered by
    /// the [hard limit](Deadline::hard_limit); past it they are abandoned,
    /// so that all the calls of a wait together fit in one grace.
    pub async fn bound<T>(
        &self,
        what: &str,
        calls: impl std::future::Future<Output = Result<T, AwsError>>,
    ) -> Result<T, AwsError> {
        tokio::time::timeout_at(self.hard_limit(), calls)
            .await
            .unwrap_or_else(|_| {
                Err(AwsError::Transport {
                    operation: what.to_string(),
                    message: format!(
                        "no answer within {} s after the {} s deadline",
                        GRACE.as_secs(),
                        self.seconds()
                    ),
                    retryable: false,
                    sent: true,
                    attempts: 1,
                })
            })
    }
}
