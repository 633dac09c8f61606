//! What a service's `deploymentConfiguration` asks of a ROLLING deployment besides its
//! strategy: the early success criteria, and the tunable deployment circuit breaker (its
//! failure threshold, whether a healthy task resets its failure count, whether it rolls
//! back). Read leniently: a value ECS would refuse (a test may seed one with
//! `FakeEcs::set_deployment_configuration`, to see what a client makes of it) reads as the
//! default. UpdateService checks what it is sent (`ops::check_deployment_configuration`).

use serde_json::Value;

/// The `ThresholdType`s of the model.
pub(crate) const THRESHOLD_TYPES: [&str; 3] = ["COUNT", "BOUNDED_PERCENT", "UNBOUNDED_PERCENT"];
/// The `ServiceRevisionCleanup`s of the model.
pub(crate) const CLEANUPS: [&str; 2] = ["BLOCKING", "DEFERRED"];

/// `earlySuccessCriteria.sourceServiceRevisionCleanup`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Cleanup {
    /// BLOCKING: the source revisions' tasks are removed before the deployment is SUCCESSFUL.
    Blocking,
    /// DEFERRED: the deployment is SUCCESSFUL, then the source revisions' tasks drain.
    Deferred,
}

/// `earlySuccessCriteria` that is enabled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct EarlySuccess {
    /// `healthyPercent`: the share of the desired tasks the target revision must run.
    pub(crate) healthy_percent: u32,
    /// `sourceServiceRevisionCleanup`.
    pub(crate) cleanup: Cleanup,
}

impl EarlySuccess {
    /// The early success criteria of a deploymentConfiguration: `None` unless `enable` is
    /// true with a `healthyPercent` of 0 to 100 and a `sourceServiceRevisionCleanup`.
    pub(crate) fn of(config: &Value) -> Option<EarlySuccess> {
        let criteria = &config["earlySuccessCriteria"];
        if criteria["enable"].as_bool() != Some(true) {
            return None;
        }
        let healthy_percent = criteria["healthyPercent"]
            .as_u64()
            .filter(|percent| *percent <= 100)?;
        let cleanup = match criteria["sourceServiceRevisionCleanup"].as_str()? {
            "BLOCKING" => Cleanup::Blocking,
            "DEFERRED" => Cleanup::Deferred,
            _ => return None,
        };
        Some(EarlySuccess {
            healthy_percent: healthy_percent as u32,
            cleanup,
        })
    }

    /// How many tasks of the target revision must run, out of `desired`: `healthyPercent` of
    /// it, rounded up.
    pub(crate) fn needed(self, desired: u32) -> u32 {
        (u64::from(desired) * u64::from(self.healthy_percent)).div_ceil(100) as u32
    }
}

/// `deploymentCircuitBreaker.thresholdConfiguration` as (type, value), when it is readable.
fn threshold_configuration(config: &Value) -> Option<(&str, u64)> {
    let threshold = &config["deploymentCircuitBreaker"]["thresholdConfiguration"];
    let kind = threshold["type"]
        .as_str()
        .filter(|kind| THRESHOLD_TYPES.contains(kind))?;
    Some((kind, threshold["value"].as_u64()?))
}

/// Whether the deploymentConfiguration sets the circuit breaker's threshold
/// (`thresholdConfiguration`): then a failing ROLLING rollout trips at that threshold rather
/// than after its scripted polls.
pub(crate) fn sets_threshold(config: &Value) -> bool {
    threshold_configuration(config).is_some()
}

/// The circuit breaker's failure threshold for a deployment of `desired` tasks, as the model
/// documents `thresholdConfiguration`: COUNT: `value`; BOUNDED_PERCENT: `value` percent of
/// `desired` (rounded up), at least 3 and at most 200; UNBOUNDED_PERCENT: `value` percent of
/// `desired` (rounded up), neither. Without one, BOUNDED_PERCENT 50 (the model's default):
/// half the desired count, at least 3 and at most 200.
pub(crate) fn circuit_breaker_threshold(config: &Value, desired: u32) -> u32 {
    let percent = |value: u64| (u64::from(desired) * value).div_ceil(100);
    let threshold = match threshold_configuration(config) {
        Some(("COUNT", value)) => value,
        Some(("UNBOUNDED_PERCENT", value)) => percent(value),
        Some((_, value)) => percent(value).clamp(3, 200),
        None => percent(50).clamp(3, 200),
    };
    u32::try_from(threshold).unwrap_or(u32::MAX)
}

/// `deploymentCircuitBreaker.resetOnHealthyTask` (true unless it says false): whether a task
/// of the target revision turning healthy sets the failure count back to 0.
pub(crate) fn resets_on_healthy_task(config: &Value) -> bool {
    config["deploymentCircuitBreaker"]["resetOnHealthyTask"]
        .as_bool()
        .unwrap_or(true)
}

/// `deploymentCircuitBreaker.rollback`: whether a deployment the circuit breaker fails is
/// rolled back.
pub(crate) fn circuit_breaker_rolls_back(config: &Value) -> bool {
    config["deploymentCircuitBreaker"]["rollback"]
        .as_bool()
        .unwrap_or(false)
}
