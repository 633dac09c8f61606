//! The ECS AppSpec a CodeDeploy deployment is created from (design §10):
//! computed from the new revision and the service (container and port of
//! its load balancer, platform version, network configuration, capacity
//! provider strategy), merged into the user's own AppSpec file where one is
//! given (its hooks, and anything it sets), and read from JSON or YAML.

use serde_json::{json, Map, Value};
use yaml_rust2::parser::Parser;
use yaml_rust2::{Event, ScanError, Yaml, YamlLoader};

use super::json_breaks;
use super::service::Service;

/// What the placeholder `TaskDefinition` of an AppSpec file means: the
/// revision this run registers.
const PLACEHOLDER: &str = "<TASK_DEFINITION>";

/// The deepest nesting of lists and mappings a YAML AppSpec may have: an
/// AppSpec needs six levels; JSON is held to 128 by its parser.
const MAX_YAML_DEPTH: usize = 128;

/// Reads an AppSpec file: JSON, or YAML (as AppSpec files usually are).
/// It must be one mapping.
pub fn parse(text: &str) -> Result<Value, String> {
    let value = match serde_json::from_str::<Value>(text) {
        Ok(value) => value,
        Err(json_error) if text.trim_start().starts_with('{') => {
            return Err(format!("not valid JSON ({})", json_breaks(&json_error)))
        }
        Err(_) => {
            screen_yaml(text)?;
            let mut documents = YamlLoader::load_from_str(text).map_err(invalid_yaml)?;
            if documents.len() != 1 {
                return Err(format!(
                    "a YAML file with {} documents; an AppSpec is one",
                    documents.len()
                ));
            }
            yaml_to_json(documents.remove(0))?
        }
    };
    if !value.is_object() {
        return Err("not a mapping (an AppSpec has version, Resources and Hooks)".into());
    }
    Ok(value)
}

fn invalid_yaml(e: ScanError) -> String {
    let at = e.marker();
    format!(
        "neither JSON nor valid YAML (YAML: {} at line {}, column {})",
        e.info(),
        at.line(),
        at.col() + 1
    )
}

/// Goes through the YAML's events without building anything, and refuses
/// what would make building it blow up: an anchor or an alias (resolving
/// aliases is how 342 bytes become 24 GB, "billion laughs"; an AppSpec
/// needs none), or nesting deeper than [`MAX_YAML_DEPTH`] (the loader
/// recurses once per level, and would overflow the stack).
fn screen_yaml(text: &str) -> Result<(), String> {
    let mut parser = Parser::new_from_str(text);
    let mut depth = 0;
    loop {
        let (event, at) = parser.next_token().map_err(invalid_yaml)?;
        let at = || format!("line {}, column {}", at.line(), at.col() + 1);
        // Anchor id 0 is "no anchor".
        let anchored = match event {
            Event::StreamEnd => return Ok(()),
            Event::Alias(_) => true,
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                depth += 1;
                if depth > MAX_YAML_DEPTH {
                    return Err(format!(
                        "YAML nested more than {MAX_YAML_DEPTH} levels deep ({})",
                        at()
                    ));
                }
                anchor != 0
            }
            Event::SequenceEnd | Event::MappingEnd => {
                depth -= 1;
                false
            }
            Event::Scalar(_, _, anchor, _) => anchor != 0,
            _ => false,
        };
        if anchored {
            return Err(format!(
                "YAML anchors and aliases are not allowed ({})",
                at()
            ));
        }
    }
}

fn yaml_to_json(yaml: Yaml) -> Result<Value, String> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => json!(b),
        Yaml::Integer(i) => json!(i),
        Yaml::Real(text) => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("'{text}' is not a number JSON can hold"))?,
        Yaml::String(s) => json!(s),
        Yaml::Array(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Hash(hash) => {
            let mut map = Map::new();
            for (key, value) in hash {
                let key = match key {
                    Yaml::String(s) => s,
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Real(r) => r,
                    Yaml::Boolean(b) => b.to_string(),
                    _ => return Err("a mapping key that is not a plain value".into()),
                };
                map.insert(key, yaml_to_json(value)?);
            }
            Value::Object(map)
        }
        // Aliases were refused before the document was built.
        Yaml::Alias(_) | Yaml::BadValue => return Err("a value YAML cannot read".into()),
    })
}

