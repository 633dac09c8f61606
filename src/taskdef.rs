//! Task-definition transform (design §4): turn the description ECS gives back
//! into the input of `RegisterTaskDefinition`, and swap container images.
//! Pure: task definitions stay `serde_json::Value` so that fields this tool
//! does not know about (including ones ECS adds in the future) survive a deploy.

use std::fmt;

use serde_json::{Map, Value};

use crate::image::ImageRef;

/// Keys ECS adds to a registered task definition and refuses on registration.
const READ_ONLY_KEYS: [&str; 9] = [
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
];

/// The `RegisterTaskDefinition` input for a described task definition: every
/// key kept as it came, except the read-only ones and any whose value is null.
pub fn registration_input(description: &Value) -> Value {
    let mut input = without_nulls(description);
    if let Value::Object(map) = &mut input {
        for key in READ_ONLY_KEYS {
            map.remove(key);
        }
    }
    input
}

fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// One container whose image a deploy changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageChange {
    pub container: String,
    pub from: String,
    pub to: String,
}

/// No container of the task definition runs the repository being deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoMatchingContainer {
    pub repository: String,
    /// `(container name, image)` of every container, in task-definition order.
    pub containers: Vec<(String, String)>,
}

impl fmt::Display for NoMatchingContainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no container in the task definition uses the repository {}; nothing was registered. Containers:",
            self.repository
        )?;
        for (name, image) in &self.containers {
            write!(f, "\n  {name}: {image}")?;
        }
        write!(
            f,
            "\nPass -i with the repository one of them uses (the tag may differ)."
        )
    }
}

impl std::error::Error for NoMatchingContainer {}

/// Points every container whose image is in the same repository as `image`
/// at `image`, leaving all other containers untouched. Returns what changed.
pub fn swap_images(
    task_definition: &mut Value,
    image: &ImageRef,
) -> Result<Vec<ImageChange>, NoMatchingContainer> {
    let repository = image.repository_key();
    let new_image = image.to_string();
    let mut changes = Vec::new();
    for container in containers_mut(task_definition) {
        let Some(current) = container.get("image").and_then(Value::as_str) else {
            continue;
        };
        let same_repository = ImageRef::parse(current)
            .map(|current| current.repository_key() == repository)
            .unwrap_or(false);
        if same_repository {
            changes.push(ImageChange {
                container: string_field(container, "name"),
                from: current.to_string(),
                to: new_image.clone(),
            });
            container.insert("image".into(), Value::String(new_image.clone()));
        }
    }
    if changes.is_empty() {
        return Err(NoMatchingContainer {
            repository: image.to_string(),
            containers: container_images(task_definition),
        });
    }
    Ok(changes)
}

/// Gives every container's image `tag` (replacing its tag or digest);
/// `-to/--tag-only`. Images that cannot be parsed are left alone.
pub fn retag_images(task_definition: &mut Value, tag: &str) -> Vec<ImageChange> {
    let mut changes = Vec::new();
    for container in containers_mut(task_definition) {
        let Some(current) = container.get("image").and_then(Value::as_str) else {
            continue;
        };
        let Ok(image) = ImageRef::parse(current) else {
            continue;
        };
        let retagged = image.with_tag(tag).to_string();
        changes.push(ImageChange {
            container: string_field(container, "name"),
            from: current.to_string(),
            to: retagged.clone(),
        });
        container.insert("image".into(), Value::String(retagged));
    }
    changes
}

/// A task definition read from a file: either what
/// `aws ecs describe-task-definition` prints (`{"taskDefinition": {...},
/// "tags": [...]}`) or a bare task definition. Returns the description and
/// the tags.
pub fn from_file(text: &str) -> Result<(Value, Vec<Value>), String> {
    let json: Value = serde_json::from_str(text).map_err(|e| format!("it is not JSON: {e}"))?;
    let (description, tags) = match json.get("taskDefinition") {
        Some(inner) if inner.is_object() => (
            inner.clone(),
            json["tags"].as_array().cloned().unwrap_or_default(),
        ),
        _ => (json.clone(), Vec::new()),
    };
    let has_containers = description
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty());
    if !description.is_object() || !has_containers {
        return Err("it has no containerDefinitions (expected a task definition, or the output of aws ecs describe-task-definition)".into());
    }
    Ok((description, tags))
}

