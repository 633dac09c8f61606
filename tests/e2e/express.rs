//! End-to-end: what ECS added in 2025–2026 — Express Mode services deployed
//! through their express configuration, rolling deployments that succeed
//! early, and circuit breakers with thresholds of their own (design §10).

use fake_ecs::{FakeEcs, Rollout};
use serde_json::{json, Value};

use crate::common::*;

const SHOP: &str = "shop";
const EXPRESS_REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/api";

fn primary_container() -> Value {
    json!({
        "image": format!("{EXPRESS_REPO}:v1"),
        "containerPort": 8080,
        "command": ["serve", "--port", "8080"],
        "environment": [{"name": "MODE", "value": "prod"}],
        "secrets": [{"name": "DB_URL", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"}],
        "awsLogsConfiguration": {"logGroup": "/ecs/shop", "logStreamPrefix": "shop"},
        "repositoryCredentials": {"credentialsParameter": "arn:aws:secretsmanager:us-east-1:123456789012:secret:hub"}
    })
}

/// An Express service `shop` in `prod` from a primary container, its
/// images in ECR.
async fn express_fake() -> FakeEcs {
    let fake = bare_fake().await;
    for tag in ["v1", "v2"] {
        fake.add_ecr_image("shop/api", tag);
    }
    fake.add_express_service(
        CLUSTER,
        SHOP,
        json!({"primaryContainer": primary_container(), "cpu": "512", "memory": "1024", "healthCheckPath": "/health"}),
        2,
    );
    fake
}

async fn deploy_shop(fake: &FakeEcs, extra: &[&str]) -> Run {
    let image = format!("{EXPRESS_REPO}:v2");
    let mut args = vec!["-c", CLUSTER, "-n", SHOP, "-i", &image];
    args.extend_from_slice(extra);
    deploy(fake, &args).await
}

#[tokio::test]
async fn an_express_service_gets_its_new_image_through_its_configuration() {
    let fake = express_fake().await;
    fake.set_rollout(CLUSTER, SHOP, Rollout::Complete { polls: 2 });
    let run = deploy_shop(&fake, &["--env", "FEATURE=on", "--output", "json"]).await;
    run.assert_code(0);
    run.assert_stderr_has("Service deployment successful.");
    let updates = bodies(&fake, "UpdateExpressGatewayService");
    assert_eq!(updates.len(), 1);
    let mut expected = primary_container();
    expected["image"] = json!(format!("{EXPRESS_REPO}:v2"));
    expected["environment"] =
        json!([{"name": "MODE", "value": "prod"}, {"name": "FEATURE", "value": "on"}]);
    assert_eq!(
        updates[0]["primaryContainer"], expected,
        "every other field kept"
    );
    // ECS's management is not fought: no revision of ours, no UpdateService.
    assert_eq!(fake.count("UpdateService"), 0);
    assert_eq!(fake.count("RegisterTaskDefinition"), 0);
    assert_eq!(
        fake.express_configuration(CLUSTER, SHOP)["primaryContainer"],
        expected
    );
    let json = json_result(&run);
    assert_eq!(json["services"][0]["strategy"], "ROLLING (Express)");
    assert_eq!(json["services"][0]["status"], "SUCCESSFUL");

    // A dry run shows the update it would send, and sends nothing.
    let fake = express_fake().await;
    let run = deploy_shop(&fake, &["--dry-run"]).await;
    run.assert_code(0);
    run.assert_stdout_has("Would send UpdateExpressGatewayService {");
    assert_eq!(fake.count("UpdateExpressGatewayService"), 0);
}

#[tokio::test]
async fn ecs_rolling_an_express_deploy_back_is_reported_and_not_fought() {
    let fake = express_fake().await;
    fake.set_rollout(CLUSTER, SHOP, Rollout::CircuitBreakerRollback { polls: 2 });
    let run = deploy_shop(&fake, &["--enable-rollback", "--output", "json"]).await;
    run.assert_code(1);
    run.assert_stderr_has(
        "ECS already rolled the service back, so ecs-deploy did not roll back again.",
    );
    assert_eq!(json_result(&run)["result"], "ecs_rolled_back");
    assert_eq!(fake.count("UpdateService"), 0);
    assert_eq!(fake.count("StopServiceDeployment"), 0);
}

#[tokio::test]
async fn what_ecs_manages_is_refused_and_a_customer_revision_goes_by_its_arn() {
    let fake = express_fake().await;
    for (flag, value) in [("-m", "50"), ("-D", "3"), ("--use-latest-task-def", "")] {
        let mut extra = vec![flag];
        if !value.is_empty() {
            extra.push(value);
        }
        let run = deploy_shop(&fake, &extra).await;
        run.assert_code(3);
        run.assert_stderr_has("means nothing for an Express service");
    }
    assert_eq!(fake.count("UpdateExpressGatewayService"), 0);

    // An Express service that runs a task definition of the customer's.
    let fake = bare_fake().await;
    fake.add_ecr_image("shop/api", "v2");
    let td = json!({
        "family": "shop-own",
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{"name": "Main", "image": format!("{EXPRESS_REPO}:v1"), "essential": true,
            "portMappings": [{"name": "main", "containerPort": 8080, "protocol": "tcp"}]}]
    });
    let arn = fake.seed_task_definition(td, vec![]);
    fake.add_express_service(CLUSTER, SHOP, json!({"taskDefinitionArn": arn}), 1);
    let run = deploy_shop(&fake, &[]).await;
    run.assert_code(0);
    let registered = fake.task_definition("shop-own:2");
    assert_eq!(
        registered["containerDefinitions"][0]["image"],
        format!("{EXPRESS_REPO}:v2")
    );
    let updates = bodies(&fake, "UpdateExpressGatewayService");
    assert_eq!(
        updates[0]["taskDefinitionArn"],
        registered["taskDefinitionArn"]
    );
    assert!(updates[0].get("primaryContainer").is_none());
}

#[tokio::test]
async fn early_success_ends_the_wait_at_ecs_successful_and_says_what_goes_on() {
    let fake = fake().await;
    fake.set_deployment_configuration(
        CLUSTER,
        SERVICE,
        json!({"earlySuccessCriteria": {"enable": true, "healthyPercent": 50, "sourceServiceRevisionCleanup": "DEFERRED"}}),
    );
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Complete { polls: 4 });
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(0);
    run.assert_stdout_has("Waiting for it to succeed (early, at 50% healthy)");
    run.assert_stdout_has("ECS counts the deployment successful at 50% healthy: it scales web:2 to all its desired tasks in the background, and the old tasks (web:1) are still being removed (sourceServiceRevisionCleanup DEFERRED).");
    // Successful before the old deployment drained: the service still shows both.
    assert_eq!(
        fake.service(CLUSTER, SERVICE)["deployments"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Without the service-deployment API, early success cannot be seen.
    let fake = self::fake().await;
    fake.set_deployment_configuration(
        CLUSTER,
        SERVICE,
        json!({"earlySuccessCriteria": {"enable": true, "healthyPercent": 50, "sourceServiceRevisionCleanup": "DEFERRED"}}),
    );
    fake.deny("DescribeServiceDeployments");
    fake.deny("ListServiceDeployments");
    fake.omit_current_service_deployment(CLUSTER, SERVICE);
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(0);
    run.assert_stdout_has("ECS's early success (at 50% healthy) cannot be seen, so the wait goes on until every new task runs and the old ones have drained");
}

#[tokio::test]
async fn a_count_threshold_trips_the_circuit_breaker_where_it_says() {
    let fake = fake().await;
    fake.set_deployment_configuration(
        CLUSTER,
        SERVICE,
        json!({"deploymentCircuitBreaker": {"enable": true, "rollback": false,
               "thresholdConfiguration": {"type": "COUNT", "value": 2}}}),
    );
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::TasksFail {
            polls: 10,
            tasks_per_poll: 1,
            reason: "Essential container in task exited".into(),
        },
    );
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(1);
    run.assert_stderr_has("circuit breaker: 2 of 2 tasks failed");
    assert!(
        fake.count("DescribeServices") < 10,
        "failed at the threshold, not after 10 polls"
    );
}

#[tokio::test]
async fn wait_only_follows_an_express_deployment_another_client_started() {
    let fake = express_fake().await;
    let arn = fake.service(CLUSTER, SHOP)["serviceArn"]
        .as_str()
        .unwrap()
        .to_string();
    let mut container = primary_container();
    container["image"] = json!(format!("{EXPRESS_REPO}:v2"));
    fake.call_as_another_client(
        "UpdateExpressGatewayService",
        json!({"serviceArn": arn, "primaryContainer": container}),
    )
    .expect("the console's update is accepted");
    let run = deploy(&fake, &["-c", CLUSTER, "-n", SHOP, "--wait-only"]).await;
    run.assert_code(0);
    run.assert_stdout_has("of prod-shop:2 (ROLLING, started elsewhere)");
    run.assert_stdout_has("Service deployment successful.");
    let image = &fake.express_configuration(CLUSTER, SHOP)["primaryContainer"]["image"];
    assert_eq!(image, &json!(format!("{EXPRESS_REPO}:v2")));
    let sent: Vec<String> = operations(&fake);
    assert!(
        sent.iter()
            .all(|op| op.starts_with("Describe") || op.starts_with("List")),
        "{sent:?}"
    );
}
