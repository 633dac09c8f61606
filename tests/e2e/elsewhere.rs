//! End-to-end: deployments the tool did not start — `--wait-only` and
//! `--rollback-deployment` against deployments the harness starts on the
//! fake as another client would (Terraform, CDK, the console), unrecorded.
//! What the tool sent is the fake's record: reads only, except the
//! rollback.

use crate::codedeploy::{codedeploy_fake, APP, GROUP};
use crate::common::*;
use crate::readme::policy_statement;
use fake_ecs::{CodeDeployRun, DeploymentGroupOptions, FakeEcs, Rollout};
use serde_json::json;

/// `web:2`, the revision another client deploys: `app` on REPO:v2.
fn seed_web2(fake: &FakeEcs) -> String {
    let mut task_definition = web_task_definition();
    task_definition["containerDefinitions"][0]["image"] = json!(format!("{REPO}:v2"));
    fake.seed_task_definition(task_definition, vec![])
}

/// Another client points `web` at `web:2`, as `terraform apply` would.
fn deploy_web2_elsewhere(fake: &FakeEcs) {
    let arn = seed_web2(fake);
    fake.call_as_another_client(
        "UpdateService",
        json!({"cluster": CLUSTER, "service": SERVICE, "taskDefinition": arn}),
    )
    .expect("the other client's UpdateService is accepted");
}

/// Another client (the console, say) looks at `service` `times` times:
/// the fake's rollout moves on as it does for any DescribeServices.
fn looked_at_elsewhere(fake: &FakeEcs, service: &str, times: usize) {
    for _ in 0..times {
        fake.call_as_another_client(
            "DescribeServices",
            json!({"cluster": CLUSTER, "services": [service]}),
        )
        .expect("DescribeServices answers");
    }
}

/// The operations the tool sent that change something.
fn writes(fake: &FakeEcs) -> Vec<String> {
    operations(fake)
        .into_iter()
        .filter(|op| {
            !["Describe", "List", "Get", "BatchGet"]
                .iter()
                .any(|p| op.starts_with(p))
        })
        .collect()
}

/// Asserts that every call the tool made is an action of the README's
/// read-only `WaitOnly` IAM statement.
#[track_caller]
fn assert_read_only(fake: &FakeEcs) {
    let allowed = policy_statement("WaitOnly");
    for request in fake.requests() {
        let action = format!("{}:{}", request.service, request.operation);
        assert!(
            allowed.contains(&action),
            "{action} is not in the README's WaitOnly statement {allowed:?}"
        );
    }
}

async fn wait_only(fake: &FakeEcs, extra: &[&str]) -> Run {
    let mut args = vec!["-c", CLUSTER, "-n", SERVICE, "--wait-only"];
    args.extend_from_slice(extra);
    deploy(fake, &args).await
}

async fn rollback_deployment(fake: &FakeEcs, extra: &[&str]) -> Run {
    let mut args = vec!["-c", CLUSTER, "-n", SERVICE, "--rollback-deployment"];
    args.extend_from_slice(extra);
    deploy(fake, &args).await
}

#[tokio::test]
async fn nothing_in_progress_is_nothing_to_wait_for() {
    let fake = fake().await;
    let run = wait_only(&fake, &["--output", "json"]).await;
    run.assert_code(0);
    run.assert_stderr_has("Nothing to wait for: the service runs web:1");
    let json = json_result(&run);
    assert_eq!(json["result"], "success");
    assert_eq!(json["services"][0]["task_definition"], TD1);
    assert_read_only(&fake);
}

#[tokio::test]
async fn a_deployment_started_elsewhere_is_waited_for_until_it_is_done() {
    let fake = fake().await;
    deploy_web2_elsewhere(&fake);
    let run = wait_only(&fake, &["--output", "json"]).await;
    run.assert_code(0);
    run.assert_stderr_has("of web:2 (ROLLING, started elsewhere)");
    assert_eq!(service_revision(&fake, SERVICE), "web:2");
    let json = json_result(&run);
    assert_eq!(json["result"], "success");
    let service = &json["services"][0];
    assert_eq!(
        service["task_definition"],
        "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"
    );
    assert_eq!(service["previous_task_definition"], TD1);
    assert!(service["service_deployment_arn"].is_string(), "{service}");
    // Nothing registered, nothing updated: only looked at.
    assert_read_only(&fake);
    assert_eq!(fake.active_revisions("web"), vec![1, 2]);
}

