//! End-to-end: every way ECS deploys a service (design §10) — rolling,
//! native blue/green, linear, canary; alarms, the circuit breaker, PAUSE
//! hooks — watched through the service-deployment API, rolled back the ECS
//! way, and the fallback where that API is refused.

use crate::common::*;
use fake_ecs::{FakeEcs, Fault, Rollout};
use serde_json::{json, Value};

/// The newest service deployment of `service`, as the fake holds it.
fn newest_deployment(fake: &FakeEcs, service: &str) -> Value {
    fake.service_deployments(CLUSTER, service)[0].clone()
}

/// `web` as a service of `strategy` with `config` merged in.
fn with_strategy(fake: &FakeEcs, strategy: &str, config: Value) {
    with_strategy_of(fake, SERVICE, strategy, config);
}

/// `service` as a service of `strategy` with `config` merged in.
fn with_strategy_of(fake: &FakeEcs, service: &str, strategy: &str, config: Value) {
    let mut full = json!({ "strategy": strategy });
    full.as_object_mut()
        .unwrap()
        .extend(config.as_object().unwrap().clone());
    fake.set_deployment_configuration(CLUSTER, service, full);
}

#[tokio::test]
async fn a_blue_green_deploy_succeeds_only_when_ecs_says_successful() {
    let fake = fake().await;
    with_strategy(&fake, "BLUE_GREEN", json!({"bakeTimeInMinutes": 1}));
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Staged { bake_polls: 3 });
    let (run, json) = deploy_json(&fake, &[]).await;
    run.assert_code(0);
    // The deadline covers the configured bake.
    run.assert_stderr_has("(BLUE_GREEN). Waiting for it to complete (timeout 660 s)");
    for stage in [
        "SCALE_UP",
        "TEST_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT",
        "BAKE_TIME (both revisions run; the bake lasts 1 min)",
        "-> CLEAN_UP",
    ] {
        run.assert_stderr_has(stage);
    }
    run.assert_stderr_has("traffic on web:2: production 100%, test 100%");
    assert_eq!(newest_deployment(&fake, SERVICE)["status"], "SUCCESSFUL");
    let service = &json["services"][0];
    assert_eq!(service["strategy"], "BLUE_GREEN");
    assert_eq!(service["status"], "SUCCESSFUL");
    assert_eq!(
        service["service_deployment_arn"],
        newest_deployment(&fake, SERVICE)["serviceDeploymentArn"]
    );
    // Not at the first PRIMARY: the deploy went through every stage.
    let polls = fake.count("DescribeServiceDeployments");
    assert!(polls >= 10, "{polls} polls");
    assert_eq!(
        fake.count("ListServiceDeployments"),
        0,
        "the service named it"
    );
}

#[tokio::test]
async fn an_alarm_in_the_bake_is_ecs_rolling_back_named_and_not_fought() {
    let fake = fake().await;
    with_strategy(
        &fake,
        "BLUE_GREEN",
        json!({"bakeTimeInMinutes": 5, "alarms": {"alarmNames": ["web-5xx"], "enable": true, "rollback": true}}),
    );
    fake.set_rollout(CLUSTER, SERVICE, Rollout::AlarmInBake { after_polls: 1 });
    let (run, json) = deploy_json(&fake, &["--enable-rollback"]).await;
    run.assert_code(1);
    run.assert_stderr_has("ECS rolled the deployment back to web:1 (ROLLBACK_IN_PROGRESS)");
    run.assert_stderr_has("alarms in ALARM: web-5xx");
    run.assert_stderr_has(
        "ECS already rolled the service back, so ecs-deploy did not roll back again.",
    );
    assert_eq!(fake.count("StopServiceDeployment"), 0);
    assert_eq!(fake.count("UpdateService"), 1);
    let service = &json["services"][0];
    assert_eq!(json["result"], "ecs_rolled_back");
    assert_eq!(service["rollback"]["status"], "done_by_ecs");
    assert!(service["rollback"]["reason"]
        .as_str()
        .unwrap()
        .contains("web-5xx"));
    assert_eq!(service["alarms_triggered"], json!(["web-5xx"]));
}

