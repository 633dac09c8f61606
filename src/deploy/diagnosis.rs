//! Why tasks failed, in the application's own words (design §12): the last
//! lines of each failed container's CloudWatch log, read once per kind of
//! failure. A log that cannot be read never changes an outcome, an exit
//! code or a rollback: one line says why, and the run goes on.

use serde_json::Value;

use super::{Deadline, Deployer};
use crate::aws::client::AwsError;
use crate::aws::logs::Logs;
use crate::core::logs::{self, ContainerLog, LogSource};
use crate::core::tasks;

impl Deployer<'_> {
    /// The logs of the containers that failed `task` (the last
    /// `--log-lines` of each), and a line for each container whose log is
    /// not read here or could not be read. Every call ends by `deadline`.
    pub(super) async fn failure_logs(
        &self,
        task: &Value,
        deadline: Deadline,
    ) -> (Vec<ContainerLog>, Vec<String>) {
        let mut read = Vec::new();
        let mut notes = Vec::new();
        let arn = task["taskDefinitionArn"].as_str().unwrap_or_default();
        let revision = match self.revision(arn, deadline).await {
            Ok(revision) => revision,
            Err(e) => {
                notes.push(format!(
                    "could not read {arn} to find its containers' logs: {e}"
                ));
                return (read, notes);
            }
        };
        let essential = tasks::essential_containers(&revision);
        let task_id = tasks::task_id(task["taskArn"].as_str().unwrap_or_default());
        for container in logs::failed_containers(task, &essential) {
            let LogSource::Awslogs {
                group,
                region,
                prefix,
            } = LogSource::of(&revision, &container)
            else {
                notes.extend(LogSource::of(&revision, &container).not_read(&container));
                continue;
            };
            let stream = logs::stream(&prefix, &container, task_id);
            let region = region.as_deref().unwrap_or(&self.region);
            match self.last_lines(region, &group, &stream, deadline).await {
                Ok(lines) => read.push(ContainerLog {
                    container,
                    task: task_id.to_string(),
                    lines: lines.iter().map(|line| logs::cut(line)).collect(),
                }),
                Err(e) => notes.push(format!(
                    "could not read the log of {container} (group {group}, stream {stream}): {e}"
                )),
            }
        }
        (read, notes)
    }

    /// What the diagnosis reads of a revision ([`logs::log_view`]): kept
    /// when this run registered it, else described once.
    pub(super) async fn revision(&self, arn: &str, deadline: Deadline) -> Result<Value, AwsError> {
        if let Some(known) = self.revisions.borrow().get(arn) {
            return Ok(known.clone());
        }
        let described = self.ecs.describe_task_definition(arn, false);
        let described = deadline.bound("DescribeTaskDefinition", described).await?;
        let view = logs::log_view(&described.description);
        self.revisions
            .borrow_mut()
            .insert(arn.to_string(), view.clone());
        Ok(view)
    }

    /// The last `--log-lines` lines of a stream.
    async fn last_lines(
        &self,
        region: &str,
        group: &str,
        stream: &str,
        deadline: Deadline,
    ) -> Result<Vec<String>, String> {
        let client = self
            .others
            .client("logs", region)
            .map_err(|e| e.to_string())?;
        let logs = Logs::new(client);
        let lines = logs.last_lines(group, stream, self.config.log_lines);
        deadline
            .bound("GetLogEvents", lines)
            .await
            .map_err(|e| e.to_string())
    }
}
