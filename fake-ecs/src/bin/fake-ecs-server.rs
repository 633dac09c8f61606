//! The fake ECS as a server process, for `scripts/bench.py` (which is Python and cannot hold a
//! `FakeEcs` in-process as the tests do).
//!
//! ```text
//! fake-ecs-server [--cluster NAME] [--services N] [--desired N] [--image IMAGE]
//!                 [--complete-after SECONDS | --fail-after SECONDS] [--log-group NAME]
//!                 [--accept-access-key KEY]... [--throttle]
//! ```
//!
//! Seeds a cluster (default `ci`) with services `s1` … `sN` (default 1), each running its own
//! task definition family (`s1:1`, …) of three containers — `app` with IMAGE, a proxy and a log
//! router sidecar, as `scripts/harness.py` builds them in moto — with the desired count
//! (default 0). With `--complete-after` or `--fail-after`, the next deployment of every service
//! follows `Rollout::CompleteAfter` or `Rollout::FailAfter` by the wall clock, so that tools
//! polling at different paces meet the same rollout; otherwise the default rollout.
//!
//! The fake's ECR holds IMAGE when it names a repository of the fake's registry
//! (`123456789012.dkr.ecr.us-east-1.amazonaws.com/…`); the images a client is to deploy are
//! pushed there with `push` (below), as CI pushes an image before it deploys it. With
//! `--log-group NAME`, `app` logs with the `awslogs` driver to the group NAME (region
//! us-east-1, stream prefix `ecs`) instead of the log router, and the fake's CloudWatch Logs
//! has that group. `--accept-access-key KEY` (repeatable) makes the fake accept requests
//! signed with KEY besides its own key (the fake checks the shape of a signature only), e.g.
//! those of a moto user whose other calls go to moto. `--throttle` makes the fake throttle ECS
//! requests as ECS does (`FakeEcs::throttle_like_ecs`: AWS's token buckets per category of
//! actions, refilled by the wall clock).
//!
//! Prints one JSON line `{"url", "access_key", "secret_key", "region"}` once it serves on
//! 127.0.0.1. Then each line on standard input is a command answered by one JSON line:
//! `stats` answers the requests counted by operation (`counts`), how many were answered
//! ThrottlingException because their bucket was empty (`throttled`, and by operation
//! `throttledCounts`) and every service as it stands (without advancing its rollout);
//! `push IMAGE` pushes IMAGE (a repository of the fake's registry and a tag) to the fake's ECR
//! and answers `{"digest"}`. The end of standard input stops the server.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use fake_ecs::{FakeEcs, Rollout, ACCESS_KEY, ACCOUNT, REGION, SECRET_KEY};
use serde_json::{json, Value};

/// The repository of the `app` container (the one a bench deploys to).
const REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web";
/// The stream prefix of `app`'s log with `--log-group`: its streams are `ecs/app/<task id>`.
const STREAM_PREFIX: &str = "ecs";
/// Why the task of a `--fail-after` deployment stops.
const FAIL_REASON: &str = "Essential container in task exited";

/// What the command line asks for.
struct Options {
    cluster: String,
    services: u32,
    desired: u32,
    image: String,
    rollout: Option<Rollout>,
    log_group: Option<String>,
    access_keys: Vec<String>,
    throttle: bool,
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("fake-ecs-server: {problem}");
    eprintln!("usage: fake-ecs-server [--cluster NAME] [--services N] [--desired N] [--image IMAGE] [--complete-after SECONDS | --fail-after SECONDS] [--log-group NAME] [--accept-access-key KEY]... [--throttle]");
    ExitCode::from(3)
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        cluster: "ci".into(),
        services: 1,
        desired: 0,
        image: format!("{REPO}:v1"),
        rollout: None,
        log_group: None,
        access_keys: Vec::new(),
        throttle: false,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        if flag == "--throttle" {
            options.throttle = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u32>()
                .map_err(|_| format!("{flag} {value}: not a number"))
        };
        let seconds = || match value.parse::<f64>() {
            Ok(s) if s.is_finite() && s >= 0.0 => Ok(Duration::from_secs_f64(s)),
            _ => Err(format!("{flag} {value}: not a number of seconds")),
        };
        match flag.as_str() {
            "--cluster" => options.cluster = value.clone(),
            "--services" => options.services = number()?.clamp(1, 1000),
            "--desired" => options.desired = number()?,
            "--image" => options.image = value.clone(),
            "--complete-after" => {
                options.rollout = Some(Rollout::CompleteAfter { after: seconds()? })
            }
            "--fail-after" => {
                options.rollout = Some(Rollout::FailAfter {
                    after: seconds()?,
                    reason: FAIL_REASON.into(),
                })
            }
            "--log-group" if !value.is_empty() => options.log_group = Some(value.clone()),
            "--log-group" => return Err("--log-group needs a group name".into()),
            "--accept-access-key" => options.access_keys.push(value.clone()),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(options)
}

/// Every service's task definition: three containers, and the empty lists ECS always shows
/// (fabfuel's ecs-deploy needs `volumes`; the fake shows only what was registered). With a
/// `log_group`, `app` logs there with the `awslogs` driver.
fn task_definition(family: &str, image: &str, log_group: Option<&str>) -> Value {
    let mut td = json!({
        "family": family,
        "volumes": [],
        "placementConstraints": [],
        "containerDefinitions": [
            {"name": "app", "image": image, "memory": 512, "essential": true,
             "portMappings": [{"containerPort": 8080}],
             "environment": [{"name": "PORT", "value": "8080"}],
             "logConfiguration": {"logDriver": "awsfirelens"}},
            {"name": "proxy", "image": "public.ecr.aws/nginx/nginx:1.27", "memory": 128,
             "essential": true, "portMappings": [{"containerPort": 80}],
             "dependsOn": [{"containerName": "app", "condition": "START"}]},
            {"name": "log-router",
             "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4",
             "memory": 64, "essential": false,
             "firelensConfiguration": {"type": "fluentbit"}}
        ]
    });
    if let Some(group) = log_group {
        td["containerDefinitions"][0]["logConfiguration"] = json!({
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": group,
                "awslogs-region": REGION,
                "awslogs-stream-prefix": STREAM_PREFIX,
            }
        });
    }
    td
}