#[tokio::test]
async fn the_circuit_breaker_of_a_linear_deploy_fails_it_with_the_task_reasons() {
    let fake = fake().await;
    with_strategy(
        &fake,
        "LINEAR",
        json!({"linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}}),
    );
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::CircuitBreakerInScaleUp { threshold: 3 },
    );
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(1);
    run.assert_stdout_has("circuit breaker: 1 of 3 tasks failed");
    run.assert_stderr_has("circuit breaker: 3 of 3 tasks failed");
    run.assert_stderr_has("ECS deployment circuit breaker");
    run.assert_stderr_has("Stopped tasks of the new deployment:");
    assert_eq!(service_revision(&fake, SERVICE), "web:1");
}

#[tokio::test]
async fn a_canary_deploy_shifts_its_share_first() {
    let fake = fake().await;
    with_strategy(
        &fake,
        "CANARY",
        json!({"canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 2}}),
    );
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Staged { bake_polls: 1 });
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(0);
    run.assert_stdout_has("(CANARY). Waiting for it to complete (timeout 720 s)");
    run.assert_stdout_has("traffic on web:2: production 10%");
    run.assert_stdout_has("traffic on web:2: production 100%");
    assert_eq!(service_revision(&fake, SERVICE), "web:2");
}

#[tokio::test]
async fn wait_until_a_stage_ends_the_wait_there() {
    let fake = fake().await;
    with_strategy(&fake, "BLUE_GREEN", json!({"bakeTimeInMinutes": 60}));
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Staged { bake_polls: 1000 });
    let run = deploy_v2(&fake, &["--wait-until", "BAKE_TIME", "-t", "30"]).await;
    run.assert_code(0);
    run.assert_stdout_has("Waiting until it reaches BAKE_TIME");
    run.assert_stdout_has("warning: -t 30 s is shorter than the configured bake of 3600 s");
    let deployment = newest_deployment(&fake, SERVICE);
    assert_eq!(deployment["lifecycleStage"], "BAKE_TIME");
    assert_eq!(deployment["status"], "IN_PROGRESS", "ECS goes on baking");

    let run = deploy(
        &fake,
        &[
            "-c",
            CLUSTER,
            "-n",
            SERVICE,
            "-i",
            "x:1",
            "--wait-until",
            "HALFWAY",
        ],
    )
    .await;
    run.assert_code(3);
    run.assert_stderr_has("POST_TEST_TRAFFIC_SHIFT");
}

/// A blue/green service whose next deployment pauses at the PAUSE hook of
/// POST_TEST_TRAFFIC_SHIFT.
async fn paused_blue_green() -> FakeEcs {
    let fake = fake().await;
    with_strategy(&fake, "BLUE_GREEN", json!({"bakeTimeInMinutes": 1}));
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::PauseAt {
            stage: "POST_TEST_TRAFFIC_SHIFT".into(),
            bake_polls: 1,
        },
    );
    fake
}

#[tokio::test]
async fn a_pause_hook_is_shown_and_continued_or_rolled_back_with_one_command() {
    let fake = paused_blue_green().await;
    let run = deploy_v2(&fake, &["--wait-until", "POST_TEST_TRAFFIC_SHIFT"]).await;
    run.assert_code(0);
    let run = deploy(
        &fake,
        &["-c", CLUSTER, "-n", SERVICE, "--continue-deployment"],
    )
    .await;
    run.assert_code(0);
    run.assert_stdout_has("Sent CONTINUE to hook");
    run.assert_stdout_has("Service deployment successful.");
    assert_eq!(newest_deployment(&fake, SERVICE)["status"], "SUCCESSFUL");
    assert_eq!(fake.count("ContinueServiceDeployment"), 1);

    // Nothing paused now: refused before anything is sent.
    let run = deploy(
        &fake,
        &["-c", CLUSTER, "-n", SERVICE, "--continue-deployment"],
    )
    .await;
    run.assert_code(1);
    run.assert_stderr_has("is not waiting at a lifecycle hook");
    assert_eq!(fake.count("ContinueServiceDeployment"), 1);

    // The other answer rolls back.
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::PauseAt {
            stage: "POST_TEST_TRAFFIC_SHIFT".into(),
            bake_polls: 1,
        },
    );
    let run = deploy_image(
        &fake,
        &format!("{REPO}:v3"),
        &["--wait-until", "POST_TEST_TRAFFIC_SHIFT"],
    )
    .await;
    run.assert_code(0);
    let run = deploy(
        &fake,
        &["-c", CLUSTER, "-n", SERVICE, "--rollback-deployment"],
    )
    .await;
    run.assert_code(0);
    run.assert_stdout_has("Service deployment rolled back.");
    assert_eq!(service_revision(&fake, SERVICE), "web:2");
}

#[tokio::test]
async fn a_paused_deploy_says_how_to_answer() {
    let fake = paused_blue_green().await;
    let run = deploy_v2(&fake, &["-t", "1"]).await;
    run.assert_code(1);
    run.assert_stdout_has("paused at POST_TEST_TRAFFIC_SHIFT by PAUSE hook");
    run.assert_stdout_has(&format!(
        "continue:   ecs-deploy -c {CLUSTER} -n {SERVICE} --continue-deployment"
    ));
    run.assert_stdout_has(&format!(
        "roll back:  ecs-deploy -c {CLUSTER} -n {SERVICE} --rollback-deployment"
    ));
}

