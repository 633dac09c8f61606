//! End-to-end: CODE_DEPLOY services deployed through AWS CodeDeploy with the
//! same command line as any other service (design §10) — the deployment
//! group found or named, the AppSpec, the wait on GetDeployment and its
//! lifecycle events, CodeDeploy's rollback — against the fake's CodeDeploy.

use crate::common::*;
use fake_ecs::{CodeDeployRun, DeploymentGroupOptions, FakeEcs, Fault};
use serde_json::{json, Value};

pub(crate) const APP: &str = "shop";
pub(crate) const GROUP: &str = "web-dg";

/// The fake with `web` turned into a CODE_DEPLOY service behind a load
/// balancer (container `app`, port 80), and `GROUP` of `APP` deploying it.
pub(crate) async fn codedeploy_fake(options: DeploymentGroupOptions) -> FakeEcs {
    as_codedeploy(fake().await, options)
}

/// `fake` with `web` deployed by CodeDeploy, as [`codedeploy_fake`] says.
fn as_codedeploy(fake: FakeEcs, options: DeploymentGroupOptions) -> FakeEcs {
    fake.set_deployment_controller(CLUSTER, SERVICE, "CODE_DEPLOY");
    fake.set_service_fields(
        CLUSTER,
        SERVICE,
        json!({"loadBalancers": [{
            "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-blue/1",
            "containerName": "app", "containerPort": 80
        }]}),
    );
    fake.add_codedeploy_application(APP);
    fake.add_deployment_group(APP, GROUP, CLUSTER, SERVICE, options);
    fake
}

/// A deploy command whose CodeDeploy calls go to the fake too.
fn codedeploy_command(fake: &FakeEcs, args: &[&str]) -> tokio::process::Command {
    let mut command = command(fake, args);
    command.env("AWS_ENDPOINT_URL_CODEDEPLOY", fake.uri());
    command
}

async fn deploy_cd(fake: &FakeEcs, extra: &[&str]) -> Run {
    let image = format!("{REPO}:v2");
    let mut args = vec!["-c", CLUSTER, "-n", SERVICE, "-i", &image];
    args.extend_from_slice(extra);
    run_command(codedeploy_command(fake, &args)).await
}

/// The one CodeDeploy deployment the run created.
fn created(fake: &FakeEcs) -> Value {
    let deployments: Vec<Value> = fake
        .codedeploy_deployments()
        .into_iter()
        .filter(|d| d["rollbackInfo"]["rollbackTriggeringDeploymentId"].is_null())
        .collect();
    assert_eq!(deployments.len(), 1, "{deployments:?}");
    deployments[0].clone()
}

#[tokio::test]
async fn a_codedeploy_service_deploys_with_the_same_command() {
    let fake = codedeploy_fake(DeploymentGroupOptions::default()).await;
    let run = deploy_cd(&fake, &["--output", "json"]).await;
    run.assert_code(0);
    run.assert_stderr_has(&format!(
        "created ({APP}/{GROUP}). Waiting for it to complete"
    ));
    run.assert_stderr_has("lifecycle event Install: Succeeded");
    run.assert_stderr_has("lifecycle event AfterAllowTraffic: Succeeded");
    run.assert_stderr_has("-> Succeeded");
    assert_eq!(service_revision(&fake, SERVICE), "web:2");
    assert_eq!(fake.count("UpdateService"), 0);
    let deployment = created(&fake);
    let id = deployment["deploymentId"].as_str().unwrap();
    assert!(deployment["description"]
        .as_str()
        .unwrap()
        .contains("web:2"));
    let appspec = fake.appspec_of(id);
    let properties = &appspec["Resources"][0]["TargetService"]["Properties"];
    assert_eq!(
        properties["TaskDefinition"],
        "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"
    );
    assert_eq!(
        properties["LoadBalancerInfo"],
        json!({"ContainerName": "app", "ContainerPort": 80})
    );
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["result"], "success");
    assert_eq!(json["services"][0]["strategy"], "CODE_DEPLOY");
    assert_eq!(json["services"][0]["deployment_id"], id);
}