/// `(name, image)` of every container definition.
pub fn container_images(task_definition: &Value) -> Vec<(String, String)> {
    task_definition
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|c| (string_field(c, "name"), string_field(c, "image")))
        .collect()
}

fn containers_mut(task_definition: &mut Value) -> impl Iterator<Item = &mut Map<String, Value>> {
    task_definition
        .get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

fn string_field(object: &Map<String, Value>, key: &str) -> String {
    object
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The family of a task definition ARN or `family:revision` string.
pub fn family_of(task_definition: &str) -> &str {
    let name = task_definition
        .rsplit('/')
        .next()
        .unwrap_or(task_definition);
    name.split(':').next().unwrap_or(name)
}

/// The revision number at the end of a task definition ARN or `family:revision`.
pub fn revision_of(task_definition: &str) -> Option<u64> {
    task_definition.rsplit_once(':')?.1.parse().ok()
}

/// Of the ACTIVE revisions of one family, those beyond the `keep` newest,
/// never `live` (the revision the service runs), oldest first.
pub fn revisions_beyond(active: &[String], keep: usize, live: &str) -> Vec<String> {
    let mut newest_first: Vec<&String> = active.iter().collect();
    newest_first.sort_by_key(|arn| std::cmp::Reverse(revision_of(arn)));
    let mut doomed: Vec<String> = newest_first
        .into_iter()
        .skip(keep)
        .filter(|arn| arn.as_str() != live)
        .cloned()
        .collect();
    doomed.reverse();
    doomed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture() -> Value {
        let text = include_str!("../fixtures/taskdef-full.json");
        let reply: Value = serde_json::from_str(text).expect("fixture is JSON");
        reply["taskDefinition"].clone()
    }

    #[test]
    fn strips_exactly_the_read_only_keys() {
        let description = fixture();
        let input = registration_input(&description);
        for key in READ_ONLY_KEYS {
            assert!(description.get(key).is_some(), "fixture lacks {key}");
            assert!(input.get(key).is_none(), "{key} survived");
        }
        let kept: Vec<&String> = description
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| !READ_ONLY_KEYS.contains(&k.as_str()))
            .collect();
        for key in kept {
            assert_eq!(input[key], description[key], "{key} changed");
        }
        for key in [
            "pidMode",
            "ipcMode",
            "cpu",
            "memory",
            "volumes",
            "proxyConfiguration",
            "runtimePlatform",
            "ephemeralStorage",
            "futureField",
        ] {
            assert!(input.get(key).is_some(), "{key} lost");
        }
        let app = &input["containerDefinitions"][0];
        assert!(app.get("secrets").is_some() && app.get("logConfiguration").is_some());
    }

    #[test]
    fn drops_null_values_at_any_depth() {
        let input = registration_input(&json!({
            "family": "web",
            "taskRoleArn": null,
            "containerDefinitions": [{"name": "app", "image": "a:1", "user": null}]
        }));
        assert_eq!(
            input,
            json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "a:1"}]})
        );
    }

    #[test]
    fn swaps_only_the_matching_repository() {
        let mut td = registration_input(&fixture());
        let before = td.clone();
        let image =
            ImageRef::parse("123456789012.dkr.ecr.us-east-1.amazonaws.com/acct/repo:v2").unwrap();
        let changes = swap_images(&mut td, &image).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].container, "app");
        assert_eq!(changes[0].to, image.to_string());
        assert_eq!(td["containerDefinitions"][0]["image"], image.to_string());
        // The other container and every other key are untouched.
        assert_eq!(
            td["containerDefinitions"][1],
            before["containerDefinitions"][1]
        );
        let mut expected = before;
        expected["containerDefinitions"][0]["image"] = json!(image.to_string());
        assert_eq!(td, expected);
    }

    #[test]
    fn matches_untagged_digest_pinned_and_docker_hub_aliases() {
        let mut td = json!({"containerDefinitions": [
            {"name": "a", "image": "nginx"},
            {"name": "b", "image": "docker.io/library/nginx@sha256:abcdef"},
            {"name": "c", "image": "library/nginx:1.24"},
            {"name": "d", "image": "nginx-extra:1"},
        ]});
        let changes = swap_images(&mut td, &ImageRef::parse("nginx:1.25").unwrap()).unwrap();
        let names: Vec<_> = changes.iter().map(|c| c.container.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(td["containerDefinitions"][3]["image"], "nginx-extra:1");
    }

    #[test]
    fn no_match_lists_every_container() {
        let mut td = registration_input(&fixture());
        let err = swap_images(&mut td, &ImageRef::parse("acct/other:1").unwrap()).unwrap_err();
        assert_eq!(err.containers.len(), 2);
        let message = err.to_string();
        assert!(message.contains("app: 123456789012.dkr.ecr.us-east-1.amazonaws.com/acct/repo:v1"));
        assert!(message.contains("sidecar: "));
        assert!(message.contains("nothing was registered"));
    }

    #[test]
    fn keeps_the_newest_revisions_and_the_live_one() {
        let arn = |r: u32| format!("arn:aws:ecs:us-east-1:123456789012:task-definition/web:{r}");
        let active: Vec<String> = [3, 1, 7, 5, 8].into_iter().map(arn).collect();
        assert_eq!(
            revisions_beyond(&active, 2, &arn(8)),
            [arn(1), arn(3), arn(5)]
        );
        assert_eq!(
            revisions_beyond(&active, 1, &arn(8)),
            [arn(1), arn(3), arn(5), arn(7)]
        );
        // The live revision survives even when it is not among the newest.
        assert_eq!(
            revisions_beyond(&active, 1, &arn(5)),
            [arn(1), arn(3), arn(7)]
        );
        assert!(revisions_beyond(&active, 10, &arn(8)).is_empty());
    }

    #[test]
    fn tag_only_retags_every_parseable_image() {
        let mut td = json!({"containerDefinitions": [
            {"name": "a", "image": "acct/repo:v1"},
            {"name": "b", "image": "nginx@sha256:abcdef"},
            {"name": "c", "image": "_not an image"},
        ]});
        let changes = retag_images(&mut td, "v9");
        assert_eq!(changes.len(), 2);
        assert_eq!(td["containerDefinitions"][0]["image"], "acct/repo:v9");
        assert_eq!(td["containerDefinitions"][1]["image"], "nginx:v9");
        assert_eq!(td["containerDefinitions"][2]["image"], "_not an image");
    }

    #[test]
    fn task_definition_files_with_or_without_the_wrapper() {
        let wrapped = include_str!("../fixtures/taskdef-full.json");
        let (description, tags) = from_file(wrapped).unwrap();
        assert_eq!(description["family"], "web");
        assert!(!tags.is_empty());
        let bare = serde_json::to_string(&description).unwrap();
        let (same, no_tags) = from_file(&bare).unwrap();
        assert_eq!(same, description);
        assert!(no_tags.is_empty());
        assert!(from_file("{").unwrap_err().contains("not JSON"));
        assert!(from_file(r#"{"family": "x"}"#)
            .unwrap_err()
            .contains("containerDefinitions"));
    }

    #[test]
    fn family_and_revision_from_arn_or_name() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7";
        assert_eq!(family_of(arn), "web");
        assert_eq!(revision_of(arn), Some(7));
        assert_eq!(family_of("web:3"), "web");
        assert_eq!(family_of("web"), "web");
        assert_eq!(revision_of("web"), None);
    }
}