#[tokio::test]
async fn without_the_service_deployment_api_the_primary_deployment_is_waited_for() {
    let fake = fake().await;
    fake.deny("ListServiceDeployments");
    fake.deny("DescribeServiceDeployments");
    fake.omit_current_service_deployment(CLUSTER, SERVICE);
    deploy_web2_elsewhere(&fake);
    let primary = fake.service(CLUSTER, SERVICE)["deployments"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = wait_only(&fake, &[]).await;
    run.assert_code(0);
    run.assert_stdout_has(&format!("Waiting for deployment {primary} of web:2"));
    assert_eq!(service_revision(&fake, SERVICE), "web:2");
    assert_read_only(&fake);
}

#[tokio::test]
async fn a_circuit_breaker_rollback_seen_after_the_fact_fails_the_step() {
    let fake = fake().await;
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::CircuitBreakerRollback { polls: 1 },
    );
    deploy_web2_elsewhere(&fake);
    // ECS failed the deployment and rolled back before the pipeline looked.
    looked_at_elsewhere(&fake, SERVICE, 4);
    assert_eq!(service_revision(&fake, SERVICE), "web:1");
    let run = wait_only(&fake, &["--output", "json"]).await;
    run.assert_code(1);
    run.assert_stderr_has("circuit breaker");
    // Its tasks stopped before the look, and still say why.
    run.assert_stderr_has("stopped: CannotPullContainerError");
    let json = json_result(&run);
    assert_eq!(json["result"], "ecs_rolled_back");
    assert_eq!(json["services"][0]["result"], "ecs_rolled_back");
    assert_read_only(&fake);
}

#[tokio::test]
async fn a_failure_while_waiting_is_rolled_back_with_enable_rollback() {
    let fake = fake().await;
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::TasksFail {
            polls: 2,
            tasks_per_poll: 1,
            reason: "Essential container in task exited".into(),
        },
    );
    deploy_web2_elsewhere(&fake);
    let run = wait_only(&fake, &["--enable-rollback", "--output", "json"]).await;
    run.assert_code(1);
    run.assert_stderr_has("Essential container in task exited");
    run.assert_stderr_has("web:1");
    assert_eq!(service_revision(&fake, SERVICE), "web:1");
    let json = json_result(&run);
    assert_eq!(json["services"][0]["result"], "rolled_back");
    // The rollback is the one write.
    let written = writes(&fake);
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(
        ["UpdateService", "StopServiceDeployment"].contains(&written[0].as_str()),
        "{written:?}"
    );
    assert_eq!(fake.count("RegisterTaskDefinition"), 0);
}

/// The AppSpec another client gives CodeDeploy to deploy `task_definition`.
fn appspec(task_definition: &str) -> String {
    json!({
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
            "TaskDefinition": task_definition,
            "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 80}
        }}}]
    })
    .to_string()
}