#[tokio::test]
async fn no_group_or_two_groups_stop_the_run_before_anything_is_registered() {
    let fake = fake().await;
    fake.set_deployment_controller(CLUSTER, SERVICE, "CODE_DEPLOY");
    fake.add_codedeploy_application(APP);
    fake.add_service(CLUSTER, "api", "web:1", 1);
    fake.set_deployment_controller(CLUSTER, "api", "CODE_DEPLOY");
    fake.add_deployment_group(
        APP,
        "api-dg",
        CLUSTER,
        "api",
        DeploymentGroupOptions::default(),
    );
    let run = deploy_cd(&fake, &[]).await;
    run.assert_code(1);
    run.assert_stderr_has("no deployment group deploys prod/web");
    run.assert_stderr_has("shop/api-dg (deploys prod/api)");
    assert_eq!(fake.count("RegisterTaskDefinition"), 0);

    let fake = codedeploy_fake(DeploymentGroupOptions::default()).await;
    fake.add_codedeploy_application("other");
    fake.add_deployment_group(
        "other",
        "also-web",
        CLUSTER,
        SERVICE,
        DeploymentGroupOptions::default(),
    );
    let run = deploy_cd(&fake, &[]).await;
    run.assert_code(1);
    run.assert_stderr_has("deployed by several CodeDeploy deployment groups");
    run.assert_stderr_has("shop/web-dg");
    run.assert_stderr_has("other/also-web");
    assert_eq!(fake.count("RegisterTaskDefinition"), 0);

    // Named: no search, and checked.
    let run = deploy_cd(
        &fake,
        &[
            "--codedeploy-application",
            APP,
            "--codedeploy-deployment-group",
            GROUP,
        ],
    )
    .await;
    run.assert_code(0);
    assert_eq!(
        fake.count("ListApplications"),
        1,
        "only the run above searched"
    );
    let run = deploy_cd(
        &fake,
        &[
            "--codedeploy-application",
            APP,
            "--codedeploy-deployment-group",
            "nope",
        ],
    )
    .await;
    run.assert_code(2);
    run.assert_stderr_has("has no deployment group 'nope'");
}

#[tokio::test]
async fn a_failed_hook_is_explained_and_codedeploys_rollback_is_not_fought() {
    let fake = codedeploy_fake(DeploymentGroupOptions {
        auto_rollback: true,
        ..DeploymentGroupOptions::default()
    })
    .await;
    fake.set_codedeploy_runs(
        APP,
        GROUP,
        vec![CodeDeployRun::FailAt {
            event: "AfterAllowTestTraffic".into(),
            message: "smoke test got HTTP 500".into(),
        }],
    );
    let run = deploy_cd(&fake, &["--enable-rollback", "--output", "json"]).await;
    run.assert_code(1);
    run.assert_stderr_has("lifecycle event AfterAllowTestTraffic failed: smoke test got HTTP 500");
    run.assert_stderr_has("CodeDeploy rolled back (");
    run.assert_stderr_has(
        "CodeDeploy already rolled the service back, so ecs-deploy did not roll back again.",
    );
    assert_eq!(fake.count("StopDeployment"), 0);
    assert_eq!(service_revision(&fake, SERVICE), "web:1");
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["result"], "ecs_rolled_back");
    assert_eq!(json["services"][0]["rollback"]["status"], "done_by_ecs");
}

#[tokio::test]
async fn failing_tasks_of_the_replacement_say_why() {
    let fake = codedeploy_fake(DeploymentGroupOptions::default()).await;
    fake.set_codedeploy_runs(
        APP,
        GROUP,
        vec![CodeDeployRun::TasksFail {
            reason: "CannotPullContainerError: image not found".into(),
        }],
    );
    let run = deploy_cd(&fake, &[]).await;
    run.assert_code(1);
    run.assert_stderr_has("ECS_UPDATE_ERROR");
    run.assert_stderr_has("Stopped tasks of the new deployment:");
    run.assert_stderr_has("CannotPullContainerError: image not found");
}

#[tokio::test]
async fn wait_until_ready_stops_where_a_manual_reroute_waits() {
    let fake = codedeploy_fake(DeploymentGroupOptions {
        wait_for_reroute: true,
        ..DeploymentGroupOptions::default()
    })
    .await;
    let run = deploy_cd(&fake, &["--wait-until", "READY"]).await;
    run.assert_code(0);
    run.assert_stdout_has("Waiting until it is READY for test traffic");
    assert_eq!(created(&fake)["status"], "Ready");

    // READY means nothing to an ECS-controller service: refused before any write.
    let fake = self::fake().await;
    let run = deploy_v2(&fake, &["--wait-until", "READY"]).await;
    run.assert_code(3);
    assert_eq!(fake.count("RegisterTaskDefinition"), 0);
}

