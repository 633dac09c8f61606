//! The service-deployment judge (design §10): what ECS says of a deployment
//! through `DescribeServiceDeployments` — for blue/green, linear and canary
//! deployments the only truth (both revisions run through the bake), and the
//! most exact signal for rolling ones. Also what of it is news worth a line.

use std::collections::HashSet;

use serde::Deserialize;

use super::{Failure, Verdict};

/// ECS's lifecycle stages of a service deployment, in the order they come.
pub const STAGES: [&str; 10] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
];

/// The position of a stage in [`STAGES`].
pub fn stage_index(stage: &str) -> Option<usize> {
    STAGES.iter().position(|s| *s == stage)
}

/// A service deployment as `DescribeServiceDeployments` describes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDeployment {
    pub service_deployment_arn: String,
    pub status: String,
    #[serde(default)]
    pub status_reason: Option<String>,
    #[serde(default)]
    pub lifecycle_stage: Option<String>,
    #[serde(default)]
    pub target_service_revision: Option<RevisionSummary>,
    /// The revisions it replaces.
    #[serde(default)]
    pub source_service_revisions: Vec<RevisionSummary>,
    #[serde(default)]
    pub rollback: Option<Rollback>,
    #[serde(default)]
    pub deployment_circuit_breaker: Option<CircuitBreaker>,
    #[serde(default)]
    pub alarms: Option<Alarms>,
    #[serde(default)]
    pub lifecycle_hook_details: Vec<HookDetail>,
}

/// `targetServiceRevision`: the traffic asked for the new revision.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionSummary {
    /// The service revision's ARN.
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub requested_production_traffic_weight: Option<f64>,
    #[serde(default)]
    pub requested_test_traffic_weight: Option<f64>,
}

/// `rollback`: why ECS rolls (or rolled) the deployment back.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollback {
    #[serde(default)]
    pub reason: Option<String>,
}

/// `deploymentCircuitBreaker`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CircuitBreaker {
    #[serde(default)]
    pub failure_count: u32,
    #[serde(default)]
    pub threshold: u32,
}

/// `alarms`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alarms {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub alarm_names: Vec<String>,
    #[serde(default)]
    pub triggered_alarm_names: Vec<String>,
}

/// One of `lifecycleHookDetails[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookDetail {
    #[serde(default)]
    pub hook_id: String,
    #[serde(default)]
    pub status: Option<String>,
}

impl ServiceDeployment {
    /// The PAUSE hook waiting for a person, if one is.
    pub fn awaiting_hook(&self) -> Option<&HookDetail> {
        self.lifecycle_hook_details
            .iter()
            .find(|h| h.status.as_deref() == Some("AWAITING_ACTION"))
    }

    /// The alarms that went into ALARM.
    pub fn triggered_alarms(&self) -> Vec<String> {
        self.alarms
            .as_ref()
            .map(|a| a.triggered_alarm_names.clone())
            .unwrap_or_default()
    }

    /// The failure this deployment's status is, if it is one.
    fn failure(&self) -> Option<Failure> {
        let rolled_back = is_ecs_rollback(&self.status);
        let ended = self.status == "ROLLBACK_FAILED" || is_stopped(&self.status);
        (rolled_back || ended).then(|| self.as_failure(true))
    }

    /// This deployment as a failure; `with_health` adds what judged it (the
    /// alarms, the circuit breaker), which a rollback's own end does not need.
    fn as_failure(&self, with_health: bool) -> Failure {
        let breaker = self
            .deployment_circuit_breaker
            .as_ref()
            .filter(|b| with_health && b.failure_count > 0)
            .map(|b| (b.failure_count, b.threshold));
        Failure::ServiceDeployment {
            status: self.status.clone(),
            to: None,
            reason: self.status_reason.clone(),
            rollback_reason: self.rollback.as_ref().and_then(|r| r.reason.clone()),
            triggered_alarms: if with_health {
                self.triggered_alarms()
            } else {
                Vec::new()
            },
            circuit_breaker: breaker,
        }
    }
}

/// Whether a service deployment status is still going: the deployment can
/// still be stopped, and is the one a service's update started.
pub fn is_active(status: &str) -> bool {
    matches!(status, "PENDING" | "IN_PROGRESS")
}

/// Whether a service deployment status says it was stopped without a
/// rollback (someone asked, or a newer deployment replaced it).
pub fn is_stopped(status: &str) -> bool {
    matches!(status, "STOPPED" | "STOP_REQUESTED")
}

/// Whether a service deployment status says ECS rolls (or rolled) it back
/// by itself.
pub fn is_ecs_rollback(status: &str) -> bool {
    matches!(
        status,
        "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" | "ROLLBACK_SUCCESSFUL"
    )
}