#[tokio::test]
async fn enable_rollback_rolls_back_the_ecs_way() {
    for strategy in ["BLUE_GREEN", "ROLLING"] {
        let fake = fake().await;
        with_strategy(&fake, strategy, json!({"bakeTimeInMinutes": 0}));
        let rollout = if strategy == "ROLLING" {
            Rollout::Stuck
        } else {
            Rollout::Staged { bake_polls: 1000 }
        };
        fake.set_rollout(CLUSTER, SERVICE, rollout);
        let (run, json) = deploy_json(&fake, &["-t", "0.5", "--enable-rollback"]).await;
        run.assert_code(1);
        run.assert_stderr_has("ECS rolls the deployment back (StopServiceDeployment ROLLBACK)");
        run.assert_stderr_has("Rolled back: the service runs web:1 again.");
        assert_eq!(fake.count("StopServiceDeployment"), 1, "{strategy}");
        assert_eq!(
            fake.count("UpdateService"),
            1,
            "{strategy}: no second deployment"
        );
        assert_eq!(service_revision(&fake, SERVICE), "web:1", "{strategy}");
        assert_eq!(json["result"], "rolled_back", "{strategy}");
        assert_eq!(json["services"][0]["rollback"]["status"], "completed");
        assert_eq!(
            newest_deployment(&fake, SERVICE)["status"],
            "ROLLBACK_SUCCESSFUL"
        );
    }
}

#[tokio::test]
async fn where_the_api_is_refused_the_wait_falls_back_with_one_warning() {
    let fake = fake().await;
    for operation in [
        "ListServiceDeployments",
        "DescribeServiceDeployments",
        "StopServiceDeployment",
    ] {
        fake.deny(operation);
    }
    fake.set_rollouts(
        CLUSTER,
        SERVICE,
        vec![
            Rollout::TasksFail {
                polls: 2,
                tasks_per_poll: 1,
                reason: "OutOfMemoryError".into(),
            },
            Rollout::Complete { polls: 1 },
        ],
    );
    let run = deploy_v2(&fake, &["--enable-rollback"]).await;
    run.assert_code(1);
    let warnings = run
        .stdout
        .matches("warning: the service-deployment API did not answer")
        .count();
    assert_eq!(warnings, 1, "{}", run.stdout);
    run.assert_stderr_has("Rolled back: the service runs web:1 again.");
    assert_eq!(
        fake.count("UpdateService"),
        2,
        "the rollback is an UpdateService"
    );
    assert_eq!(fake.count("DescribeServiceDeployments"), 1, "asked once");
    assert_eq!(fake.count("StopServiceDeployment"), 0);

    // Only the rollback API refused: the rollback falls back, the wait does not.
    let fake = self::fake().await;
    fake.deny("StopServiceDeployment");
    fake.set_rollouts(
        CLUSTER,
        SERVICE,
        vec![Rollout::Stuck, Rollout::Complete { polls: 1 }],
    );
    let run = deploy_v2(&fake, &["-t", "0.3", "--enable-rollback"]).await;
    run.assert_code(1);
    run.assert_stdout_has("warning: StopServiceDeployment was refused");
    run.assert_stderr_has("Rolled back: the service runs web:1 again.");
    assert_eq!(fake.count("UpdateService"), 2);

    // A blue/green deploy still succeeds on the deployments[] rules.
    let fake = self::fake().await;
    fake.deny("DescribeServiceDeployments");
    with_strategy(&fake, "BLUE_GREEN", json!({"bakeTimeInMinutes": 1}));
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Staged { bake_polls: 2 });
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(0);
    run.assert_stdout_has("a BLUE_GREEN bake shows as a deployment still in progress");
}

#[tokio::test]
async fn an_external_service_is_refused_before_anything_is_registered() {
    // CODE_DEPLOY services are deployed through CodeDeploy (tests/codedeploy.rs);
    // an EXTERNAL controller leaves us nothing we could update.
    let fake = fake().await;
    fake.set_deployment_controller(CLUSTER, SERVICE, "EXTERNAL");
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(1);
    run.assert_stderr_has("is deployed by an EXTERNAL controller");
    run.assert_stderr_has("nothing was registered");
    assert_eq!(fake.count("RegisterTaskDefinition"), 0);
    assert_eq!(fake.count("DescribeTaskDefinition"), 0);
}

