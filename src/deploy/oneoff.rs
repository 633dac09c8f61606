//! `--run-task`: the new revision as a one-off task, and with
//! `--wait-for-success` the wait for it to stop and the verdict on its exit
//! codes (the rules are in `tasks`).

use std::collections::BTreeMap;

use serde_json::json;

use crate::aws;
use crate::aws::ecs::RunTaskError;
use crate::core::logs::ContainerLog;
use crate::core::report::{Report, TaskReport};
use crate::core::tasks::{self, why_stopped, TaskVerdict};
use crate::deploy::{Deadline, Deployer};
use crate::error::Error;
use crate::request::RunTask;

impl Deployer<'_> {
    /// `--run-task`: starts the revision as a one-off task and, with
    /// `--wait-for-success`, waits for it to stop and judges its exit codes.
    pub async fn run_task(
        &self,
        arn: &str,
        cluster: Option<&str>,
        run: &RunTask,
        report: &mut Report,
    ) -> Result<(), Error> {
        // The client retries a RunTask whose answer was lost; the same token
        // makes ECS start the task once, not once per attempt.
        let client_token = format!(
            "ecs-deploy-{:016x}{:016x}",
            aws::client::random_u64(),
            aws::client::random_u64()
        );
        let mut input = json!({"taskDefinition": arn, "count": 1, "clientToken": client_token});
        let optional = [
            ("cluster", cluster),
            ("launchType", run.launch_type.as_deref()),
            ("platformVersion", run.platform_version.as_deref()),
            ("startedBy", run.started_by.as_deref()),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                input[key] = json!(value);
            }
        }
        if let Some(network) = &run.network_configuration {
            input["networkConfiguration"] = network.clone();
        }
        let task = self.ecs.run_task(&input).await.map_err(|e| match e {
            RunTaskError::Aws(e) => Error::from(e),
            RunTaskError::Refused(why) => {
                Error::failed(format!("ECS did not start the task: {why}"))
            }
        })?;
        let task_arn = task["taskArn"].as_str().unwrap_or_default().to_string();
        self.out.say(format!("Task started: {task_arn}"));
        self.journal.changed(format!("started task {task_arn}"));
        report.task = Some(TaskReport {
            task_arn: task_arn.clone(),
            last_status: task["lastStatus"].as_str().map(str::to_string),
            exit_codes: BTreeMap::new(),
            logs: Vec::new(),
        });
        if !run.wait_for_success {
            return Ok(());
        }
        let deadline = Deadline::after(self.config.timeout);
        let essential = tasks::essential_containers(&self.revision(arn, deadline).await?);
        let cluster = task["clusterArn"]
            .as_str()
            .or(cluster)
            .unwrap_or("default")
            .to_string();
        let short = tasks::task_id(&task_arn).to_string();
        let mut last_status = String::new();
        let mut first = true;
        loop {
            if !first {
                if deadline.passed() {
                    return Err(Error::failed(format!(
                        "task {task_arn} did not stop within {} s (it was last seen {}; ecs-deploy left it running).",
                        deadline.seconds(),
                        if last_status.is_empty() { "in no state at all" } else { &last_status }
                    )));
                }
                tokio::time::sleep(self.poll_interval.min(deadline.remaining())).await;
            }
            first = false;
            let described = self
                .ecs
                .describe_tasks(&cluster, std::slice::from_ref(&task_arn));
            let tasks = match deadline.bound("DescribeTasks", described).await {
                Ok(tasks) => tasks,
                // One failed look is not the end of the task.
                Err(e) => {
                    self.out
                        .progress(format!("could not read the task ({e}); trying again"));
                    continue;
                }
            };
            let task = tasks
                .first()
                .ok_or_else(|| Error::aws(format!("ECS no longer knows task {task_arn}")))?;
            let verdict = tasks::judge(task, &essential);
            if let Some(task_report) = &mut report.task {
                task_report.last_status = task["lastStatus"].as_str().map(str::to_string);
                task_report.exit_codes = task["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| {
                        Some((c["name"].as_str()?.to_string(), c["exitCode"].as_i64()?))
                    })
                    .collect();
            }
            match verdict {
                TaskVerdict::Running(status) => {
                    if status != last_status {
                        self.out.progress(format!("task {short}: {status}"));
                        last_status = status;
                    }
                }
                TaskVerdict::Succeeded => {
                    self.out.progress(format!("task {short}: STOPPED"));
                    for line in why_stopped(task).lines() {
                        self.out.say(format!("  {}", line.trim_start()));
                    }
                    self.out.success("Task completed successfully.");
                    return Ok(());
                }
                TaskVerdict::Failed(why) => {
                    let mut message = format!("task {task_arn} failed: {why}");
                    if self.config.log_lines > 0 {
                        let (logs, notes) = self.failure_logs(task, deadline).await;
                        for line in logs.iter().map(ContainerLog::describe).chain(notes) {
                            self.out.progress(line);
                        }
                        for log in &logs {
                            if let Some(last) = log.lines.last() {
                                message.push_str(&format!(
                                    "\n  last log line of {}: {last}",
                                    log.container
                                ));
                            }
                        }
                        if let Some(task_report) = &mut report.task {
                            task_report.logs = logs;
                        }
                    }
                    return Err(Error::failed(message));
                }
            }
        }
    }
}
