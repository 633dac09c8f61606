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
    /// Who deploys it: `ECS` (absent means ECS), `CODE_DEPLOY` or `EXTERNAL`.
    #[serde(default)]
    pub deployment_controller: Option<DeploymentController>,
    /// How ECS deploys it (strategy, bake times, alarms, hooks).
    #[serde(default)]
    pub deployment_configuration: DeploymentConfiguration,
    /// The ARN of the service deployment ECS is on, where it says.
    #[serde(default)]
    pub current_service_deployment: Option<String>,
    /// What a CodeDeploy AppSpec takes from the service.
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancer>,
    #[serde(default)]
    pub platform_version: Option<String>,
    #[serde(default)]
    pub network_configuration: Option<serde_json::Value>,
    #[serde(default)]
    pub capacity_provider_strategy: Option<serde_json::Value>,
    /// `ECS` for an Express Mode service (ECS manages it), else `CUSTOMER`
    /// or absent.
    #[serde(default)]
    pub resource_management_type: Option<String>,
}

/// One of a service's `loadBalancers`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    #[serde(default)]
    pub container_name: Option<String>,
    #[serde(default)]
    pub container_port: Option<u32>,
}

/// A service's `deploymentController`.
#[derive(Debug, Clone, Deserialize)]
pub struct DeploymentController {
    /// `ECS`, `CODE_DEPLOY` or `EXTERNAL`.
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// The parts of a service's `deploymentConfiguration` that decide how a
/// deploy is watched and how long it may take.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfiguration {
    /// `ROLLING` (absent means ROLLING), `BLUE_GREEN`, `LINEAR` or `CANARY`.
    #[serde(default)]
    pub strategy: Option<String>,
    /// How long both revisions run after production traffic has shifted.
    #[serde(default)]
    pub bake_time_in_minutes: Option<u32>,
    #[serde(default)]
    pub linear_configuration: Option<LinearConfiguration>,
    #[serde(default)]
    pub canary_configuration: Option<CanaryConfiguration>,
    /// When a rolling deployment may succeed before it is complete.
    #[serde(default)]
    pub early_success_criteria: Option<EarlySuccessCriteria>,
}

/// `earlySuccessCriteria`: a rolling deployment succeeds once this share of
/// the desired tasks of the new revision is healthy (and any bake passed);
/// ECS scales the rest, and with `DEFERRED` removes the old tasks, after.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EarlySuccessCriteria {
    #[serde(default)]
    pub enable: bool,
    #[serde(default)]
    pub healthy_percent: Option<u32>,
    /// `BLOCKING` or `DEFERRED`.
    #[serde(default)]
    pub source_service_revision_cleanup: Option<String>,
}

impl DeploymentConfiguration {
    /// The early success a rolling deployment of this configuration may
    /// have: the healthy share it succeeds at, and whether the old tasks
    /// are removed after success (`DEFERRED`).
    pub fn early_success(&self) -> Option<(u32, bool)> {
        let criteria = self.early_success_criteria.as_ref().filter(|c| c.enable)?;
        let deferred = criteria.source_service_revision_cleanup.as_deref() == Some("DEFERRED");
        Some((criteria.healthy_percent.unwrap_or(100).min(100), deferred))
    }
}

/// `linearConfiguration`: production traffic shifts in steps, each baked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinearConfiguration {
    #[serde(default)]
    pub step_percent: Option<f64>,
    #[serde(default)]
    pub step_bake_time_in_minutes: Option<u32>,
}

/// `canaryConfiguration`: a share of production traffic first, baked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryConfiguration {
    #[serde(default)]
    pub canary_bake_time_in_minutes: Option<u32>,
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
    /// Whether ECS manages the service from an express configuration.
    pub fn is_express(&self) -> bool {
        self.resource_management_type.as_deref() == Some("ECS")
    }

    /// The deployment ECS is rolling towards.
    pub fn primary(&self) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.status == "PRIMARY")
    }

    /// The deployment with this id.
    pub fn deployment(&self, id: &str) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn early_success_is_read_where_it_is_on() {
        let config = |value: serde_json::Value| -> DeploymentConfiguration {
            serde_json::from_value(value).unwrap()
        };
        assert_eq!(config(json!({})).early_success(), None);
        assert_eq!(
            config(json!({"earlySuccessCriteria": {"enable": false, "healthyPercent": 50}}))
                .early_success(),
            None
        );
        assert_eq!(
            config(json!({"earlySuccessCriteria": {"enable": true, "healthyPercent": 50, "sourceServiceRevisionCleanup": "DEFERRED"}}))
                .early_success(),
            Some((50, true))
        );
        assert_eq!(
            config(json!({"earlySuccessCriteria": {"enable": true, "healthyPercent": 75, "sourceServiceRevisionCleanup": "BLOCKING"}}))
                .early_success(),
            Some((75, false))
        );
    }
}