#[tokio::test]
async fn a_timeout_stops_the_deployment_with_codedeploys_rollback() {
    let fake = codedeploy_fake(DeploymentGroupOptions::default()).await;
    fake.set_codedeploy_runs(APP, GROUP, vec![CodeDeployRun::Stuck]);
    let run = deploy_cd(
        &fake,
        &["-t", "0.5", "--enable-rollback", "--output", "json"],
    )
    .await;
    run.assert_code(1);
    run.assert_stderr_has("did not finish within 0.5 s");
    run.assert_stderr_has("CodeDeploy stops deployment");
    run.assert_stderr_has("Rolled back: the service runs web:1 again.");
    assert_eq!(fake.count("StopDeployment"), 1);
    let stop = first_body(&fake, "StopDeployment");
    assert_eq!(stop["autoRollbackEnabled"], true);
    assert_eq!(service_revision(&fake, SERVICE), "web:1");
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["result"], "rolled_back");
}

#[tokio::test]
async fn without_rollback_a_timeout_leaves_codedeploy_going_and_says_so() {
    let fake = codedeploy_fake(DeploymentGroupOptions::default()).await;
    fake.set_codedeploy_runs(APP, GROUP, vec![CodeDeployRun::Stuck]);
    // An IAM policy without codedeploy:GetDeploymentTarget: the wait goes on
    // with GetDeployment, which it is judged on, and never asks again.
    fake.deny("GetDeploymentTarget");
    let run = deploy_cd(&fake, &["-t", "0.5"]).await;
    run.assert_code(1);
    run.assert_stdout_has("warning: GetDeploymentTarget");
    run.assert_stdout_has("the wait goes on with GetDeployment alone");
    run.assert_stderr_has("did not finish within 0.5 s");
    run.assert_stderr_has(
        "is left going; pass --enable-rollback to have CodeDeploy stop it and return to web:1",
    );
    run.assert_stderr_has("aws deploy get-deployment --deployment-id");
    assert!(!run.stderr.contains("still points at"), "{}", run.stderr);
    assert_eq!(fake.count("GetDeploymentTarget"), 1);
    assert!(fake.count("GetDeployment") > 1, "the wait kept polling");
    assert_eq!(fake.count("StopDeployment"), 0);

    // A target that keeps failing is retried, then left aside the same way.
    let fake = codedeploy_fake(DeploymentGroupOptions::default()).await;
    fake.set_codedeploy_runs(APP, GROUP, vec![CodeDeployRun::Succeed { polls: 2 }]);
    fake.inject_faults("GetDeploymentTarget", vec![Fault::ServiceUnavailable; 5]);
    let run = deploy_cd(&fake, &[]).await;
    run.assert_code(0);
    run.assert_stdout_has("warning: GetDeploymentTarget failed after 5 attempts");
    assert_eq!(fake.count("GetDeploymentTarget"), 5);
}

#[tokio::test]
async fn a_dry_run_shows_the_appspec_and_an_appspec_file_merges() {
    let fake = codedeploy_fake(DeploymentGroupOptions::default()).await;
    let run = deploy_cd(&fake, &["--dry-run"]).await;
    run.assert_code(0);
    run.assert_stdout_has(&format!(
        "Would create a CodeDeploy deployment ({APP}/{GROUP}) with this AppSpec:"
    ));
    run.assert_stdout_has("\"TaskDefinition\": \"<the new revision of web>\"");
    run.assert_stdout_has("\"ContainerName\": \"app\"");
    assert_eq!(fake.count("RegisterTaskDefinition"), 0);
    assert_eq!(fake.count("CreateDeployment"), 0);

    let dir = TempDir::new("appspec");
    let file = dir.write(
        "appspec.yaml",
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: <TASK_DEFINITION>\nHooks:\n  - AfterAllowTestTraffic: \"arn:aws:lambda:us-east-1:123456789012:function:smoke\"\n",
    );
    let run = deploy_cd(&fake, &["--codedeploy-appspec", &file]).await;
    run.assert_code(0);
    let appspec = fake.appspec_of(created(&fake)["deploymentId"].as_str().unwrap());
    assert_eq!(
        appspec["Hooks"][0]["AfterAllowTestTraffic"],
        "arn:aws:lambda:us-east-1:123456789012:function:smoke"
    );
    assert_eq!(
        appspec["Resources"][0]["TargetService"]["Properties"]["LoadBalancerInfo"]["ContainerPort"],
        80
    );

    // Not JSON, not YAML: a usage error before any AWS call.
    let bad = dir.write("bad.yaml", "Resources: [unclosed\n");
    let before = fake.requests().len();
    let run = deploy_cd(&fake, &["--codedeploy-appspec", &bad]).await;
    run.assert_code(3);
    run.assert_stderr_has("--codedeploy-appspec");
    assert_eq!(fake.requests().len(), before);
}

