//! `make demo`: the real `ecs-deploy` binary deploying to the fake ECS on
//! loopback — first a tag that was never pushed, refused before anything is
//! written; then a rollout that succeeds; then one whose tasks crash,
//! explained in the crashed container's own log lines and rolled back; then
//! a blue/green deploy whose alarm fires during the bake, so that ECS shifts
//! the traffic back.
//!
//! Usage: `cargo run --example demo -- path/to/ecs-deploy`

use std::process::ExitCode;

use fake_ecs::{FakeEcs, Rollout, ACCESS_KEY, SECRET_KEY};
use serde_json::json;

const REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Some(binary) = std::env::args().nth(1) else {
        eprintln!("usage: demo PATH-TO-ecs-deploy");
        return ExitCode::from(3);
    };
    let fake = FakeEcs::start().await;
    fake.add_cluster("demo");
    let arn = fake.seed_task_definition(
        json!({
            "family": "web",
            "containerDefinitions": [
                {"name": "web", "image": format!("{REPO}:1.0.0"), "essential": true, "memory": 256,
                 "logConfiguration": {"logDriver": "awslogs", "options": {
                     "awslogs-group": "/ecs/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "web"}}},
                {"name": "log-router", "image": "amazon/aws-for-fluent-bit:2.32.0", "essential": false, "memory": 64}
            ]
        }),
        vec![],
    );
    fake.add_service("demo", "web", &arn, 3);
    fake.add_log_group("/ecs/web");
    // What CI pushed to ECR; 1.1.1 never made it.
    for tag in ["1.0.0", "1.1.0", "1.2.0", "1.3.0"] {
        fake.add_ecr_image("shop/web", tag);
    }

    banner("1/4 A tag that was never pushed: refused before anything is written");
    let refused = run(&binary, &fake, "1.1.1", &["-t", "60"]).await;

    banner("2/4 A deploy that succeeds: web 1.0.0 -> 1.1.0");
    fake.set_rollout("demo", "web", Rollout::Complete { polls: 4 });
    let first = run(&binary, &fake, "1.1.0", &["-t", "60"]).await;

    banner("3/4 A deploy whose tasks crash, with --enable-rollback: web 1.1.0 -> 1.2.0");
    fake.set_failing_task_log(vec![
        "Starting web 1.2.0".into(),
        "Connecting to the database".into(),
        "FATAL: DATABASE_URL is not set".into(),
    ]);
    fake.set_rollouts(
        "demo",
        "web",
        vec![
            Rollout::TasksFail {
                polls: 4,
                tasks_per_poll: 1,
                reason: "Essential container in task exited".into(),
            },
            Rollout::Complete { polls: 3 },
        ],
    );
    let second = run(&binary, &fake, "1.2.0", &["-t", "60"]).await;

    banner("4/4 Native blue/green; an alarm fires during the bake: web 1.1.0 -> 1.3.0");
    fake.set_deployment_configuration(
        "demo",
        "web",
        json!({
            "strategy": "BLUE_GREEN",
            "bakeTimeInMinutes": 10,
            "alarms": {"alarmNames": ["web-5xx"], "enable": true, "rollback": true}
        }),
    );
    fake.set_rollout("demo", "web", Rollout::AlarmInBake { after_polls: 2 });
    // No -t: the deadline covers the configured bake by itself.
    let third = run(&binary, &fake, "1.3.0", &[]).await;

    println!();
    println!("Demo finished: the unpushed tag exit {refused} (expected 13, nothing registered), first deploy exit {first} (expected 0), second exit {second} (expected 1, rolled back), third exit {third} (expected 1, ECS shifted traffic back).");
    if refused == 13 && first == 0 && second == 1 && third == 1 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn banner(title: &str) {
    println!("\n=== {title} ===");
    println!("$ ecs-deploy -c demo -n web -i {REPO}:<tag> --poll-interval 0.5 --enable-rollback\n");
}

/// Runs the binary against the fake with `extra` flags, showing its output as it goes; returns
/// its exit code.
async fn run(binary: &str, fake: &FakeEcs, tag: &str, extra: &[&str]) -> i32 {
    let image = format!("{REPO}:{tag}");
    let status = tokio::process::Command::new(binary)
        .args([
            "-c",
            "demo",
            "-n",
            "web",
            "-i",
            &image,
            "--poll-interval",
            "0.5",
        ])
        .args(extra)
        .args([
            "--enable-rollback",
            "-r",
            "us-east-1",
            "--endpoint-url",
            &fake.uri(),
        ])
        // ECR and CloudWatch Logs are the fake too.
        .env("AWS_ENDPOINT_URL", fake.uri())
        .env_remove("AWS_ENDPOINT_URL_ECR")
        .env_remove("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .status()
        .await
        .expect("the ecs-deploy binary runs");
    status.code().unwrap_or(-1)
}
