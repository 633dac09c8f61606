//! Task-definition transform (design §4): turn the description ECS gives back
//! into the input of `RegisterTaskDefinition`, and swap container images.
//! Pure: task definitions stay `serde_json::Value` so that fields this tool
//! does not know about (including ones ECS adds in the future) survive a deploy.

use std::fmt;

use serde_json::{Map, Value};

use crate::core::image::ImageRef;

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

/// One environment variable a deploy sets or removes (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvChange {
    pub container: String,
    pub name: String,
    /// `false` when the variable is removed.
    pub set: bool,
}

/// What a deploy changes in the containers of a task definition.
#[derive(Debug, Default, Clone, Copy)]
pub struct Changes<'a> {
    /// `-i`: containers of the image's repository (or the named ones) get it.
    pub image: Option<&'a ImageRef>,
    /// `-to`: every container (or the named ones) gets this tag.
    pub tag: Option<&'a str>,
    /// `--container`: the only containers to change.
    pub containers: &'a [String],
    /// `--env NAME=VALUE`.
    pub set_env: &'a [(String, String)],
    /// `--unset-env NAME`.
    pub unset_env: &'a [String],
}

/// What [`apply`] changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    pub images: Vec<ImageChange>,
    pub env: Vec<EnvChange>,
}

/// Why the changes have nothing (or something unknown) to apply to; nothing is registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// No container runs the repository of `-i`.
    NoMatchingContainer {
        repository: String,
        containers: Vec<(String, String)>,
    },
    /// `--container` names containers the task definition does not have.
    UnknownContainers {
        names: Vec<String>,
        containers: Vec<(String, String)>,
    },
    /// `--env`/`--unset-env` without a container to apply them to.
    NoTargetForEnv,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (containers, hint) = match self {
            TargetError::NoMatchingContainer {
                repository,
                containers,
            } => {
                write!(f, "no container in the task definition uses the repository {repository}; nothing was registered. Containers:")?;
                (containers, "Pass -i with the repository one of them uses (the tag may differ), or name them with --container.")
            }
            TargetError::UnknownContainers { names, containers } => {
                write!(f, "the task definition has no container named {}; nothing was registered. Containers:", names.join(", "))?;
                (containers, "Pass --container with one of these names.")
            }
            TargetError::NoTargetForEnv => {
                return f.write_str("--env/--unset-env need containers to change: pass -i, -to or --container; nothing was registered.");
            }
        };
        for (name, image) in containers {
            write!(f, "\n  {name}: {image}")?;
        }
        write!(f, "\n{hint}")
    }
}

impl std::error::Error for TargetError {}

/// Applies `changes` to a registration input: the image (or tag) to the
/// targeted containers, then the environment changes to the same ones.
/// Every other container, and every other field, is left untouched.
pub fn apply(task_definition: &mut Value, changes: &Changes<'_>) -> Result<Applied, TargetError> {
    let all = container_images(task_definition);
    let unknown: Vec<String> = changes
        .containers
        .iter()
        .filter(|name| !all.iter().any(|(n, _)| n == *name))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(TargetError::UnknownContainers {
            names: unknown,
            containers: all,
        });
    }
    let targets: Vec<String> = match (changes.image, changes.containers.is_empty()) {
        (_, false) => changes.containers.to_vec(),
        (Some(image), true) => {
            let repository = image.repository_key();
            let matching: Vec<String> = all
                .iter()
                .filter(|(_, current)| {
                    ImageRef::parse(current).is_ok_and(|c| c.repository_key() == repository)
                })
                .map(|(name, _)| name.clone())
                .collect();
            if matching.is_empty() {
                return Err(TargetError::NoMatchingContainer {
                    repository: image.to_string(),
                    containers: all,
                });
            }
            matching
        }
        (None, true) if changes.tag.is_some() => all.iter().map(|(name, _)| name.clone()).collect(),
        (None, true) => Vec::new(),
    };
    let has_env = !changes.set_env.is_empty() || !changes.unset_env.is_empty();
    if has_env && targets.is_empty() {
        return Err(TargetError::NoTargetForEnv);
    }
    let mut applied = Applied::default();
    for container in containers_mut(task_definition) {
        let name = string_field(container, "name");
        if !targets.contains(&name) {
            continue;
        }
        let current = container
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let new_image = match (changes.image, changes.tag) {
            (Some(image), _) => Some(image.to_string()),
            (None, Some(tag)) => ImageRef::parse(&current)
                .ok()
                .map(|i| i.with_tag(tag).to_string()),
            (None, None) => None,
        };
        if let Some(new_image) = new_image {
            applied.images.push(ImageChange {
                container: name.clone(),
                from: current,
                to: new_image.clone(),
            });
            container.insert("image".into(), Value::String(new_image));
        }
        applied.env.extend(apply_env(container, &name, changes));
    }
    Ok(applied)
}