/// Judges a deployment: done on `SUCCESSFUL` — or, with `until`, as soon as
/// it reaches that stage — failed on the poll that shows a rollback, a stop
/// or a failed rollback.
pub fn judge(deployment: &ServiceDeployment, until: Option<&str>) -> Verdict {
    if deployment.status == "SUCCESSFUL" {
        return Verdict::Done;
    }
    if let Some(failure) = deployment.failure() {
        return Verdict::Failed(failure);
    }
    let reached = |until: &str| {
        let stage = deployment.lifecycle_stage.as_deref().and_then(stage_index);
        stage.is_some() && stage >= stage_index(until)
    };
    if until.is_some_and(reached) {
        return Verdict::Done;
    }
    Verdict::Pending
}

/// Judges a deployment that is being rolled back (`StopServiceDeployment
/// ROLLBACK`): done on `ROLLBACK_SUCCESSFUL`.
pub fn judge_rollback(deployment: &ServiceDeployment) -> Verdict {
    match deployment.status.as_str() {
        "ROLLBACK_SUCCESSFUL" => Verdict::Done,
        "ROLLBACK_FAILED" | "STOPPED" | "SUCCESSFUL" => {
            Verdict::Failed(deployment.as_failure(false))
        }
        _ => Verdict::Pending,
    }
}

/// What changed in a deployment that a person wants a line about.
#[derive(Debug, Clone, PartialEq)]
pub enum News {
    /// A new lifecycle stage (`from` the previous one, if one was seen).
    Stage { from: Option<String>, to: String },
    /// The new revision's share of traffic, in percent.
    Traffic { production: f64, test: f64 },
    /// The alarms' monitoring status, and those in ALARM.
    Alarms {
        status: String,
        names: Vec<String>,
        triggered: Vec<String>,
    },
    /// Tasks the circuit breaker counts as failed, of its threshold.
    CircuitBreaker { failures: u32, threshold: u32 },
    /// A PAUSE hook waits for someone to continue or roll back.
    Paused { hook_id: String, stage: String },
}

/// Remembers what of a service deployment has been reported.
#[derive(Debug, Default)]
pub struct Reported {
    stage: Option<String>,
    traffic: Option<(f64, f64)>,
    alarms: Option<(String, Vec<String>)>,
    failures: u32,
    hooks: HashSet<String>,
}

impl Reported {
    /// Notes a PAUSE hook that has been answered: that it waited is no
    /// news any more, even in an answer that still shows it waiting.
    pub fn answered(&mut self, hook_id: &str) {
        self.hooks.insert(hook_id.to_string());
    }

