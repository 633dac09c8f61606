//! Service deployments: the record ECS keeps of each deployment of an `ECS`-controller service
//! (what DescribeServiceDeployments and ListServiceDeployments answer), its status changes,
//! and how it renders.

use serde_json::{json, Map, Value};

use crate::account::arn;
use crate::deployment_configuration::{circuit_breaker_threshold, resets_on_healthy_task};

pub(crate) const PENDING: &str = "PENDING";
pub(crate) const IN_PROGRESS: &str = "IN_PROGRESS";
pub(crate) const SUCCESSFUL: &str = "SUCCESSFUL";
pub(crate) const STOPPED: &str = "STOPPED";
pub(crate) const STOP_REQUESTED: &str = "STOP_REQUESTED";
pub(crate) const ROLLBACK_REQUESTED: &str = "ROLLBACK_REQUESTED";
pub(crate) const ROLLBACK_IN_PROGRESS: &str = "ROLLBACK_IN_PROGRESS";
pub(crate) const ROLLBACK_SUCCESSFUL: &str = "ROLLBACK_SUCCESSFUL";
pub(crate) const ROLLBACK_FAILED: &str = "ROLLBACK_FAILED";

/// Every ServiceDeploymentStatus of the model.
pub(crate) const STATUSES: [&str; 9] = [
    PENDING,
    SUCCESSFUL,
    STOPPED,
    STOP_REQUESTED,
    IN_PROGRESS,
    ROLLBACK_REQUESTED,
    ROLLBACK_IN_PROGRESS,
    ROLLBACK_SUCCESSFUL,
    ROLLBACK_FAILED,
];

/// A ServiceDeploymentRollbackMonitorsStatus: the circuit breaker or the alarms watch.
pub(crate) const MONITORING: &str = "MONITORING";
/// The monitor fired.
pub(crate) const TRIGGERED: &str = "TRIGGERED";
/// The deployment ended without the monitor firing.
pub(crate) const MONITORING_COMPLETE: &str = "MONITORING_COMPLETE";
/// The monitor is not configured.
pub(crate) const DISABLED: &str = "DISABLED";

/// The lifecycle stage of a finished deployment: the old revision is scaled down.
pub(crate) const CLEAN_UP: &str = "CLEAN_UP";
/// The lifecycle stage of a rolling update while tasks are replaced.
pub(crate) const SCALE_UP: &str = "SCALE_UP";

/// How a deployment moves traffic: `deploymentConfiguration.strategy` when it began.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Strategy {
    /// ROLLING (or no strategy): tasks are replaced, traffic follows the tasks.
    Rolling,
    /// BLUE_GREEN: all production traffic moves in one step.
    BlueGreen,
    /// LINEAR: production traffic moves `step_percent` at a time.
    Linear {
        /// `linearConfiguration.stepPercent` (default 10).
        step_percent: f64,
    },
    /// CANARY: `canary_percent` of production traffic first, then the rest.
    Canary {
        /// `canaryConfiguration.canaryPercent` (default 5).
        canary_percent: f64,
    },
}

impl Strategy {
    /// The strategy a deploymentConfiguration asks for; `None` for an unknown one.
    pub(crate) fn of(config: &Value) -> Option<Strategy> {
        let percent = |object: &str, key: &str, default: f64| {
            config[object][key]
                .as_f64()
                .filter(|p| *p > 0.0 && *p <= 100.0)
                .unwrap_or(default)
        };
        match config["strategy"].as_str().unwrap_or("ROLLING") {
            "ROLLING" => Some(Strategy::Rolling),
            "BLUE_GREEN" => Some(Strategy::BlueGreen),
            "LINEAR" => Some(Strategy::Linear {
                step_percent: percent("linearConfiguration", "stepPercent", 10.0),
            }),
            "CANARY" => Some(Strategy::Canary {
                canary_percent: percent("canaryConfiguration", "canaryPercent", 5.0),
            }),
            _ => None,
        }
    }

