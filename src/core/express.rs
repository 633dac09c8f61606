//! Express Mode services (design §10): ECS manages their task definition,
//! load balancer and scaling from an express configuration, so a new image
//! goes in through that configuration — `UpdateExpressGatewayService` with
//! the whole primary container, every field of it kept but what the run
//! changes — or, where the service runs a task definition of the
//! customer's own, through a new revision of it. Pure.

use serde_json::{json, Value};

use super::taskdef::{self, Applied, Changes, TargetError};

/// What an Express service's active configuration says a deploy goes
/// through.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpressConfiguration {
    /// ECS builds the task definition from this primary container.
    PrimaryContainer(Value),
    /// The service runs this task definition of the customer's.
    TaskDefinition(String),
}

impl ExpressConfiguration {
    /// The configuration a `DescribeExpressGatewayService` answer names as
    /// active: the first of `activeConfigurations` (the one the service
    /// runs; a deployment under way lists its target after it).
    pub fn of(described: &Value) -> Option<ExpressConfiguration> {
        let active = described["service"]["activeConfigurations"]
            .as_array()?
            .first()?;
        if active["primaryContainer"].is_object() {
            return Some(ExpressConfiguration::PrimaryContainer(
                active["primaryContainer"].clone(),
            ));
        }
        active["taskDefinitionArn"]
            .as_str()
            .map(|arn| ExpressConfiguration::TaskDefinition(arn.to_string()))
    }
}

/// What flags a primary-container Express service has no use for: ECS
/// manages its scaling, deployment settings and task definition.
pub fn refuses(primary_container: bool, given: &[(bool, &'static str)]) -> Option<String> {
    let (_, flag) = given.iter().find(|(is_given, _)| *is_given)?;
    Some(if primary_container {
        format!("{flag} means nothing for an Express service, whose task definition, deployment settings and scaling ECS manages from its express configuration")
    } else {
        format!("{flag} means nothing for an Express service, whose deployment settings and scaling ECS manages")
    })
}

/// The primary container with the run's changes applied as they would be
/// to a container called `name` of a task definition (the same rules for
/// `-i`, `-to`, `--container`, `--env` and `--unset-env`). Every other field
/// of it is kept as it was.
pub fn change_primary_container(
    primary: &Value,
    name: &str,
    changes: &Changes<'_>,
) -> Result<(Value, Applied), TargetError> {
    let mut container = primary.clone();
    container["name"] = json!(name);
    let mut holder = json!({ "containerDefinitions": [container] });
    let applied = taskdef::apply(&mut holder, changes)?;
    let mut changed = holder["containerDefinitions"][0].take();
    if let Some(fields) = changed.as_object_mut() {
        fields.remove("name");
    }
    Ok((changed, applied))
}

/// The `UpdateExpressGatewayService` input that deploys `configuration`.
pub fn update_input(service_arn: &str, configuration: &ExpressConfiguration) -> Value {
    match configuration {
        ExpressConfiguration::PrimaryContainer(primary) => {
            json!({"serviceArn": service_arn, "primaryContainer": primary})
        }
        ExpressConfiguration::TaskDefinition(arn) => {
            json!({"serviceArn": service_arn, "taskDefinitionArn": arn})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::image::ImageRef;

    const REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web";

    fn primary() -> Value {
        json!({
            "image": format!("{REPO}:1.0.0"),
            "containerPort": 8080,
            "command": ["serve", "--port", "8080"],
            "environment": [{"name": "MODE", "value": "prod"}],
            "secrets": [{"name": "DB", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:db"}],
            "awsLogsConfiguration": {"logGroup": "/ecs/web", "logStreamPrefix": "web"},
            "repositoryCredentials": {"credentialsParameter": "arn:aws:secretsmanager:us-east-1:1:secret:hub"}
        })
    }

    #[test]
    fn the_active_configuration_says_how_to_deploy() {
        let described = json!({"service": {"activeConfigurations": [
            {"taskDefinitionArn": "arn:td/web-express:3", "primaryContainer": primary()},
            {"taskDefinitionArn": "arn:td/web-express:4"}
        ]}});
        assert_eq!(
            ExpressConfiguration::of(&described),
            Some(ExpressConfiguration::PrimaryContainer(primary()))
        );
        let customer =
            json!({"service": {"activeConfigurations": [{"taskDefinitionArn": "arn:td/mine:7"}]}});
        assert_eq!(
            ExpressConfiguration::of(&customer),
            Some(ExpressConfiguration::TaskDefinition("arn:td/mine:7".into()))
        );
        assert_eq!(ExpressConfiguration::of(&json!({"service": {}})), None);
    }

    #[test]
    fn a_new_image_keeps_every_other_field_of_the_primary_container() {
        let image = ImageRef::parse(&format!("{REPO}:1.1.0")).unwrap();
        let set_env = [("FEATURE".to_string(), "on".to_string())];
        let changes = Changes {
            image: Some(&image),
            set_env: &set_env,
            ..Changes::default()
        };
        let (changed, applied) = change_primary_container(&primary(), "web", &changes).unwrap();
        let mut expected = primary();
        expected["image"] = json!(format!("{REPO}:1.1.0"));
        expected["environment"] = json!([
            {"name": "MODE", "value": "prod"},
            {"name": "FEATURE", "value": "on"}
        ]);
        assert_eq!(changed, expected);
        assert_eq!(applied.images[0].container, "web");
        assert_eq!(
            update_input(
                "arn:svc/web",
                &ExpressConfiguration::PrimaryContainer(changed.clone())
            ),
            json!({"serviceArn": "arn:svc/web", "primaryContainer": changed})
        );
        // Another repository is no container of it.
        let other = ImageRef::parse("nginx:1.27").unwrap();
        let error = change_primary_container(
            &primary(),
            "web",
            &Changes {
                image: Some(&other),
                ..Changes::default()
            },
        )
        .unwrap_err();
        assert!(matches!(error, TargetError::NoMatchingContainer { .. }));
    }

    #[test]
    fn flags_ecs_manages_are_named() {
        assert_eq!(refuses(true, &[(false, "-m/--min")]), None);
        let why = refuses(true, &[(false, "-m/--min"), (true, "-D/--desired-count")]).unwrap();
        assert!(why.starts_with("-D/--desired-count means nothing for an Express service"));
        assert!(refuses(false, &[(true, "-M/--max")])
            .unwrap()
            .contains("deployment settings and scaling"));
    }
}