    /// What is new in `deployment` since the last call.
    pub fn news(&mut self, deployment: &ServiceDeployment) -> Vec<News> {
        let mut news = Vec::new();
        if let Some(stage) = &deployment.lifecycle_stage {
            if self.stage.as_ref() != Some(stage) {
                news.push(News::Stage {
                    from: self.stage.replace(stage.clone()),
                    to: stage.clone(),
                });
            }
        }
        if let Some(target) = &deployment.target_service_revision {
            let weights = (
                target.requested_production_traffic_weight,
                target.requested_test_traffic_weight,
            );
            if let (Some(production), test) = weights {
                let traffic = (production, test.unwrap_or(0.0));
                if self.traffic != Some(traffic)
                    && (self.traffic.is_some() || traffic != (0.0, 0.0))
                {
                    news.push(News::Traffic {
                        production: traffic.0,
                        test: traffic.1,
                    });
                }
                self.traffic = Some(traffic);
            }
        }
        if let Some(alarms) = &deployment.alarms {
            let status = alarms.status.clone().unwrap_or_default();
            let seen = (status.clone(), alarms.triggered_alarm_names.clone());
            if !status.is_empty() && status != "DISABLED" && self.alarms.as_ref() != Some(&seen) {
                news.push(News::Alarms {
                    status,
                    names: alarms.alarm_names.clone(),
                    triggered: alarms.triggered_alarm_names.clone(),
                });
                self.alarms = Some(seen);
            }
        }
        if let Some(breaker) = &deployment.deployment_circuit_breaker {
            if breaker.failure_count > self.failures {
                self.failures = breaker.failure_count;
                news.push(News::CircuitBreaker {
                    failures: breaker.failure_count,
                    threshold: breaker.threshold,
                });
            }
        }
        if let Some(hook) = deployment.awaiting_hook() {
            if self.hooks.insert(hook.hook_id.clone()) {
                news.push(News::Paused {
                    hook_id: hook.hook_id.clone(),
                    stage: deployment.lifecycle_stage.clone().unwrap_or_default(),
                });
            }
        }
        news
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(value: serde_json::Value) -> ServiceDeployment {
        let mut base = json!({"serviceDeploymentArn": "arn:sd/1", "status": "IN_PROGRESS"});
        base.as_object_mut()
            .unwrap()
            .extend(value.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn only_successful_is_done_and_every_rollback_or_stop_fails_at_once() {
        let at = |status: &str| judge(&deployment(json!({"status": status})), None);
        assert_eq!(at("SUCCESSFUL"), Verdict::Done);
        for pending in ["PENDING", "IN_PROGRESS", "SOMETHING_NEW"] {
            assert_eq!(at(pending), Verdict::Pending, "{pending}");
        }
        for failed in [
            "ROLLBACK_REQUESTED",
            "ROLLBACK_IN_PROGRESS",
            "ROLLBACK_SUCCESSFUL",
            "ROLLBACK_FAILED",
            "STOPPED",
            "STOP_REQUESTED",
        ] {
            assert!(matches!(at(failed), Verdict::Failed(_)), "{failed}");
        }
    }

    #[test]
    fn a_failure_carries_the_reasons_alarms_and_breaker() {
        let d = deployment(json!({
            "status": "ROLLBACK_IN_PROGRESS",
            "statusReason": "Service deployment rolled back",
            "rollback": {"reason": "CloudWatch alarm web-5xx is in ALARM state."},
            "alarms": {"status": "TRIGGERED", "alarmNames": ["web-5xx", "web-p99"], "triggeredAlarmNames": ["web-5xx"]},
            "deploymentCircuitBreaker": {"status": "MONITORING", "failureCount": 2, "threshold": 10}
        }));
        let Verdict::Failed(failure) = judge(&d, None) else {
            panic!()
        };
        assert!(failure.is_ecs_rollback());
        let text = failure.to_string();
        for part in [
            "ECS rolled the deployment back (ROLLBACK_IN_PROGRESS)",
            "CloudWatch alarm web-5xx is in ALARM state",
            "alarms in ALARM: web-5xx",
            "circuit breaker: 2 of 10 tasks failed",
        ] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
        let Verdict::Failed(stopped) = judge(&deployment(json!({"status": "STOPPED"})), None)
        else {
            panic!()
        };
        assert!(!stopped.is_ecs_rollback());
    }

    #[test]
    fn wait_until_a_stage_succeeds_there_but_not_after_a_rollback() {
        let d = |stage: &str, status: &str| {
            deployment(json!({"lifecycleStage": stage, "status": status}))
        };
        assert_eq!(
            judge(&d("TEST_TRAFFIC_SHIFT", "IN_PROGRESS"), Some("BAKE_TIME")),
            Verdict::Pending
        );
        assert_eq!(
            judge(&d("BAKE_TIME", "IN_PROGRESS"), Some("BAKE_TIME")),
            Verdict::Done
        );
        assert_eq!(
            judge(&d("CLEAN_UP", "IN_PROGRESS"), Some("BAKE_TIME")),
            Verdict::Done
        );
        assert!(matches!(
            judge(&d("BAKE_TIME", "ROLLBACK_IN_PROGRESS"), Some("BAKE_TIME")),
            Verdict::Failed(_)
        ));
        assert_eq!(
            judge(&deployment(json!({})), Some("SCALE_UP")),
            Verdict::Pending
        );
    }

    #[test]
    fn a_rollback_is_done_when_it_succeeded() {
        let at = |status: &str| judge_rollback(&deployment(json!({"status": status})));
        assert_eq!(at("ROLLBACK_REQUESTED"), Verdict::Pending);
        assert_eq!(at("ROLLBACK_IN_PROGRESS"), Verdict::Pending);
        assert_eq!(at("ROLLBACK_SUCCESSFUL"), Verdict::Done);
        assert!(matches!(at("ROLLBACK_FAILED"), Verdict::Failed(_)));
    }

    #[test]
    fn news_is_only_what_changed() {
        let mut reported = Reported::default();
        let first = deployment(json!({
            "lifecycleStage": "SCALE_UP",
            "targetServiceRevision": {"arn": "r2", "requestedProductionTrafficWeight": 0.0, "requestedTestTrafficWeight": 0.0},
            "alarms": {"status": "MONITORING", "alarmNames": ["web-5xx"], "triggeredAlarmNames": []}
        }));
        assert_eq!(
            reported.news(&first),
            [
                News::Stage {
                    from: None,
                    to: "SCALE_UP".into()
                },
                News::Alarms {
                    status: "MONITORING".into(),
                    names: vec!["web-5xx".into()],
                    triggered: vec![]
                }
            ]
        );
        assert!(reported.news(&first).is_empty());
        let shifted = deployment(json!({
            "lifecycleStage": "PRODUCTION_TRAFFIC_SHIFT",
            "targetServiceRevision": {"arn": "r2", "requestedProductionTrafficWeight": 25.0, "requestedTestTrafficWeight": 100.0},
            "alarms": {"status": "MONITORING", "alarmNames": ["web-5xx"], "triggeredAlarmNames": []},
            "deploymentCircuitBreaker": {"status": "MONITORING", "failureCount": 1, "threshold": 5},
            "lifecycleHookDetails": [{"hookId": "h1", "targetType": "PAUSE", "status": "AWAITING_ACTION"}]
        }));
        assert_eq!(
            reported.news(&shifted),
            [
                News::Stage {
                    from: Some("SCALE_UP".into()),
                    to: "PRODUCTION_TRAFFIC_SHIFT".into()
                },
                News::Traffic {
                    production: 25.0,
                    test: 100.0
                },
                News::CircuitBreaker {
                    failures: 1,
                    threshold: 5
                },
                News::Paused {
                    hook_id: "h1".into(),
                    stage: "PRODUCTION_TRAFFIC_SHIFT".into()
                },
            ]
        );
        assert!(reported.news(&shifted).is_empty());
    }
}