    /// The production weights of the new revision, one per PRODUCTION_TRAFFIC_SHIFT poll; the
    /// last is 100.
    pub(crate) fn production_shifts(self) -> Vec<f64> {
        match self {
            Strategy::Rolling | Strategy::BlueGreen => vec![100.0],
            Strategy::Linear { step_percent } => {
                let mut weights = Vec::new();
                let mut k = 1.0;
                loop {
                    let weight = ((step_percent * k) * 100.0).round() / 100.0;
                    if weight >= 100.0 {
                        weights.push(100.0);
                        return weights;
                    }
                    weights.push(weight);
                    k += 1.0;
                }
            }
            Strategy::Canary { canary_percent } if canary_percent < 100.0 => {
                vec![canary_percent, 100.0]
            }
            Strategy::Canary { .. } => vec![100.0],
        }
    }
}

/// One service revision a service deployment moves from or to, and its task counts (kept
/// up to date while the deployment is under way, frozen once it ends).
pub(crate) struct Revision {
    pub(crate) arn: String,
    /// The `deployments[]` entry that ran this revision when the service deployment began.
    pub(crate) deployment_id: String,
    pub(crate) requested: u32,
    pub(crate) running: u32,
    pub(crate) pending: u32,
}

impl Revision {
    pub(crate) fn new(arn: String, deployment_id: String) -> Revision {
        Revision {
            arn,
            deployment_id,
            requested: 0,
            running: 0,
            pending: 0,
        }
    }

    fn render(&self, weights: Option<(f64, f64)>) -> Value {
        let mut m = Map::new();
        m.insert("arn".into(), json!(self.arn));
        m.insert("requestedTaskCount".into(), json!(self.requested));
        m.insert("runningTaskCount".into(), json!(self.running));
        m.insert("pendingTaskCount".into(), json!(self.pending));
        if let Some((production, test)) = weights {
            m.insert("requestedProductionTrafficWeight".into(), json!(production));
            m.insert("requestedTestTrafficWeight".into(), json!(test));
        }
        Value::Object(m)
    }
}

/// A PAUSE lifecycle hook the deployment waits at (see `Rollout::PauseAt`).
pub(crate) struct Hook {
    pub(crate) id: String,
    pub(crate) status: &'static str,
    expires_at: f64,
}

/// The hook status while a PAUSE hook waits for ContinueServiceDeployment.
pub(crate) const AWAITING_ACTION: &str = "AWAITING_ACTION";

/// `rollback` of a service deployment.
struct RollbackDetail {
    reason: String,
    started_at: f64,
    service_revision_arn: String,
}

/// The deployment circuit breaker as the service deployment reports it.
pub(crate) struct CircuitBreaker {
    pub(crate) status: &'static str,
    pub(crate) threshold: u32,
    pub(crate) failure_count: u32,
    /// The target's failed tasks when the count was last reset (a task turned healthy).
    failure_base: u32,
    /// The target's running tasks when the count was last taken.
    healthy: u32,
}

/// The CloudWatch alarms as the service deployment reports them.
pub(crate) struct Alarms {
    pub(crate) status: &'static str,
    pub(crate) names: Vec<String>,
    pub(crate) triggered: Vec<String>,
}

/// One service deployment.
pub(crate) struct ServiceDeployment {
    pub(crate) arn: String,
    service_arn: String,
    cluster_arn: String,
    pub(crate) strategy: Strategy,
    pub(crate) created_at: f64,
    started_at: Option<f64>,
    updated_at: f64,
    finished_at: Option<f64>,
    stopped_at: Option<f64>,
    pub(crate) sources: Vec<Revision>,
    pub(crate) target: Revision,
    /// The target's requested production traffic weight (percent); the sources share the rest.
    pub(crate) production_weight: f64,
    /// The target's requested test traffic weight (percent).
    pub(crate) test_weight: f64,
    pub(crate) status: &'static str,
    status_reason: Option<String>,
    pub(crate) stage: Option<&'static str>,
    pub(crate) hooks: Vec<Hook>,
    deployment_configuration: Value,
    rollback: Option<RollbackDetail>,
    pub(crate) circuit_breaker: CircuitBreaker,
    pub(crate) alarms: Alarms,
}