#[tokio::test]
async fn two_services_with_different_strategies_in_one_wait() {
    let fake = fake().await;
    fake.add_service(CLUSTER, "api", TD1, 2);
    fake.set_deployment_configuration(
        CLUSTER,
        "api",
        json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1}),
    );
    fake.set_rollout(CLUSTER, "api", Rollout::Staged { bake_polls: 2 });
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Complete { polls: 2 });
    let image = format!("{REPO}:v2");
    let run = deploy(
        &fake,
        &["-c", CLUSTER, "-n", SERVICE, "-n", "api", "-i", &image],
    )
    .await;
    run.assert_code(0);
    run.assert_stdout_has("[web] Service updated");
    run.assert_stdout_has("(ROLLING)");
    run.assert_stdout_has("[api] Service updated");
    run.assert_stdout_has("(BLUE_GREEN)");
    assert_eq!(newest_deployment(&fake, SERVICE)["status"], "SUCCESSFUL");
    assert_eq!(newest_deployment(&fake, "api")["status"], "SUCCESSFUL");
    // One DescribeServiceDeployments per poll covers both.
    assert_eq!(
        fake.count("DescribeServiceDeployments"),
        fake.count("DescribeServices") - 1
    );
}

#[tokio::test]
async fn a_rolling_deploy_costs_the_same_calls_up_to_the_update_and_one_more_per_poll() {
    let fake = fake().await;
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(0);
    let ops = operations(&fake);
    assert_eq!(
        ops[..5],
        [
            "DescribeServices",
            "DescribeTaskDefinition",
            "DescribeImages",
            "RegisterTaskDefinition",
            "UpdateService"
        ]
    );
    let polls = ops.iter().filter(|o| *o == "DescribeServices").count() - 1;
    assert_eq!(fake.count("DescribeServiceDeployments"), polls);

    // Where the service does not name its deployment, one listing finds it.
    let fake = self::fake().await;
    fake.omit_current_service_deployment(CLUSTER, SERVICE);
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(0);
    assert_eq!(fake.count("ListServiceDeployments"), 1);
    assert_eq!(newest_deployment(&fake, SERVICE)["status"], "SUCCESSFUL");
}

#[tokio::test]
async fn each_answered_hook_has_its_own_outcome_and_none_is_left_unwatched() {
    // web and worker both wait at a PAUSE hook; ECS takes web's CONTINUE and
    // refuses worker's. web is watched to its end and said to be so.
    let fake = paused_blue_green().await;
    let td = fake.service(CLUSTER, SERVICE)["taskDefinition"]
        .as_str()
        .unwrap()
        .to_string();
    fake.add_service(CLUSTER, "worker", &td, 1);
    with_strategy_of(
        &fake,
        "worker",
        "BLUE_GREEN",
        json!({"bakeTimeInMinutes": 1}),
    );
    fake.set_rollout(
        CLUSTER,
        "worker",
        Rollout::PauseAt {
            stage: "POST_TEST_TRAFFIC_SHIFT".into(),
            bake_polls: 1,
        },
    );
    let image = format!("{REPO}:v2");
    let until = ["--wait-until", "POST_TEST_TRAFFIC_SHIFT"];
    let mut args = vec!["-c", CLUSTER, "-n", SERVICE, "-n", "worker", "-i", &image];
    args.extend(until);
    deploy(&fake, &args).await.assert_code(0);
    fake.inject_faults(
        "ContinueServiceDeployment",
        vec![
            Fault::Pass,
            refused("AccessDeniedException", "not for worker"),
        ],
    );
    let run = deploy(
        &fake,
        &[
            "-c",
            CLUSTER,
            "-n",
            SERVICE,
            "-n",
            "worker",
            "--continue-deployment",
            "--output",
            "json",
        ],
    )
    .await;
    run.assert_code(2);
    run.assert_stderr_has(
        "[worker] ContinueServiceDeployment failed: AccessDeniedException: not for worker",
    );
    run.assert_stderr_has("[web] CONTINUE sent; the deployment of web:2 finished.");
    // Right after the answer, the hook is not said to be waiting still.
    assert!(
        !run.stderr.contains("waiting for someone to decide"),
        "{}",
        run.stderr
    );
    assert_eq!(newest_deployment(&fake, SERVICE)["status"], "SUCCESSFUL");
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    let result_of = |name: &str| {
        json["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == name)
            .unwrap()["result"]
            .clone()
    };
    assert_eq!(result_of(SERVICE), "success");
    assert_eq!(result_of("worker"), "error");
    assert_eq!(json["result"], "error");
}