/// The repository and tag of an image of the fake's registry, or why it is not one.
fn ecr_image(image: &str) -> Result<(&str, &str), String> {
    let registry = format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/");
    let Some(rest) = image.strip_prefix(&registry) else {
        return Err(format!(
            "{image:?} is not in the fake's registry {registry}"
        ));
    };
    match rest.rsplit_once(':') {
        Some((repository, tag)) if !repository.is_empty() && !tag.is_empty() => {
            Ok((repository, tag))
        }
        _ => Err(format!("{image:?} has no tag")),
    }
}

/// Pushes `image` to the fake's ECR: its digest, or why it cannot be pushed.
fn push(fake: &FakeEcs, image: &str) -> Result<String, String> {
    let (repository, tag) = ecr_image(image)?;
    // add_ecr_image panics on a name ECR would refuse: a line of error, not a dead server.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        fake.add_ecr_image(repository, tag)
    }))
    .map_err(|_| format!("ECR would not take {image:?}"))
}

fn seed(fake: &FakeEcs, options: &Options) -> Vec<String> {
    fake.add_cluster(&options.cluster);
    for key in &options.access_keys {
        fake.accept_access_key(key);
    }
    if options.throttle {
        fake.throttle_like_ecs();
    }
    if ecr_image(&options.image).is_ok() {
        let _ = push(fake, &options.image);
    }
    if let Some(group) = &options.log_group {
        fake.add_log_group(group);
    }
    (1..=options.services)
        .map(|i| {
            let name = format!("s{i}");
            let td = task_definition(&name, &options.image, options.log_group.as_deref());
            let arn = fake.seed_task_definition(td, vec![]);
            fake.add_service(&options.cluster, &name, &arn, options.desired);
            if let Some(rollout) = &options.rollout {
                fake.set_rollout(&options.cluster, &name, rollout.clone());
            }
            name
        })
        .collect()
}

/// The requests by operation, the throttled ones (in all and by operation), and each service:
/// the task definition it runs, the images of its containers, its PRIMARY deployment's
/// rolloutState, when its timed rollout ends (seconds since the Unix epoch) and how many "has
/// stopped" events it has.
fn stats(fake: &FakeEcs, cluster: &str, names: &[String]) -> Value {
    let mut counts = BTreeMap::new();
    let mut throttled = BTreeMap::new();
    for request in fake.requests() {
        if request.throttled {
            *throttled.entry(request.operation.clone()).or_insert(0u64) += 1;
        }
        *counts.entry(request.operation).or_insert(0u64) += 1;
    }
    let services: serde_json::Map<String, Value> = names
        .iter()
        .map(|name| {
            let service = fake.service(cluster, name);
            let arn = service["taskDefinition"].as_str().unwrap_or_default();
            let images: serde_json::Map<String, Value> = fake.task_definition(arn)
                ["containerDefinitions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap_or_default().to_string(),
                        c["image"].clone(),
                    )
                })
                .collect();
            let stopped_events = service["events"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| {
                    e["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("has stopped"))
                })
                .count();
            let due = fake.rollout_due(cluster, name).map(|d| d.as_secs_f64());
            let value = json!({
                "taskDefinition": arn,
                "images": images,
                "desiredCount": service["desiredCount"],
                "rolloutState": service["deployments"][0]["rolloutState"],
                "deployments": service["deployments"].as_array().map_or(0, Vec::len),
                "due": due,
                "stoppedEvents": stopped_events,
            });
            (name.clone(), value)
        })
        .collect();
    json!({
        "counts": counts,
        "throttled": throttled.values().sum::<u64>(),
        "throttledCounts": throttled,
        "services": services,
    })
}

fn say(line: &Value) {
    let mut out = std::io::stdout().lock();
    // The bench reads line by line: each answer whole, at once.
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(problem) => return usage(&problem),
    };
    let fake = Arc::new(FakeEcs::start().await);
    let names = seed(&fake, &options);
    say(&json!({
        "url": fake.uri(),
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "region": REGION,
    }));
    // Standard input is read on a blocking thread; the server runs on the runtime's workers.
    let serving = Arc::clone(&fake);
    let commands = tokio::task::spawn_blocking(move || {
        for line in std::io::stdin().lock().lines() {
            match line.as_deref().map(str::trim) {
                Ok("stats") => say(&stats(&serving, &options.cluster, &names)),
                Ok(command) if command.starts_with("push ") => {
                    match push(&serving, command["push ".len()..].trim()) {
                        Ok(digest) => say(&json!({"digest": digest})),
                        Err(problem) => say(&json!({"error": problem})),
                    }
                }
                Ok("") => {}
                Ok(other) => say(&json!({"error": format!("unknown command {other:?}")})),
                Err(_) => break,
            }
        }
    });
    let _ = commands.await;
    ExitCode::SUCCESS
}
