//! The result of a run as data: the `--output json` document, and what a
//! GitHub Actions step gets (`$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`).

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::safe;

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
    /// The name the JSON document uses, for `$GITHUB_OUTPUT` and the summary.
    fn as_str(self) -> String {
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

    /// The document for a run that ended before it started (bad flags).
    pub fn of_error(error: &crate::error::Error) -> Report {
        Report {
            reason: Some(error.to_string()),
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

    /// The document for `--output json`, safe to write to a CI log.
    pub fn to_json(&self) -> String {
        safe::guard_json(&serde_json::to_string_pretty(self).expect("a report serialises"))
    }

    /// `key=value` lines for `$GITHUB_OUTPUT`: the result, the (first)
    /// task definition, and one `task_definition_<service>` per service.
    /// Keys and values are one line each, so an answer cannot add outputs.
    pub fn github_outputs(&self) -> String {
        let mut out = format!("result={}\n", self.result.as_str());
        let first = self.task_definition.as_ref().or_else(|| {
            self.services
                .iter()
                .find_map(|s| s.task_definition.as_ref())
        });
        if let Some(arn) = first {
            out.push_str(&format!("task_definition={}\n", safe::clean(arn)));
        }
        for service in &self.services {
            if let Some(arn) = &service.task_definition {
                out.push_str(&format!(
                    "task_definition_{}={}\n",
                    output_key(&service.service),
                    safe::clean(arn)
                ));
            }
        }
        out
    }

    /// A short Markdown table for `$GITHUB_STEP_SUMMARY`; every value from
    /// AWS stays inside its code span or code block.
    pub fn github_summary(&self) -> String {
        let mut out = format!("### ecs-deploy: {}\n\n", self.result.as_str());
        if !self.services.is_empty() {
            out.push_str("| service | result | task definition | previous | seconds |\n|---|---|---|---|---|\n");
            for s in &self.services {
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {:.0} |\n",
                    safe::code_span(&s.service),
                    s.result.as_str(),
                    short(s.task_definition.as_deref()),
                    short(s.previous_task_definition.as_deref()),
                    s.duration_seconds
                ));
            }
        } else if let Some(arn) = &self.task_definition {
            out.push_str(&format!("Registered {}.\n", short(Some(arn))));
        }
        if let Some(reason) = &self.reason {
            out.push('\n');
            out.push_str(&safe::code_block(reason));
        }
        out
    }
}

/// A revision as a code span, or `-`.
fn short(arn: Option<&str>) -> String {
    arn.map(|arn| safe::code_span(crate::core::taskdef::short_revision(arn)))
        .unwrap_or_else(|| "-".into())
}

/// A service name as an output key: letters, digits, `_` and `-` only.
fn output_key(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Appends `text` to the file a GitHub variable names, if it is set.
pub fn append_to_github_file(
    env: &dyn Fn(&str) -> Option<String>,
    variable: &str,
    text: &str,
) -> Result<(), String> {
    let Some(path) = env(variable) else {
        return Ok(());
    };
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write {variable} ({path}): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let mut report = Report::new(Some("prod"));
        report.result = Outcome::Failed;
        let web = report.service("web");
        web.result = Outcome::Success;
        web.task_definition = Some("arn:aws:ecs:us-east-1:1:task-definition/web:8".into());
        web.previous_task_definition = Some("arn:aws:ecs:us-east-1:1:task-definition/web:7".into());
        let worker = report.service("worker.v2");
        worker.result = Outcome::RolledBack;
        worker.task_definition = Some("arn:aws:ecs:us-east-1:1:task-definition/worker:3".into());
        report.reason = Some("worker failed".into());
        report
    }

    #[test]
    fn json_document_has_the_documented_fields() {
        let json: serde_json::Value = serde_json::from_str(&report().to_json()).unwrap();
        assert_eq!(json["result"], "failed");
        assert_eq!(json["cluster"], "prod");
        assert_eq!(json["services"][1]["result"], "rolled_back");
        for field in [
            "service",
            "previous_task_definition",
            "task_definition",
            "deployment_id",
            "images",
            "duration_seconds",
            "reason",
            "rollback",
        ] {
            assert!(json["services"][0].get(field).is_some(), "{field} missing");
        }
    }

    #[test]
    fn github_outputs_and_summary() {
        let report = report();
        assert_eq!(
            report.github_outputs(),
            "result=failed\ntask_definition=arn:aws:ecs:us-east-1:1:task-definition/web:8\ntask_definition_web=arn:aws:ecs:us-east-1:1:task-definition/web:8\ntask_definition_worker_v2=arn:aws:ecs:us-east-1:1:task-definition/worker:3\n"
        );
        let summary = report.github_summary();
        assert!(
            summary.contains("| `web` | success | `web:8` | `web:7` |"),
            "{summary}"
        );
        assert!(summary.contains("worker failed"), "{summary}");
    }

    #[test]
    fn answers_cannot_add_outputs_or_leave_their_span() {
        let mut report = Report::new(Some("prod"));
        let web = report.service("web|x");
        web.task_definition = Some("arn:aws:ecs:r:1:task-definition/web:8\nresult=success".into());
        report.reason = Some("stopped: ```\n# owned\n```".into());
        let outputs = report.github_outputs();
        assert_eq!(outputs.lines().count(), 3, "{outputs}");
        assert!(
            outputs.lines().all(|l| !l.starts_with("result=success")),
            "{outputs}"
        );
        let summary = report.github_summary();
        assert!(
            summary.contains("| `web\\|x` | error | `web:8 result=success` |"),
            "{summary}"
        );
        assert!(
            summary.contains("````\nstopped: ```\n# owned\n```\n````\n"),
            "{summary}"
        );
    }
}