#[tokio::test]
async fn codedeploy_and_rolling_services_in_one_run() {
    let fake = codedeploy_fake(DeploymentGroupOptions::default()).await;
    fake.add_service(CLUSTER, "api", "web:1", 2);
    let image = format!("{REPO}:v2");
    let args = [
        "-c",
        CLUSTER,
        "-n",
        SERVICE,
        "-n",
        "api",
        "-i",
        &image,
        "--max-definitions",
        "1",
    ];
    let run = run_command(codedeploy_command(&fake, &args)).await;
    run.assert_code(0);
    run.assert_stdout_has("[web] CodeDeploy deployment");
    run.assert_stdout_has("[api] Service updated");
    assert_eq!(fake.count("UpdateService"), 1);
    assert_eq!(fake.count("CreateDeployment"), 1);
    // CodeDeploy rolls back to the revision it replaced: that one stays.
    assert_eq!(fake.active_revisions("web"), [1, 2]);
}

#[cfg(unix)]
#[tokio::test]
async fn an_interrupt_names_the_codedeploy_deployment_and_rolls_nothing_back() {
    let fake = codedeploy_fake(DeploymentGroupOptions::default()).await;
    fake.set_codedeploy_runs(APP, GROUP, vec![CodeDeployRun::Stuck]);
    let image = format!("{REPO}:v2");
    let live = spawn(codedeploy_command(
        &fake,
        &[
            "-c",
            CLUSTER,
            "-n",
            SERVICE,
            "-i",
            &image,
            "--enable-rollback",
        ],
    ));
    live.wait_for("Waiting for it to complete").await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    live.signal("-INT").await;
    let run = live.finish().await;
    run.assert_code(130);
    let id = created(&fake)["deploymentId"].as_str().unwrap().to_string();
    run.assert_stderr_has(&format!(
        "CodeDeploy deployment {id} of service 'web' to web:2"
    ));
    run.assert_stderr_has(&format!("aws deploy get-deployment --deployment-id {id}"));
    run.assert_stderr_has("Nothing was rolled back.");
    assert_eq!(fake.count("StopDeployment"), 0);

    // An interrupt while CreateDeployment is out says where it went; and
    // in GitHub Actions the log group the wait opened is closed first.
    let fake = as_codedeploy(hostile_fake().await, DeploymentGroupOptions::default());
    fake.inject_faults("CreateDeployment", vec![Fault::Stall { seconds: 30.0 }]);
    let mut command = codedeploy_command(&fake, &["-c", CLUSTER, "-n", SERVICE, "-i", &image]);
    command.env("GITHUB_ACTIONS", "true");
    let live = spawn(command);
    live.wait_for("New task definition").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    live.signal("-TERM").await;
    let run = live.finish().await;
    run.assert_code(130);
    run.assert_stderr_has("the request may have reached CodeDeploy and taken effect");
    assert!(!run.stderr.contains("reached ECS"), "{}", run.stderr);

    let fake = codedeploy_fake(DeploymentGroupOptions::default()).await;
    fake.set_codedeploy_runs(APP, GROUP, vec![CodeDeployRun::Stuck]);
    let mut command = codedeploy_command(&fake, &["-c", CLUSTER, "-n", SERVICE, "-i", &image]);
    command.env("GITHUB_ACTIONS", "true");
    let live = spawn(command);
    live.wait_for("Waiting for it to complete").await;
    live.signal("-TERM").await;
    let run = live.finish().await;
    run.assert_code(130);
    let opened = run.stdout.find("::group::").expect("a group");
    let closed = run
        .stdout
        .rfind("::endgroup::")
        .expect("the group is closed");
    assert!(opened < closed, "{}", run.stdout);
}

