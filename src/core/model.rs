//! How a service is deployed (design §10): its deployment controller and,
//! for the ECS controller, its strategy — read from `DescribeServices`
//! before any write, because it decides how to deploy, how to watch, how to
//! roll back and how long a deploy may take.

use std::fmt;
use std::time::Duration;

use super::service::{DeploymentConfiguration, Service};

/// The deployment model of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// ECS controller, ROLLING strategy (the default).
    Rolling,
    /// ECS controller, native blue/green.
    BlueGreen,
    /// ECS controller, production traffic shifted in steps.
    Linear,
    /// ECS controller, a canary share of production traffic first.
    Canary,
    /// Deployed through AWS CodeDeploy.
    CodeDeploy,
    /// Task sets managed by another tool.
    External,
}

/// A controller or strategy this version does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownModel(pub String);

impl fmt::Display for UnknownModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Model {
    /// The model of `service`.
    pub fn of(service: &Service) -> Result<Model, UnknownModel> {
        let controller = service
            .deployment_controller
            .as_ref()
            .map_or("ECS", |c| c.kind.as_str());
        match controller {
            "" | "ECS" => {}
            "CODE_DEPLOY" => return Ok(Model::CodeDeploy),
            "EXTERNAL" => return Ok(Model::External),
            other => {
                return Err(UnknownModel(format!(
                    "deployment controller {other} (ecs-deploy knows ECS, CODE_DEPLOY and EXTERNAL)"
                )))
            }
        }
        match service.deployment_configuration.strategy.as_deref() {
            None | Some("") | Some("ROLLING") => Ok(Model::Rolling),
            Some("BLUE_GREEN") => Ok(Model::BlueGreen),
            Some("LINEAR") => Ok(Model::Linear),
            Some("CANARY") => Ok(Model::Canary),
            Some(other) => Err(UnknownModel(format!(
                "deployment strategy {other} (ecs-deploy knows ROLLING, BLUE_GREEN, LINEAR and CANARY)"
            ))),
        }
    }

    /// The name users know it by: the strategy, or the controller.
    pub fn name(self) -> &'static str {
        match self {
            Model::Rolling => "ROLLING",
            Model::BlueGreen => "BLUE_GREEN",
            Model::Linear => "LINEAR",
            Model::Canary => "CANARY",
            Model::CodeDeploy => "CODE_DEPLOY",
            Model::External => "EXTERNAL",
        }
    }

    /// Whether ECS itself deploys it (with a service deployment to watch).
    pub fn is_ecs(self) -> bool {
        matches!(
            self,
            Model::Rolling | Model::BlueGreen | Model::Linear | Model::Canary
        )
    }
}

/// `--wait-until READY`: a CodeDeploy deployment whose test traffic can be
/// tested (the other stages are those of an ECS service deployment).
pub const READY: &str = "READY";

/// The options of a deploy that mean something for some models only.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelOptions<'a> {
    /// `--wait-until`.
    pub wait_until: Option<&'a str>,
    /// The first CodeDeploy option given (`--codedeploy-appspec`, …).
    pub codedeploy_option: Option<&'static str>,
    /// `--skip-deployments-check`.
    pub skip_deployments_check: bool,
}

impl Model {
    /// Why `options` would do nothing for a service of this model, if one
    /// would: such a run is refused before any write rather than run
    /// without what was asked.
    pub fn refuses(self, options: ModelOptions) -> Option<String> {
        if let Some(until) = options.wait_until {
            match self {
                Model::CodeDeploy if until != READY => return Some(format!(
                    "--wait-until {until} is a stage of an ECS service deployment, but it is deployed by CodeDeploy: use READY"
                )),
                Model::CodeDeploy => {}
                _ if until == READY => return Some(format!(
                    "--wait-until READY is for CodeDeploy deployments, but it is a {} one: use a lifecycle stage",
                    self.name()
                )),
                _ => {}
            }
        }
        if let (Some(option), false) = (options.codedeploy_option, self == Model::CodeDeploy) {
            return Some(format!(
                "{option} is for services deployed by AWS CodeDeploy, but it is a {} one, deployed by ECS itself",
                self.name()
            ));
        }
        if options.skip_deployments_check && self != Model::Rolling {
            return Some(format!(
                "--skip-deployments-check is for rolling deployments, but it is a {} one, where both revisions run until the deployment ends by design (--wait-until stops the wait at a stage)",
                self.name()
            ));
        }
        None
    }
}