/// Another client creates a CodeDeploy deployment of `web:2`; its id.
fn codedeploy_web2_elsewhere(fake: &FakeEcs) -> String {
    let arn = seed_web2(fake);
    let created = fake
        .call_as_another_client(
            "CodeDeploy_20141006.CreateDeployment",
            json!({
                "applicationName": APP,
                "deploymentGroupName": GROUP,
                "revision": {"revisionType": "AppSpecContent",
                             "appSpecContent": {"content": appspec(&arn)}}
            }),
        )
        .expect("the other client's CreateDeployment is accepted");
    created["deploymentId"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_codedeploy_deployment_started_elsewhere_is_waited_for() {
    let fake = codedeploy_fake(DeploymentGroupOptions::default()).await;
    let id = codedeploy_web2_elsewhere(&fake);
    let run = wait_only(&fake, &["--output", "json"]).await;
    run.assert_code(0);
    run.assert_stderr_has(&format!("Waiting for CodeDeploy deployment {id}"));
    run.assert_stderr_has("lifecycle event AfterAllowTraffic: Succeeded");
    assert_eq!(service_revision(&fake, SERVICE), "web:2");
    let json = json_result(&run);
    assert_eq!(json["result"], "success");
    assert_eq!(json["services"][0]["deployment_id"], id.as_str());
    assert_read_only(&fake);

    // One that fails is the step's failure, with CodeDeploy's reason.
    let fake = codedeploy_fake(DeploymentGroupOptions::default()).await;
    fake.set_codedeploy_runs(
        APP,
        GROUP,
        vec![CodeDeployRun::FailAt {
            event: "AfterAllowTestTraffic".into(),
            message: "smoke test: GET /health answered 500".into(),
        }],
    );
    codedeploy_web2_elsewhere(&fake);
    let run = wait_only(&fake, &[]).await;
    run.assert_code(1);
    run.assert_stderr_has("smoke test: GET /health answered 500");
    assert_read_only(&fake);
}

#[tokio::test]
async fn rollback_deployment_stops_a_deployment_in_progress() {
    let fake = fake().await;
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Stuck);
    deploy_web2_elsewhere(&fake);

    let run = rollback_deployment(&fake, &["--dry-run"]).await;
    run.assert_code(0);
    run.assert_stdout_has("The way back: web:2 to web:1");
    run.assert_stdout_has("which is in progress");
    run.assert_stdout_has("Dry run: nothing was sent.");
    assert_eq!(writes(&fake), Vec::<String>::new());

    let run = rollback_deployment(&fake, &[]).await;
    run.assert_code(0);
    run.assert_stdout_has("The way back: web:2 to web:1");
    assert_eq!(writes(&fake), vec!["StopServiceDeployment".to_string()]);
    let stop = first_body(&fake, "StopServiceDeployment");
    assert_eq!(stop["stopType"], "ROLLBACK");
    assert_eq!(service_revision(&fake, SERVICE), "web:1");
}

#[tokio::test]
async fn rollback_deployment_with_nothing_in_progress_goes_back_to_what_the_last_one_replaced() {
    let fake = fake().await;
    deploy_web2_elsewhere(&fake);
    looked_at_elsewhere(&fake, SERVICE, 4);
    assert_eq!(service_revision(&fake, SERVICE), "web:2");

    let run = rollback_deployment(&fake, &["--dry-run"]).await;
    run.assert_code(0);
    run.assert_stdout_has("The way back: web:2 to web:1 (nothing is in progress");
    assert_eq!(writes(&fake), Vec::<String>::new());

    let run = rollback_deployment(&fake, &["--output", "json"]).await;
    run.assert_code(0);
    assert_eq!(writes(&fake), vec!["UpdateService".to_string()]);
    let update = first_body(&fake, "UpdateService");
    assert_eq!(update["taskDefinition"], TD1);
    assert_eq!(service_revision(&fake, SERVICE), "web:1");
    assert_eq!(json_result(&run)["result"], "rolled_back");
}

#[tokio::test]
async fn wait_only_takes_no_image_and_sends_nothing_when_refused() {
    let fake = fake().await;
    let image = format!("{REPO}:v2");
    let run = wait_only(&fake, &["-i", &image]).await;
    run.assert_code(3);
    run.assert_stderr_has("--wait-only");
    assert_eq!(operations(&fake), Vec::<String>::new());
}

#[tokio::test]
async fn rollback_deployment_fails_when_one_service_cannot_go_back() {
    let fake = fake().await;
    fake.add_service(CLUSTER, "worker", TD1, 1);
    // web: a deployment in progress; worker: one that succeeded.
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Stuck);
    deploy_web2_elsewhere(&fake);
    let web2 = fake.service(CLUSTER, SERVICE)["taskDefinition"]
        .as_str()
        .unwrap()
        .to_string();
    fake.call_as_another_client(
        "UpdateService",
        json!({"cluster": CLUSTER, "service": "worker", "taskDefinition": web2}),
    )
    .unwrap();
    looked_at_elsewhere(&fake, "worker", 4);
    // worker goes back by UpdateService, which is refused.
    fake.inject_faults(
        "UpdateService",
        vec![refused("AccessDeniedException", "not on worker")],
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
            "--rollback-deployment",
            "--output",
            "json",
        ],
    )
    .await;
    run.assert_code(1);
    run.assert_stderr_has("not on worker");
    assert_eq!(service_revision(&fake, SERVICE), "web:1");
    assert_eq!(service_revision(&fake, "worker"), "web:2");
    let json = json_result(&run);
    assert_ne!(json["result"], "rolled_back");
    assert_eq!(json["services"][0]["result"], "rolled_back");
}
