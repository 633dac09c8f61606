//! The result of a run as data: how each service ended ([`Outcome`]), what
//! became of its rollback, and the whole run. Pure: `deploy` fills it in as
//! it carries out what `core` decided; `output` renders it (`--output json`,
//! the GitHub Actions files).

use std::collections::BTreeMap;

use serde::Serialize;

use super::logs::ContainerLog;
use super::watch::Failure;

/// How a run (or one service of it) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failed,
    Timeout,
    /// ecs-deploy rolled the service back (`--enable-rollback`).
    RolledBack,
    /// AWS rolled the service back by itself: ECS (its circuit breaker, an
    /// alarm, a lifecycle hook) or CodeDeploy.
    EcsRolledBack,
    /// Another deployment took the service over while ours was going;
    /// it is theirs, so nothing was rolled back.
    Superseded,
    DryRun,
    /// Stopped by a signal (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT).
    Interrupted,
    /// AWS refused or could not be reached, or the input was wrong.
    Error,
}

impl Outcome {
    /// The outcome a failed deployment is.
    pub fn of(failure: &Failure) -> Outcome {
        match failure {
            Failure::TimedOut { .. } => Outcome::Timeout,
            Failure::Superseded { .. } => Outcome::Superseded,
            failure if failure.is_ecs_rollback() => Outcome::EcsRolledBack,
            _ => Outcome::Failed,
        }
    }

    /// The name the JSON document uses, for `$GITHUB_OUTPUT` and the summary.
    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .expect("an outcome serialises to a string")
    }
}

/// What became of a rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackStatus {
    /// ecs-deploy rolled back and that rollout completed.
    Completed,
    /// ecs-deploy rolled back but that failed or did not complete.
    Failed,
    /// Not rolled back (not asked for, nothing to go back to, or another
    /// deployment took over).
    NotAttempted,
    /// AWS rolled back by itself (ECS or CodeDeploy).
    DoneByEcs,
    /// ecs-deploy sent the rollback; the run ended (interrupted) before it did.
    InProgress,
}

/// What was done about a failed deployment.
#[derive(Debug, Clone, Serialize)]
pub struct Rollback {
    /// The revision the service was pointed back at (or would have been).
    pub to: String,
    pub status: RollbackStatus,
    pub detail: String,
    /// Why ECS rolled back, where it said (`rollback.reason` of the service
    /// deployment).
    pub reason: Option<String>,
}

/// One service of the run.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    pub service: String,
    pub result: Outcome,
    pub previous_task_definition: Option<String>,
    pub task_definition: Option<String>,
    pub deployment_id: Option<String>,
    /// Container name → image, as the new revision has them.
    pub images: BTreeMap<String, String>,
    pub duration_seconds: f64,
    /// Why it failed, with the stopped tasks' reasons.
    pub reason: Option<String>,
    pub rollback: Option<Rollback>,
    /// How ECS deploys it: `ROLLING`, `BLUE_GREEN`, `LINEAR`, `CANARY`.
    pub strategy: Option<String>,
    /// The service deployment watched, where the API answered.
    pub service_deployment_arn: Option<String>,
    /// Its last status (`SUCCESSFUL`, `ROLLBACK_SUCCESSFUL`, …).
    pub status: Option<String>,
    /// Its last lifecycle stage.
    pub lifecycle_stage: Option<String>,
    /// The alarms that went into ALARM during it.
    pub alarms_triggered: Vec<String>,
    /// The last lines of each container that failed its tasks, one per
    /// kind of failure.
    pub logs: Vec<ContainerLog>,
}

impl ServiceReport {
    /// The report of a service nothing is known about yet.
    pub fn new(service: &str) -> ServiceReport {
        ServiceReport {
            service: service.to_string(),
            result: Outcome::Error,
            previous_task_definition: None,
            task_definition: None,
            deployment_id: None,
            images: BTreeMap::new(),
            duration_seconds: 0.0,
            reason: None,
            rollback: None,
            strategy: None,
            service_deployment_arn: None,
            status: None,
            lifecycle_stage: None,
            alarms_triggered: Vec::new(),
            logs: Vec::new(),
        }
    }
}

/// A one-off task of `--run-task`.
#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    pub task_arn: String,
    /// The last status seen (`STOPPED` when it finished).
    pub last_status: Option<String>,
    /// Container name → exit code, for the containers that exited.
    pub exit_codes: BTreeMap<String, i64>,
    /// The last lines of each container that failed it.
    pub logs: Vec<ContainerLog>,
}

/// The whole run, as `--output json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub result: Outcome,
    pub cluster: Option<String>,
    /// `-d` runs: the revision registered.
    pub task_definition: Option<String>,
    pub services: Vec<ServiceReport>,
    pub task: Option<TaskReport>,
    pub duration_seconds: f64,
    /// Why the run failed, when it did.
    pub reason: Option<String>,
}

impl Report {
    /// The report of a run that has not ended yet (`result` is `error`
    /// until a flow says otherwise).
    pub fn new(cluster: Option<&str>) -> Report {
        Report {
            result: Outcome::Error,
            cluster: cluster.map(str::to_string),
            task_definition: None,
            services: Vec::new(),
            task: None,
            duration_seconds: 0.0,
            reason: None,
        }
    }

    /// The document for a run that ended before it started (bad flags),
    /// and why.
    pub fn of_error(reason: String) -> Report {
        Report {
            reason: Some(reason),
            ..Report::new(None)
        }
    }

    /// The report for `service`, created on first use.
    pub fn service(&mut self, service: &str) -> &mut ServiceReport {
        match self.services.iter().position(|s| s.service == service) {
            Some(index) => &mut self.services[index],
            None => {
                self.services.push(ServiceReport::new(service));
                self.services.last_mut().expect("just pushed")
            }
        }
    }
}