/// The share of traffic a linear step shifts where `stepPercent` is not
/// set, and the range ECS allows (its API reference).
const DEFAULT_LINEAR_STEP_PERCENT: f64 = 10.0;
const LINEAR_STEP_PERCENT: std::ops::RangeInclusive<f64> = 3.0..=100.0;
/// ECS's bake of each linear step, and of a canary, where not set.
const DEFAULT_LINEAR_STEP_BAKE_MINUTES: u32 = 6;
const DEFAULT_CANARY_BAKE_MINUTES: u32 = 10;
/// The longest bake ECS allows (24 hours).
const MAX_BAKE_MINUTES: u32 = 1440;

/// The bake a deployment of `model` waits through by configuration: the
/// bake after production traffic has shifted (`bakeTimeInMinutes`), plus
/// each linear step's bake, or the canary's (ECS's defaults where they are
/// not set). (A rolling deployment with alarms bakes too, for a time ECS
/// works out from the alarms' evaluation periods, which the service
/// description does not show.) A value outside what ECS allows is not
/// believed — it would make a deadline of centuries, or of nothing: the
/// error names the field and its value.
pub fn configured_bake(model: Model, config: &DeploymentConfiguration) -> Result<Duration, String> {
    let minutes = |field: &str, value: Option<u32>, default: u32| {
        match value.unwrap_or(default) {
        m if m <= MAX_BAKE_MINUTES => Ok(f64::from(m)),
        m => Err(format!(
            "deploymentConfiguration.{field} is {m}, more than the {MAX_BAKE_MINUTES} minutes ECS allows"
        )),
    }
    };
    let mut total = minutes("bakeTimeInMinutes", config.bake_time_in_minutes, 0)?;
    match model {
        Model::Linear => {
            let linear = config.linear_configuration.clone().unwrap_or_default();
            let step = linear.step_percent.unwrap_or(DEFAULT_LINEAR_STEP_PERCENT);
            if !LINEAR_STEP_PERCENT.contains(&step) {
                return Err(format!(
                    "deploymentConfiguration.linearConfiguration.stepPercent is {step:?}, outside the {}–{} percent ECS allows",
                    LINEAR_STEP_PERCENT.start(),
                    LINEAR_STEP_PERCENT.end()
                ));
            }
            let steps = (100.0 / step).ceil();
            total += steps
                * minutes(
                    "linearConfiguration.stepBakeTimeInMinutes",
                    linear.step_bake_time_in_minutes,
                    DEFAULT_LINEAR_STEP_BAKE_MINUTES,
                )?;
        }
        Model::Canary => {
            let canary = config.canary_configuration.clone().unwrap_or_default();
            total += minutes(
                "canaryConfiguration.canaryBakeTimeInMinutes",
                canary.canary_bake_time_in_minutes,
                DEFAULT_CANARY_BAKE_MINUTES,
            )?;
        }
        _ => {}
    }
    Ok(Duration::from_secs_f64(total * 60.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(value: serde_json::Value) -> Service {
        let mut base = json!({"serviceName": "web", "status": "ACTIVE"});
        base.as_object_mut()
            .unwrap()
            .extend(value.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn the_model_comes_from_controller_and_strategy() {
        assert_eq!(Model::of(&service(json!({}))), Ok(Model::Rolling));
        let of = |controller: &str, strategy: &str| {
            Model::of(&service(json!({
                "deploymentController": {"type": controller},
                "deploymentConfiguration": {"strategy": strategy}
            })))
        };
        assert_eq!(of("ECS", "BLUE_GREEN"), Ok(Model::BlueGreen));
        assert_eq!(of("ECS", "LINEAR"), Ok(Model::Linear));
        assert_eq!(of("ECS", "CANARY"), Ok(Model::Canary));
        assert_eq!(of("ECS", "ROLLING"), Ok(Model::Rolling));
        assert_eq!(of("CODE_DEPLOY", "ROLLING"), Ok(Model::CodeDeploy));
        assert_eq!(of("EXTERNAL", ""), Ok(Model::External));
        assert!(of("ECS", "SHADOW").unwrap_err().0.contains("SHADOW"));
        assert!(of("NEW_THING", "").is_err());
        assert!(Model::BlueGreen.is_ecs() && !Model::CodeDeploy.is_ecs());
    }

    #[test]
    fn the_bake_adds_up_per_strategy() {
        let bake = |model, config: serde_json::Value| {
            configured_bake(model, &serde_json::from_value(config).unwrap())
                .unwrap()
                .as_secs()
        };
        assert_eq!(bake(Model::Rolling, json!({})), 0);
        assert_eq!(
            bake(Model::BlueGreen, json!({"bakeTimeInMinutes": 20})),
            1200
        );
        assert_eq!(
            bake(
                Model::Linear,
                json!({"bakeTimeInMinutes": 5, "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 2}})
            ),
            (5 + 4 * 2) * 60
        );
        assert_eq!(
            bake(
                Model::Linear,
                json!({"linearConfiguration": {"stepBakeTimeInMinutes": 1}})
            ),
            10 * 60
        );
        // ECS's defaults: steps of 10 % baked 6 minutes each; a canary, 10.
        assert_eq!(bake(Model::Linear, json!({})), 10 * 6 * 60);
        assert_eq!(bake(Model::Canary, json!({})), 10 * 60);
        assert_eq!(
            bake(
                Model::Canary,
                json!({"bakeTimeInMinutes": 3, "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 7}})
            ),
            600
        );
    }

    #[test]
    fn a_configuration_ecs_would_not_allow_is_not_believed() {
        let bake = |model, config: serde_json::Value| {
            configured_bake(model, &serde_json::from_value(config).unwrap())
        };
        for (model, config, field) in [
            (
                Model::Linear,
                json!({"linearConfiguration": {"stepPercent": 1e-300}}),
                "stepPercent is 1e-300",
            ),
            (
                Model::Linear,
                json!({"linearConfiguration": {"stepPercent": 0.0}}),
                "stepPercent is 0",
            ),
            (
                Model::Linear,
                json!({"linearConfiguration": {"stepPercent": 250.0}}),
                "stepPercent is 250",
            ),
            (
                Model::Linear,
                json!({"linearConfiguration": {"stepBakeTimeInMinutes": 4_000_000_000u32}}),
                "stepBakeTimeInMinutes is 4000000000",
            ),
            (
                Model::BlueGreen,
                json!({"bakeTimeInMinutes": 1441}),
                "bakeTimeInMinutes is 1441",
            ),
            (
                Model::Canary,
                json!({"canaryConfiguration": {"canaryBakeTimeInMinutes": 99999}}),
                "canaryBakeTimeInMinutes is 99999",
            ),
        ] {
            let error = bake(model, config).unwrap_err();
            assert!(error.contains(field), "{error}");
        }
        // The largest values ECS allows make a long deadline, not a panic.
        let longest = bake(
            Model::Linear,
            json!({"bakeTimeInMinutes": 1440, "linearConfiguration": {"stepPercent": 3.0, "stepBakeTimeInMinutes": 1440}}),
        );
        assert_eq!(longest.unwrap().as_secs(), (1440 + 34 * 1440) * 60);
    }

    #[test]
    fn options_a_model_cannot_use_are_named() {
        let refuses = |model: Model, options: ModelOptions| model.refuses(options);
        let until = |stage| ModelOptions {
            wait_until: Some(stage),
            ..ModelOptions::default()
        };
        assert_eq!(refuses(Model::CodeDeploy, until(READY)), None);
        assert_eq!(refuses(Model::BlueGreen, until("BAKE_TIME")), None);
        assert!(refuses(Model::CodeDeploy, until("BAKE_TIME"))
            .unwrap()
            .contains("use READY"));
        assert!(refuses(Model::Linear, until(READY))
            .unwrap()
            .contains("a LINEAR one"));
        let appspec = ModelOptions {
            codedeploy_option: Some("--codedeploy-appspec"),
            ..ModelOptions::default()
        };
        assert_eq!(refuses(Model::CodeDeploy, appspec), None);
        assert!(refuses(Model::BlueGreen, appspec)
            .unwrap()
            .starts_with("--codedeploy-appspec is for services deployed by AWS CodeDeploy"));
        let skip = ModelOptions {
            skip_deployments_check: true,
            ..ModelOptions::default()
        };
        assert_eq!(refuses(Model::Rolling, skip), None);
        for model in [Model::BlueGreen, Model::Canary, Model::CodeDeploy] {
            assert!(refuses(model, skip).is_some(), "{model:?}");
        }
        assert_eq!(refuses(Model::Canary, ModelOptions::default()), None);
    }
}