impl ServiceDeployment {
    /// A PENDING service deployment from `sources` to `target`, with a copy of the service's
    /// deploymentConfiguration; the circuit breaker's threshold is for a deployment of
    /// `target.requested` tasks.
    pub(crate) fn new(
        cluster: &str,
        service: &str,
        config: &Value,
        strategy: Strategy,
        sources: Vec<Revision>,
        target: Revision,
        now: f64,
    ) -> ServiceDeployment {
        let suffix = target
            .deployment_id
            .rsplit('/')
            .next()
            .unwrap_or(&target.deployment_id)
            .to_string();
        let enabled = |object: &str| config[object]["enable"].as_bool().unwrap_or(false);
        let threshold = circuit_breaker_threshold(config, target.requested);
        let alarm_names: Vec<String> = config["alarms"]["alarmNames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect();
        ServiceDeployment {
            arn: arn(&format!("service-deployment/{cluster}/{service}/{suffix}")),
            service_arn: arn(&format!("service/{cluster}/{service}")),
            cluster_arn: arn(&format!("cluster/{cluster}")),
            strategy,
            created_at: now,
            started_at: None,
            updated_at: now,
            finished_at: None,
            stopped_at: None,
            sources,
            target,
            production_weight: 0.0,
            test_weight: 0.0,
            status: PENDING,
            status_reason: None,
            stage: None,
            hooks: Vec::new(),
            deployment_configuration: config.clone(),
            rollback: None,
            circuit_breaker: CircuitBreaker {
                status: if enabled("deploymentCircuitBreaker") {
                    MONITORING
                } else {
                    DISABLED
                },
                threshold,
                failure_count: 0,
                failure_base: 0,
                healthy: 0,
            },
            alarms: Alarms {
                status: if enabled("alarms") && !alarm_names.is_empty() {
                    MONITORING
                } else {
                    DISABLED
                },
                names: alarm_names,
                triggered: Vec::new(),
            },
        }
    }

    /// The deploymentConfiguration the deployment began with.
    pub(crate) fn configuration(&self) -> &Value {
        &self.deployment_configuration
    }

    /// The circuit breaker's failure count if the target revision has had `failed` tasks
    /// fail in all: those since a task last turned healthy, where resetOnHealthyTask (true
    /// unless it says false) resets the count, else all of them.
    pub(crate) fn failures_since_reset(&self, failed: u32) -> u32 {
        failed.saturating_sub(self.circuit_breaker.failure_base)
    }

    /// Take the circuit breaker's failure count: the target revision has had `failed` tasks
    /// fail in all and runs `healthy` tasks now; more healthy tasks than last time reset the
    /// count to 0 where resetOnHealthyTask says so.
    pub(crate) fn count_failures(&mut self, failed: u32, healthy: u32) {
        let resets = resets_on_healthy_task(&self.deployment_configuration);
        let breaker = &mut self.circuit_breaker;
        if resets && healthy > breaker.healthy {
            breaker.failure_base = failed;
        }
        breaker.healthy = healthy;
        breaker.failure_count = failed.saturating_sub(breaker.failure_base);
    }

    /// Over: SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL or ROLLBACK_FAILED.
    pub(crate) fn is_final(&self) -> bool {
        matches!(
            self.status,
            SUCCESSFUL | STOPPED | ROLLBACK_SUCCESSFUL | ROLLBACK_FAILED
        )
    }

    /// PENDING or IN_PROGRESS: what StopServiceDeployment may still stop.
    pub(crate) fn is_under_way(&self) -> bool {
        matches!(self.status, PENDING | IN_PROGRESS)
    }

    /// PENDING turns IN_PROGRESS (the first poll); a stage change.
    pub(crate) fn enter(&mut self, now: f64, stage: &'static str) {
        if self.status == PENDING {
            self.status = IN_PROGRESS;
            self.started_at = Some(now);
        }
        self.stage = Some(stage);
        self.updated_at = now;
    }

    /// The monitors that were watching are done.
    fn end_monitoring(&mut self) {
        for status in [&mut self.circuit_breaker.status, &mut self.alarms.status] {
            if *status == MONITORING {
                *status = MONITORING_COMPLETE;
            }
        }
    }

    /// SUCCESSFUL: the target revision took over.
    pub(crate) fn succeed(&mut self, now: f64) {
        if self.started_at.is_none() {
            self.started_at = Some(now);
        }
        self.status = SUCCESSFUL;
        self.stage = Some(CLEAN_UP);
        self.finished_at = Some(now);
        self.updated_at = now;
        self.production_weight = 100.0;
        self.test_weight = 100.0;
        self.end_monitoring();
    }

    /// STOPPED for `reason` (the service stays where it is).
    pub(crate) fn stop(&mut self, now: f64, reason: &str) {
        self.status = STOPPED;
        self.status_reason = Some(reason.to_string());
        self.stopped_at = Some(now);
        self.updated_at = now;
        self.end_monitoring();
    }

    /// A request to stop: STOP_REQUESTED (ABORT) or ROLLBACK_REQUESTED (ROLLBACK, with
    /// `rollback` filled in).
    pub(crate) fn request_stop(&mut self, now: f64, rollback_reason: Option<&str>) {
        self.updated_at = now;
        match rollback_reason {
            None => self.status = STOP_REQUESTED,
            Some(reason) => {
                self.status = ROLLBACK_REQUESTED;
                self.note_rollback(now, reason);
            }
        }
    }

    fn note_rollback(&mut self, now: f64, reason: &str) {
        self.status_reason = Some(reason.to_string());
        if self.rollback.is_none() {
            let service_revision_arn = self
                .sources
                .first()
                .map_or_else(|| self.target.arn.clone(), |s| s.arn.clone());
            self.rollback = Some(RollbackDetail {
                reason: reason.to_string(),
                started_at: now,
                service_revision_arn,
            });
        }
    }

    /// ROLLBACK_IN_PROGRESS for `reason`: traffic is back on the source revisions.
    pub(crate) fn roll_back(&mut self, now: f64, reason: &str) {
        if self.started_at.is_none() {
            self.started_at = Some(now);
        }
        self.status = ROLLBACK_IN_PROGRESS;
        self.note_rollback(now, reason);
        self.production_weight = 0.0;
        self.test_weight = 0.0;
        self.updated_at = now;
    }

    /// ROLLBACK_SUCCESSFUL: the source revision runs the service again.
    pub(crate) fn rolled_back(&mut self, now: f64) {
        self.status = ROLLBACK_SUCCESSFUL;
        self.stage = Some(CLEAN_UP);
        self.finished_at = Some(now);
        self.updated_at = now;
    }

    /// The circuit breaker fired.
    pub(crate) fn trip_circuit_breaker(&mut self) {
        self.circuit_breaker.status = TRIGGERED;
    }

    /// The first alarm fired; its name, if one is configured.
    pub(crate) fn trigger_alarm(&mut self) -> Option<String> {
        let name = self.alarms.names.first()?.clone();
        self.alarms.status = TRIGGERED;
        self.alarms.triggered = vec![name.clone()];
        Some(name)
    }

    /// A PAUSE hook starts waiting for ContinueServiceDeployment.
    pub(crate) fn pause(&mut self, now: f64, hook_id: String) {
        self.hooks.push(Hook {
            id: hook_id,
            status: AWAITING_ACTION,
            expires_at: now + 3600.0,
        });
        self.updated_at = now;
    }

    /// Whether a hook waits for ContinueServiceDeployment.
    pub(crate) fn is_paused(&self) -> bool {
        self.hooks.iter().any(|h| h.status == AWAITING_ACTION)
    }

    /// The waiting hook `hook_id` ends with `status` (SUCCEEDED or FAILED); false if no hook
    /// of that id waits.
    pub(crate) fn resolve_hook(&mut self, now: f64, hook_id: &str, status: &'static str) -> bool {
        let Some(hook) = self
            .hooks
            .iter_mut()
            .find(|h| h.id == hook_id && h.status == AWAITING_ACTION)
        else {
            return false;
        };
        hook.status = status;
        self.updated_at = now;
        true
    }

    /// The reason of the rollback asked for or under way.
    pub(crate) fn rollback_reason(&self) -> Option<String> {
        self.rollback.as_ref().map(|r| r.reason.clone())
    }

    /// Every hook waiting for action fails (the deployment is being stopped).
    pub(crate) fn fail_waiting_hooks(&mut self, now: f64) {
        for hook in &mut self.hooks {
            if hook.status == AWAITING_ACTION {
                hook.status = "FAILED";
                self.updated_at = now;
            }
        }
    }

    /// As DescribeServiceDeployments renders it.
    pub(crate) fn render(&self) -> Value {
        let weighted = self.strategy != Strategy::Rolling;
        let target_weights = weighted.then_some((self.production_weight, self.test_weight));
        let sources: Vec<Value> = self
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let weights = target_weights.map(|(production, test)| {
                    if i == 0 {
                        (100.0 - production, 100.0 - test)
                    } else {
                        (0.0, 0.0)
                    }
                });
                s.render(weights)
            })
            .collect();
        let mut m = Map::new();
        m.insert("serviceDeploymentArn".into(), json!(self.arn));
        m.insert("serviceArn".into(), json!(self.service_arn));
        m.insert("clusterArn".into(), json!(self.cluster_arn));
        m.insert("createdAt".into(), json!(self.created_at));
        let times = [
            ("startedAt", self.started_at),
            ("updatedAt", Some(self.updated_at)),
            ("finishedAt", self.finished_at),
            ("stoppedAt", self.stopped_at),
        ];
        for (key, time) in times {
            if let Some(t) = time {
                m.insert(key.into(), json!(t));
            }
        }
        m.insert("sourceServiceRevisions".into(), Value::Array(sources));
        m.insert(
            "targetServiceRevision".into(),
            self.target.render(target_weights),
        );
        m.insert("status".into(), json!(self.status));
        if let Some(reason) = &self.status_reason {
            m.insert("statusReason".into(), json!(reason));
        }
        if let Some(stage) = self.stage {
            m.insert("lifecycleStage".into(), json!(stage));
        }
        let hooks: Vec<Value> = self
            .hooks
            .iter()
            .map(|h| {
                json!({
                    "hookId": h.id,
                    "targetType": "PAUSE",
                    "status": h.status,
                    "expiresAt": h.expires_at,
                    "timeoutAction": "ROLLBACK",
                })
            })
            .collect();
        m.insert("lifecycleHookDetails".into(), Value::Array(hooks));
        m.insert(
            "deploymentConfiguration".into(),
            self.deployment_configuration.clone(),
        );
        if let Some(r) = &self.rollback {
            m.insert(
                "rollback".into(),
                json!({
                    "reason": r.reason,
                    "startedAt": r.started_at,
                    "serviceRevisionArn": r.service_revision_arn,
                }),
            );
        }
        m.insert(
            "deploymentCircuitBreaker".into(),
            json!({
                "status": self.circuit_breaker.status,
                "failureCount": self.circuit_breaker.failure_count,
                "threshold": self.circuit_breaker.threshold,
            }),
        );
        m.insert(
            "alarms".into(),
            json!({
                "status": self.alarms.status,
                "alarmNames": self.alarms.names,
                "triggeredAlarmNames": self.alarms.triggered,
            }),
        );
        Value::Object(m)
    }

    /// As ListServiceDeployments renders it (a ServiceDeploymentBrief).
    pub(crate) fn render_brief(&self) -> Value {
        let mut m = Map::new();
        m.insert("serviceDeploymentArn".into(), json!(self.arn));
        m.insert("serviceArn".into(), json!(self.service_arn));
        m.insert("clusterArn".into(), json!(self.cluster_arn));
        if let Some(t) = self.started_at {
            m.insert("startedAt".into(), json!(t));
        }
        m.insert("createdAt".into(), json!(self.created_at));
        if let Some(t) = self.finished_at {
            m.insert("finishedAt".into(), json!(t));
        }
        m.insert("targetServiceRevisionArn".into(), json!(self.target.arn));
        m.insert("status".into(), json!(self.status));
        if let Some(reason) = &self.status_reason {
            m.insert("statusReason".into(), json!(reason));
        }
        Value::Object(m)
    }
}