/// The AppSpec that deploys `task_definition` to `service`: what the
/// service says, under what `base` (the user's file) already says. The
/// revision is always the one given; of the rest, the file wins.
pub fn build(
    task_definition: &str,
    service: &Service,
    base: Option<&Value>,
) -> Result<Value, String> {
    let mut spec = base.cloned().unwrap_or_else(|| json!({}));
    if spec.get("version").is_none() {
        spec["version"] = json!(0.0);
    }
    let resources = spec["Resources"].take();
    let mut resources = match resources {
        Value::Null => Vec::new(),
        Value::Array(items) => items,
        _ => return Err("Resources is not a list".into()),
    };
    if resources.is_empty() {
        resources.push(json!({"TargetService": {}}));
    }
    let target = resources[0]
        .as_object_mut()
        .and_then(|r| r.values_mut().next())
        .filter(|t| t.is_object() || t.is_null())
        .ok_or("the first of Resources is not a TargetService mapping")?;
    if target.is_null() {
        *target = json!({});
    }
    if target.get("Type").is_none() {
        target["Type"] = json!("AWS::ECS::Service");
    }
    if target["Type"] != "AWS::ECS::Service" {
        return Err(format!(
            "its target is of Type {}, not AWS::ECS::Service",
            target["Type"]
        ));
    }
    let properties = target
        .as_object_mut()
        .expect("checked to be a mapping")
        .entry("Properties")
        .or_insert_with(|| json!({}));
    let properties = properties
        .as_object_mut()
        .ok_or("its target's Properties is not a mapping")?;
    if let Some(given) = properties.get("TaskDefinition").and_then(Value::as_str) {
        if given != PLACEHOLDER && !given.is_empty() {
            return Err(format!(
                "it names TaskDefinition '{given}'; leave it out or write {PLACEHOLDER}: the revision is the one ecs-deploy registers"
            ));
        }
    }
    properties.insert("TaskDefinition".into(), json!(task_definition));
    for (key, value) in computed(service) {
        properties.entry(key).or_insert(value);
    }
    let info = &properties.get("LoadBalancerInfo");
    let has = |key: &str| info.and_then(|i| i.get(key)).is_some_and(|v| !v.is_null());
    if !has("ContainerName") || !has("ContainerPort") {
        return Err(format!(
            "service '{}' has no load balancer to take the container name and port from, and the AppSpec gives no LoadBalancerInfo",
            service.service_name
        ));
    }
    spec["Resources"] = Value::Array(resources);
    Ok(spec)
}