#[tokio::test]
async fn an_answer_about_another_deployment_is_no_answer() {
    // GetDeployment answers (once) for a deployment that is not ours, and
    // says Succeeded; ours fails. Only ours counts.
    let fake = codedeploy_fake(DeploymentGroupOptions::default()).await;
    fake.set_codedeploy_runs(
        APP,
        GROUP,
        vec![CodeDeployRun::FailAt {
            event: "AfterAllowTestTraffic".into(),
            message: "smoke test got HTTP 500".into(),
        }],
    );
    let other = json!({"deploymentInfo": {"deploymentId": "d-SOMEOTHER1", "status": "Succeeded"}});
    fake.inject_faults("GetDeployment", vec![Fault::json(other)]);
    let run = deploy_cd(&fake, &["-v"]).await;
    run.assert_code(1);
    assert_contains(
        "output",
        &run.output(),
        "the answer is about deployment d-SOMEOTHER1, not d-",
    );
    run.assert_stderr_has("smoke test got HTTP 500");
    assert!(!run.output().contains("successful"), "{}", run.output());
}

#[tokio::test]
async fn only_the_last_line_of_a_hooks_log_is_shown() {
    // A hook logged a secret before it failed: the log tail's earlier lines
    // reach neither the log nor the annotation, the summary or the JSON.
    let fake = codedeploy_fake(DeploymentGroupOptions::default()).await;
    fake.set_codedeploy_runs(
        APP,
        GROUP,
        vec![CodeDeployRun::FailAt {
            event: "AfterAllowTestTraffic".into(),
            message: "connecting with DB_PASSWORD=hunter2\nsmoke test got HTTP 500\n".into(),
        }],
    );
    let dir = TempDir::new("log-tail");
    let summary = dir.write("summary", "");
    let image = format!("{REPO}:v2");
    let mut command = codedeploy_command(
        &fake,
        &[
            "-c", CLUSTER, "-n", SERVICE, "-i", &image, "--output", "json",
        ],
    );
    command
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary);
    let run = run_command(command).await;
    run.assert_code(1);
    run.assert_stderr_has("log: smoke test got HTTP 500");
    let summary = std::fs::read_to_string(&summary).unwrap();
    for text in [&run.stdout, &run.stderr, &summary] {
        assert!(!text.contains("hunter2"), "{text}");
    }
}

#[tokio::test]
async fn settings_go_to_a_codedeploy_service_and_codedeploy_options_nowhere_else() {
    // -D, -m and -M change a CODE_DEPLOY service with UpdateService (the
    // settings alone, as ECS allows), before its deployment.
    let fake = codedeploy_fake(DeploymentGroupOptions::default()).await;
    let run = deploy_cd(&fake, &["-D", "3", "-m", "50", "-M", "150"]).await;
    run.assert_code(0);
    let updates: Vec<Value> = fake
        .requests()
        .into_iter()
        .filter(|r| r.operation == "UpdateService")
        .map(|r| r.body)
        .collect();
    assert_eq!(
        updates,
        [
            json!({"cluster": CLUSTER, "service": SERVICE, "desiredCount": 3,
                "deploymentConfiguration": {"minimumHealthyPercent": 50, "maximumPercent": 150}})
        ]
    );
    let operations: Vec<String> = fake.requests().into_iter().map(|r| r.operation).collect();
    let position = |op: &str| operations.iter().position(|o| o == op).unwrap();
    assert!(position("UpdateService") < position("CreateDeployment"));
    assert_eq!(fake.service(CLUSTER, SERVICE)["desiredCount"], 3);

    // CodeDeploy's options on a service ECS deploys itself would do nothing.
    let dir = TempDir::new("appspec-elsewhere");
    let appspec = dir.write("appspec.yaml", "version: 0.0\nResources: []\n");
    for (options, named) in [
        (
            vec!["--codedeploy-appspec", appspec.as_str()],
            "--codedeploy-appspec",
        ),
        (
            vec![
                "--codedeploy-application",
                APP,
                "--codedeploy-deployment-group",
                GROUP,
            ],
            "--codedeploy-application",
        ),
        (vec!["--skip-deployments-check"], "--skip-deployments-check"),
    ] {
        let fake = self::fake().await;
        fake.set_deployment_configuration(
            CLUSTER,
            SERVICE,
            json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1}),
        );
        let run = deploy_v2(&fake, &options).await;
        run.assert_code(3);
        run.assert_stderr_has(&format!("service 'web': {named} is for"));
        run.assert_stderr_has("it is a BLUE_GREEN one");
        assert_eq!(fake.count("RegisterTaskDefinition"), 0);
    }
}
