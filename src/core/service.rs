//! A service as `DescribeServices` describes it: the fields the tool reads.
//! Pure data; the judges in `watch` read it.

use serde::Deserialize;

/// The fields of an ECS service that the wait reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    #[serde(default)]
    pub service_name: String,
    #[serde(default)]
    pub service_arn: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub task_definition: Option<String>,
    #[serde(default)]
    pub desired_count: u32,
    #[serde(default)]
    pub deployments: Vec<Deployment>,
    #[serde(default)]
    pub events: Vec<ServiceEvent>,
}

/// One entry of a service's `deployments`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    pub status: String,
    pub task_definition: String,
    #[serde(default)]
    pub desired_count: u32,
    #[serde(default)]
    pub running_count: u32,
    #[serde(default)]
    pub pending_count: u32,
    #[serde(default)]
    pub failed_tasks: u32,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED`; absent on old-style services.
    #[serde(default)]
    pub rollout_state: Option<String>,
    #[serde(default)]
    pub rollout_state_reason: Option<String>,
}

/// One entry of a service's `events` (newest first, as ECS lists them).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEvent {
    pub id: String,
    #[serde(default)]
    pub message: String,
}

impl Deployment {
    /// `N running, N pending, N desired`.
    pub fn counts(&self) -> String {
        format!(
            "{} running, {} pending, {} desired",
            self.running_count, self.pending_count, self.desired_count
        )
    }
}

impl Service {
    /// The deployment ECS is rolling towards.
    pub fn primary(&self) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.status == "PRIMARY")
    }

    /// The deployment with this id.
    pub fn deployment(&self, id: &str) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.id == id)
    }
}