/// The AppSpec properties a service implies.
fn computed(service: &Service) -> Vec<(String, Value)> {
    let mut properties = Vec::new();
    if let Some(lb) = service
        .load_balancers
        .iter()
        .find(|lb| lb.container_name.is_some())
    {
        properties.push((
            "LoadBalancerInfo".to_string(),
            json!({"ContainerName": lb.container_name, "ContainerPort": lb.container_port}),
        ));
    }
    if let Some(version) = &service.platform_version {
        properties.push(("PlatformVersion".into(), json!(version)));
    }
    if let Some(vpc) = service
        .network_configuration
        .as_ref()
        .and_then(|n| n.get("awsvpcConfiguration"))
    {
        let mut config = Map::new();
        for (from, to) in [
            ("subnets", "Subnets"),
            ("securityGroups", "SecurityGroups"),
            ("assignPublicIp", "AssignPublicIp"),
        ] {
            if let Some(value) = vpc.get(from) {
                config.insert(to.into(), value.clone());
            }
        }
        properties.push((
            "NetworkConfiguration".into(),
            json!({"AwsvpcConfiguration": config}),
        ));
    }
    if let Some(strategy) = service
        .capacity_provider_strategy
        .as_ref()
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())
    {
        let strategy: Vec<Value> = strategy
            .iter()
            .map(|item| {
                let mut entry = Map::new();
                for (from, to) in [
                    ("capacityProvider", "CapacityProvider"),
                    ("base", "Base"),
                    ("weight", "Weight"),
                ] {
                    if let Some(value) = item.get(from) {
                        entry.insert(to.into(), value.clone());
                    }
                }
                Value::Object(entry)
            })
            .collect();
        properties.push(("CapacityProviderStrategy".into(), Value::Array(strategy)));
    }
    properties
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:8";

    fn service(extra: Value) -> Service {
        let mut base = json!({"serviceName": "web", "status": "ACTIVE"});
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    fn fargate() -> Service {
        service(json!({
            "loadBalancers": [{"targetGroupArn": "arn:tg/blue", "containerName": "app", "containerPort": 8080}],
            "platformVersion": "1.4.0",
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}},
            "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
        }))
    }

    #[test]
    fn the_service_gives_everything_an_appspec_needs() {
        let spec = build(NEW, &fargate(), None).unwrap();
        assert_eq!(
            spec,
            json!({
                "version": 0.0,
                "Resources": [{"TargetService": {
                    "Type": "AWS::ECS::Service",
                    "Properties": {
                        "TaskDefinition": NEW,
                        "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 8080},
                        "PlatformVersion": "1.4.0",
                        "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": ["subnet-1"], "SecurityGroups": ["sg-1"], "AssignPublicIp": "DISABLED"}},
                        "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE_SPOT", "Base": 0, "Weight": 1}]
                    }
                }}]
            })
        );
        let err = build(NEW, &service(json!({})), None).unwrap_err();
        assert!(err.contains("no load balancer"), "{err}");
    }

    #[test]
    fn a_yaml_file_with_hooks_merges_under_what_it_sets() {
        let file = parse(
            "# deploy hooks\nversion: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: <TASK_DEFINITION>\n        PlatformVersion: \"LATEST\"\nHooks:\n  - BeforeAllowTraffic: \"arn:aws:lambda:us-east-1:123456789012:function:smoke\"\n",
        )
        .unwrap();
        let spec = build(NEW, &fargate(), Some(&file)).unwrap();
        let properties = &spec["Resources"][0]["TargetService"]["Properties"];
        assert_eq!(properties["TaskDefinition"], NEW);
        assert_eq!(properties["PlatformVersion"], "LATEST", "the file wins");
        assert_eq!(properties["LoadBalancerInfo"]["ContainerPort"], 8080);
        assert_eq!(
            spec["Hooks"][0]["BeforeAllowTraffic"],
            "arn:aws:lambda:us-east-1:123456789012:function:smoke"
        );
    }

    #[test]
    fn files_that_are_not_appspecs_are_refused() {
        assert!(parse("{\"version\": 0.0,")
            .unwrap_err()
            .contains("not valid JSON"));
        assert!(parse("Resources: [unclosed").unwrap_err().contains("YAML"));
        assert!(parse("- a\n- b\n").unwrap_err().contains("not a mapping"));
        assert!(parse("a: 1\n---\nb: 2\n")
            .unwrap_err()
            .contains("2 documents"));
        let other =
            parse("{\"Resources\": [{\"TargetService\": {\"Type\": \"AWS::Lambda::Function\"}}]}")
                .unwrap();
        assert!(build(NEW, &fargate(), Some(&other))
            .unwrap_err()
            .contains("AWS::Lambda::Function"));
        let pinned = parse("{\"Resources\": [{\"TargetService\": {\"Properties\": {\"TaskDefinition\": \"web:1\"}}}]}").unwrap();
        assert!(build(NEW, &fargate(), Some(&pinned))
            .unwrap_err()
            .contains("web:1"));
        assert_eq!(
            parse("{\"version\": 0.0}").unwrap(),
            json!({"version": 0.0})
        );
    }

    #[test]
    fn yaml_anchors_and_aliases_are_refused_before_anything_is_built() {
        let laughs = (b'b'..=b'z').fold("a: &a [lol, lol]\n".to_string(), |yaml, c| {
            let (name, previous) = (c as char, (c - 1) as char);
            format!("{yaml}{name}: &{name} [*{previous}, *{previous}]\n")
        });
        // 2^26 strings once resolved; refused before resolution.
        assert_eq!(
            parse(&laughs).unwrap_err(),
            "YAML anchors and aliases are not allowed (line 1, column 7)"
        );
        // An anchor that nothing names is refused too: anchors serve aliases.
        assert_eq!(
            parse("version: 0.0\nHooks: &hooks []\n").unwrap_err(),
            "YAML anchors and aliases are not allowed (line 2, column 15)"
        );
        // A `&` or `*` inside a value is text, not an anchor.
        assert_eq!(
            parse("version: 0.0\nnote: \"a & b *c\"\n").unwrap()["note"],
            "a & b *c"
        );
    }

    #[test]
    fn yaml_nested_deeper_than_an_appspec_could_be_is_refused() {
        let nested = |levels: usize| format!("a:\n{}x", "- ".repeat(levels - 1));
        assert!(parse(&nested(MAX_YAML_DEPTH)).is_ok());
        assert_eq!(
            parse(&nested(MAX_YAML_DEPTH + 1)).unwrap_err(),
            "YAML nested more than 128 levels deep (line 2, column 255)"
        );
        // Not a stack overflow, however deep.
        assert!(parse(&nested(200_000))
            .unwrap_err()
            .starts_with("YAML nested more than 128 levels deep"));
    }
}