/// Sets and removes variables in one container's `environment`, keeping the
/// order of the ones that stay.
fn apply_env(
    container: &mut Map<String, Value>,
    name: &str,
    changes: &Changes<'_>,
) -> Vec<EnvChange> {
    let mut applied = Vec::new();
    if changes.set_env.is_empty() && changes.unset_env.is_empty() {
        return applied;
    }
    let environment = container
        .entry("environment")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Some(variables) = environment.as_array_mut() else {
        return applied;
    };
    let is = |v: &Value, wanted: &str| v["name"].as_str() == Some(wanted);
    for (variable, value) in changes.set_env {
        match variables.iter_mut().find(|v| is(v, variable)) {
            Some(existing) => existing["value"] = Value::String(value.clone()),
            None => variables.push(serde_json::json!({"name": variable, "value": value})),
        }
        applied.push(EnvChange {
            container: name.to_string(),
            name: variable.clone(),
            set: true,
        });
    }
    for variable in changes.unset_env {
        let before = variables.len();
        variables.retain(|v| !is(v, variable));
        if variables.len() < before {
            applied.push(EnvChange {
                container: name.to_string(),
                name: variable.clone(),
                set: false,
            });
        }
    }
    applied
}

/// Copies of `before` and `after` in which every environment variable's
/// value is replaced by a placeholder (`<unchanged>`, `<previous value>`,
/// `<changed>`), so that a diff shows what changes without printing any
/// value — the changed ones, or the plaintext ones around them.
pub fn mask_env_values(before: &Value, after: &Value) -> (Value, Value) {
    let value_of = |td: &Value, container: &str, variable: &str| -> Option<Value> {
        td["containerDefinitions"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == container)?["environment"]
            .as_array()?
            .iter()
            .find(|v| v["name"] == variable)
            .map(|v| v["value"].clone())
    };
    let mask = |td: &Value, other: &Value, placeholder: &str| {
        let mut masked = td.clone();
        for container in containers_mut(&mut masked) {
            let container_name = string_field(container, "name");
            let Some(variables) = container
                .get_mut("environment")
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for variable in variables.iter_mut() {
                let name = variable["name"].as_str().unwrap_or_default();
                let unchanged =
                    value_of(other, &container_name, name).as_ref() == Some(&variable["value"]);
                variable["value"] = Value::String(
                    if unchanged {
                        "<unchanged>"
                    } else {
                        placeholder
                    }
                    .into(),
                );
            }
        }
        masked
    };
    (
        mask(before, after, "<previous value>"),
        mask(after, before, "<changed>"),
    )
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
/// never one of `live` (the revisions services run), oldest first.
pub fn revisions_beyond(active: &[String], keep: usize, live: &[&str]) -> Vec<String> {
    let mut newest_first: Vec<&String> = active.iter().collect();
    newest_first.sort_by_key(|arn| std::cmp::Reverse(revision_of(arn)));
    let mut doomed: Vec<String> = newest_first
        .into_iter()
        .skip(keep)
        .filter(|arn| !live.contains(&arn.as_str()))
        .cloned()
        .collect();
    doomed.reverse();
    doomed
}

/// `family:revision` from a task-definition ARN, for compact progress lines.
pub fn short_revision(task_definition: &str) -> &str {
    task_definition
        .rsplit('/')
        .next()
        .unwrap_or(task_definition)
}

/// Whether the revision `arn` is the one `reference` names: the same ARN,
/// the same `family:revision`, or (a bare family) a revision of it.
pub fn is_named_by(arn: &str, reference: &str) -> bool {
    if reference.starts_with("arn:") {
        arn == reference
    } else if reference.contains(':') {
        short_revision(arn) == reference
    } else {
        family_of(arn) == reference
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_revision_is_named_by_its_arn_family_revision_or_family() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7";
        for reference in [arn, "web:7", "web"] {
            assert!(is_named_by(arn, reference), "{reference}");
        }
        for reference in [
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:8",
            "web:8",
            "web-two",
            "we",
        ] {
            assert!(!is_named_by(arn, reference), "{reference}");
        }
    }

    fn fixture() -> Value {
        let text = include_str!("../../fixtures/taskdef-full.json");
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

    fn image(text: &str) -> ImageRef {
        ImageRef::parse(text).unwrap()
    }

    fn swap(td: &mut Value, text: &str) -> Result<Applied, TargetError> {
        let image = image(text);
        apply(
            td,
            &Changes {
                image: Some(&image),
                ..Changes::default()
            },
        )
    }

    #[test]
    fn swaps_only_the_matching_repository() {
        let mut td = registration_input(&fixture());
        let before = td.clone();
        let new = "123456789012.dkr.ecr.us-east-1.amazonaws.com/acct/repo:v2";
        let applied = swap(&mut td, new).unwrap();
        assert_eq!(applied.images.len(), 1);
        assert_eq!(applied.images[0].container, "app");
        assert_eq!(applied.images[0].to, new);
        assert!(applied.env.is_empty());
        // The other container and every other key are untouched.
        let mut expected = before;
        expected["containerDefinitions"][0]["image"] = json!(new);
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
        let applied = swap(&mut td, "nginx:1.25").unwrap();
        let names: Vec<_> = applied
            .images
            .iter()
            .map(|c| c.container.as_str())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(td["containerDefinitions"][3]["image"], "nginx-extra:1");
    }

    #[test]
    fn no_match_lists_every_container() {
        let mut td = registration_input(&fixture());
        let err = swap(&mut td, "acct/other:1").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("app: 123456789012.dkr.ecr.us-east-1.amazonaws.com/acct/repo:v1"));
        assert!(message.contains("sidecar: "));
        assert!(message.contains("nothing was registered"));
    }

    #[test]
    fn tag_only_retags_every_parseable_image() {
        let mut td = json!({"containerDefinitions": [
            {"name": "a", "image": "acct/repo:v1"},
            {"name": "b", "image": "nginx@sha256:abcdef"},
            {"name": "c", "image": "_not an image"},
        ]});
        let applied = apply(
            &mut td,
            &Changes {
                tag: Some("v9"),
                ..Changes::default()
            },
        )
        .unwrap();
        assert_eq!(applied.images.len(), 2);
        assert_eq!(td["containerDefinitions"][0]["image"], "acct/repo:v9");
        assert_eq!(td["containerDefinitions"][1]["image"], "nginx:v9");
        assert_eq!(td["containerDefinitions"][2]["image"], "_not an image");
    }

    #[test]
    fn named_containers_get_the_image_whatever_they_ran() {
        let mut td = json!({"containerDefinitions": [
            {"name": "web", "image": "acct/app:v1"},
            {"name": "worker", "image": "acct/app:v1"},
            {"name": "proxy", "image": "envoy:1"},
        ]});
        let new = image("acct/app:v2");
        let only = ["worker".to_string()];
        let applied = apply(
            &mut td,
            &Changes {
                image: Some(&new),
                containers: &only,
                ..Changes::default()
            },
        )
        .unwrap();
        assert_eq!(applied.images.len(), 1);
        assert_eq!(td["containerDefinitions"][0]["image"], "acct/app:v1");
        assert_eq!(td["containerDefinitions"][1]["image"], "acct/app:v2");
        let unknown = ["wrker".to_string()];
        let err = apply(
            &mut td,
            &Changes {
                image: Some(&new),
                containers: &unknown,
                ..Changes::default()
            },
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("no container named wrker"),
            "{err}"
        );
        assert!(err.to_string().contains("proxy: envoy:1"), "{err}");
    }

    #[test]
    fn environment_changes_go_to_the_targeted_containers() {
        let mut td = json!({"containerDefinitions": [
            {"name": "app", "image": "acct/app:v1", "environment": [
                {"name": "A", "value": "1"}, {"name": "OLD", "value": "x"}, {"name": "Z", "value": "26"}
            ]},
            {"name": "sidecar", "image": "envoy:1"},
        ]});
        let new = image("acct/app:v2");
        let set = [
            ("A".to_string(), "2".to_string()),
            ("NEW".to_string(), "s3cr3t".to_string()),
        ];
        let unset = ["OLD".to_string(), "ABSENT".to_string()];
        let applied = apply(
            &mut td,
            &Changes {
                image: Some(&new),
                set_env: &set,
                unset_env: &unset,
                ..Changes::default()
            },
        )
        .unwrap();
        assert_eq!(
            td["containerDefinitions"][0]["environment"],
            json!([{"name": "A", "value": "2"}, {"name": "Z", "value": "26"}, {"name": "NEW", "value": "s3cr3t"}])
        );
        assert!(td["containerDefinitions"][1].get("environment").is_none());
        let described: Vec<String> = applied
            .env
            .iter()
            .map(|e| format!("{}:{}:{}", e.container, e.name, e.set))
            .collect();
        assert_eq!(described, ["app:A:true", "app:NEW:true", "app:OLD:false"]);
        assert!(!format!("{applied:?}").contains("s3cr3t"));

        let err = apply(
            &mut td,
            &Changes {
                set_env: &set,
                ..Changes::default()
            },
        )
        .unwrap_err();
        assert_eq!(err, TargetError::NoTargetForEnv);
        let only = ["sidecar".to_string()];
        let applied = apply(
            &mut td,
            &Changes {
                set_env: &set,
                containers: &only,
                ..Changes::default()
            },
        )
        .unwrap();
        assert!(applied.images.is_empty());
        assert_eq!(
            td["containerDefinitions"][1]["environment"][1]["name"],
            "NEW"
        );
    }

    #[test]
    fn masked_environment_values_show_only_that_they_change() {
        let before = json!({"containerDefinitions": [{"name": "app", "environment": [
            {"name": "TOKEN", "value": "old-secret"}, {"name": "SAME", "value": "s"}, {"name": "PLAIN", "value": "plain-secret"}
        ]}]});
        let after = json!({"containerDefinitions": [{"name": "app", "environment": [
            {"name": "TOKEN", "value": "new-secret"}, {"name": "SAME", "value": "s"}, {"name": "PLAIN", "value": "plain-secret"},
            {"name": "ADDED", "value": "a-secret"}
        ]}]});
        let (old, new) = mask_env_values(&before, &after);
        let shown = format!("{old}{new}");
        assert!(!shown.contains("secret"), "{shown}");
        assert_eq!(
            old["containerDefinitions"][0]["environment"][0]["value"],
            "<previous value>"
        );
        assert_eq!(
            new["containerDefinitions"][0]["environment"][0]["value"],
            "<changed>"
        );
        assert_eq!(
            new["containerDefinitions"][0]["environment"][1]["value"],
            "<unchanged>"
        );
        assert_eq!(
            new["containerDefinitions"][0]["environment"][2]["value"],
            "<unchanged>"
        );
        assert_eq!(
            new["containerDefinitions"][0]["environment"][3]["value"],
            "<changed>"
        );
    }

    #[test]
    fn task_definition_files_with_or_without_the_wrapper() {
        let wrapped = include_str!("../../fixtures/taskdef-full.json");
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
    fn keeps_the_newest_revisions_and_the_live_ones() {
        let arn = |r: u32| format!("arn:aws:ecs:us-east-1:123456789012:task-definition/web:{r}");
        let active: Vec<String> = [3, 1, 7, 5, 8].into_iter().map(arn).collect();
        assert_eq!(
            revisions_beyond(&active, 2, &[&arn(8)]),
            [arn(1), arn(3), arn(5)]
        );
        assert_eq!(
            revisions_beyond(&active, 1, &[&arn(8)]),
            [arn(1), arn(3), arn(5), arn(7)]
        );
        // Live revisions survive even when they are not among the newest.
        assert_eq!(
            revisions_beyond(&active, 1, &[&arn(8), &arn(5)]),
            [arn(1), arn(3), arn(7)]
        );
        assert!(revisions_beyond(&active, 10, &[&arn(8)]).is_empty());
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
