//! End-to-end: the flags of the bash ecs-deploy 3.10 — task-definition mode,
//! task-definition files, tag-only, forced deployments, the latest revision
//! as base, copied tags, one-off tasks — against the fake ECS.

use crate::common::*;
use fake_ecs::{FakeEcs, TaskRun};
use serde_json::{json, Value};

fn requests_of(fake: &FakeEcs, operation: &str) -> Vec<Value> {
    fake.requests()
        .into_iter()
        .filter(|r| r.operation == operation)
        .map(|r| r.body)
        .collect()
}

/// `-d web -c prod -i REPO:v2 --run-task` plus `extra`.
async fn run_task(fake: &FakeEcs, extra: &[&str]) -> Run {
    let image = format!("{REPO}:v2");
    let mut args = vec!["-d", "web", "-c", CLUSTER, "-i", &image, "--run-task"];
    args.extend_from_slice(extra);
    deploy(fake, &args).await
}

fn images(task_definition: &Value) -> Vec<String> {
    task_definition["containerDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["image"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn task_definition_mode_registers_without_touching_a_service() {
    let fake = fake().await;
    fake.seed_task_definition(web_task_definition(), vec![]);
    let image = format!("{REPO}:v2");
    let run = deploy(
        &fake,
        &["-d", "web", "-i", &image, "--max-definitions", "2"],
    )
    .await;
    run.assert_code(0);
    run.assert_stdout_has(
        "New task definition: arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
    );
    assert_eq!(
        images(&fake.task_definition("web:3")),
        [image.as_str(), "nginx:1.25"]
    );
    assert_eq!(fake.count("UpdateService"), 0);
    assert_eq!(fake.count("DescribeServices"), 0);
    // The service still runs web:1, which --max-definitions 2 may deregister:
    // in -d mode no service is involved, as upstream.
    assert_eq!(fake.active_revisions("web"), [2, 3]);
}

#[tokio::test]
async fn task_definition_files_with_and_without_the_wrapper() {
    let fake = fake().await;
    let dir = TempDir::new("td-file");
    let mut bare = web_task_definition();
    bare["containerDefinitions"][0]["environment"] = json!([{"name": "FROM_FILE", "value": "yes"}]);
    let wrapped =
        json!({"taskDefinition": bare.clone(), "tags": [{"key": "team", "value": "web"}]});
    let image = format!("{REPO}:v2");
    for (name, content) in [("bare.json", &bare), ("wrapped.json", &wrapped)] {
        let file = dir.write(name, &content.to_string());
        let run = deploy_image(&fake, &image, &["--task-definition-file", &file]).await;
        run.assert_code(0);
    }
    for revision in ["web:2", "web:3"] {
        let registered = fake.task_definition(revision);
        assert_eq!(
            registered["containerDefinitions"][0]["environment"][0]["name"],
            "FROM_FILE"
        );
        assert_eq!(registered["containerDefinitions"][0]["image"], image);
    }
    assert_eq!(
        fake.count("DescribeTaskDefinition"),
        0,
        "the file is the base"
    );

    let missing = deploy_image(
        &fake,
        &image,
        &["--task-definition-file", "/nonexistent/td.json"],
    )
    .await;
    missing.assert_code(3);
    missing.assert_stderr_has("cannot read it");
    let garbage = dir.write("garbage.json", "{\"family\": ");
    let not_json = deploy_image(&fake, &image, &["--task-definition-file", &garbage]).await;
    not_json.assert_code(3);
    not_json.assert_stderr_has("not JSON");
    not_json.assert_stderr_has("nothing was registered");
    assert_eq!(fake.active_revisions("web"), [1, 2, 3]);
}

#[tokio::test]
async fn tag_only_retags_every_container() {
    let fake = fake().await;
    let run = deploy_image(&fake, "ignore", &["-to", "2026.11.27"]).await;
    run.assert_code(0);
    assert_eq!(
        images(&fake.task_definition("web:2")),
        [format!("{REPO}:2026.11.27").as_str(), "nginx:2026.11.27"]
    );
}

#[tokio::test]
async fn force_new_deployment_without_an_image_redeploys_the_current_revision() {
    let fake = fake().await;
    let run = deploy(
        &fake,
        &["-c", CLUSTER, "-n", SERVICE, "--force-new-deployment"],
    )
    .await;
    run.assert_code(0);
    run.assert_stdout_has("forcing a new deployment of the current task definition");
    assert_eq!(fake.count("RegisterTaskDefinition"), 0);
    let update = &requests_of(&fake, "UpdateService")[0];
    assert_eq!(update["forceNewDeployment"], true);
    assert_eq!(update["taskDefinition"], TD1);
    assert!(
        fake.count("DescribeServices") > 1,
        "it waited for the new deployment"
    );

    // With an image it registers too, and still forces.
    let image = format!("{REPO}:v3");
    deploy_image(&fake, &image, &["--force-new-deployment"])
        .await
        .assert_code(0);
    let update = &requests_of(&fake, "UpdateService")[1];
    assert_eq!(update["forceNewDeployment"], true);
    assert!(update["taskDefinition"]
        .as_str()
        .unwrap()
        .ends_with("web:2"));
}

#[tokio::test]
async fn use_latest_task_def_bases_on_the_newest_revision() {
    let fake = fake().await;
    let mut newer = web_task_definition();
    newer["containerDefinitions"][0]["environment"] = json!([{"name": "MODE", "value": "newest"}]);
    fake.seed_task_definition(newer, vec![]);
    let image = format!("{REPO}:v2");
    let run = deploy_image(&fake, &image, &["--use-latest-task-def"]).await;
    run.assert_code(0);
    run.assert_stdout_has(&format!("Current task definition: {TD1}"));
    run.assert_stdout_has(
        "Latest task definition: arn:aws:ecs:us-east-1:123456789012:task-definition/web:2",
    );
    let registered = fake.task_definition("web:3");
    assert_eq!(
        registered["containerDefinitions"][0]["environment"][0]["value"],
        "newest"
    );
    let describe = &requests_of(&fake, "DescribeTaskDefinition")[0];
    assert_eq!(describe["taskDefinition"], "web");

    // Two services of the family on different revisions share one base, the
    // newest revision, so they share one new revision too.
    let fake = self::fake().await;
    let newer = fake.seed_task_definition(web_task_definition(), vec![]);
    fake.add_service(CLUSTER, "api", &newer, 1);
    let run = deploy(
        &fake,
        &[
            "-c",
            CLUSTER,
            "-n",
            SERVICE,
            "-n",
            "api",
            "-i",
            &image,
            "--use-latest-task-def",
        ],
    )
    .await;
    run.assert_code(0);
    assert_eq!(fake.count("RegisterTaskDefinition"), 1);
    assert_eq!(fake.count("DescribeTaskDefinition"), 1);
    for service in [SERVICE, "api"] {
        assert!(fake.service(CLUSTER, service)["taskDefinition"]
            .as_str()
            .unwrap()
            .ends_with("web:3"));
    }
}

#[tokio::test]
async fn copy_task_definition_tags_only_when_asked() {
    let tags = || {
        vec![
            ("team".to_string(), "web".to_string()),
            ("cost".to_string(), "42".to_string()),
        ]
    };
    let tagged_service = || async {
        let fake = bare_fake().await;
        let arn = fake.seed_task_definition(web_task_definition(), tags());
        fake.add_service(CLUSTER, SERVICE, &arn, 1);
        fake
    };
    let image = format!("{REPO}:v2");

    let fake = tagged_service().await;
    deploy_image(&fake, &image, &[]).await.assert_code(0);
    assert!(
        fake.task_definition_tags("web:2").is_empty(),
        "tags copied unasked"
    );

    let fake = tagged_service().await;
    deploy_image(&fake, &image, &["--copy-task-definition-tags"])
        .await
        .assert_code(0);
    assert_eq!(fake.task_definition_tags("web:2"), tags());

    // -d takes them from the revision it is given.
    deploy(
        &fake,
        &["-d", "web:1", "-i", &image, "--copy-task-definition-tags"],
    )
    .await
    .assert_code(0);
    assert_eq!(fake.task_definition_tags("web:3"), tags());
}

#[tokio::test]
async fn run_task_waits_for_success() {
    let fake = fake().await;
    let run = run_task(
        &fake,
        &[
            "--launch-type",
            "EC2",
            "--started-by",
            "ci-build-7",
            "--wait-for-success",
        ],
    )
    .await;
    run.assert_code(0);
    run.assert_stdout_has("Task started: arn:aws:ecs:us-east-1:123456789012:task/prod/");
    run.assert_stdout_has("Task completed successfully.");
    let started = &requests_of(&fake, "RunTask")[0];
    assert_eq!(
        started["taskDefinition"].as_str().unwrap(),
        "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"
    );
    assert_eq!(started["launchType"], "EC2");
    assert_eq!(started["startedBy"], "ci-build-7");
    assert_eq!(started["cluster"], CLUSTER);
    let token = started["clientToken"].as_str().unwrap();
    assert!(
        token.starts_with("ecs-deploy-") && token.len() <= 64,
        "{token}"
    );
}

#[tokio::test]
async fn run_task_fails_on_a_non_zero_essential_exit_code() {
    let fake = fake().await;
    fake.set_task_runs(vec![TaskRun::Exit {
        container: "app".into(),
        exit_code: 3,
        reason: "migration 0042 failed".into(),
    }]);
    let run = run_task(&fake, &["--wait-for-success"]).await;
    run.assert_code(1);
    run.assert_stderr_has("app exited with 3");
    run.assert_stderr_has("app: exit code 3, migration 0042 failed");
}

#[tokio::test]
async fn run_task_that_never_starts_says_why() {
    let fake = fake().await;
    fake.set_task_runs(vec![TaskRun::FailToStart {
        reason: "CannotPullContainerError: pull access denied".into(),
    }]);
    let run = run_task(&fake, &["--wait-for-success"]).await;
    run.assert_code(1);
    run.assert_stderr_has("app has no exit code (it never ran)");
    run.assert_stderr_has("CannotPullContainerError: pull access denied [TaskFailedToStart]");
}

#[tokio::test]
async fn run_task_that_never_stops_times_out() {
    let fake = fake().await;
    fake.set_task_runs(vec![TaskRun::NeverStops]);
    let run = run_task(&fake, &["--wait-for-success", "-t", "0.4"]).await;
    run.assert_code(1);
    run.assert_stderr_has("did not stop within 0.4 s");
}

#[tokio::test]
async fn run_task_network_configuration_in_shorthand_and_json() {
    let fake = bare_fake().await;
    let mut awsvpc = web_task_definition();
    awsvpc["networkMode"] = json!("awsvpc");
    awsvpc["requiresCompatibilities"] = json!(["FARGATE"]);
    awsvpc["cpu"] = json!("256");
    awsvpc["memory"] = json!("512");
    fake.seed_task_definition(awsvpc, vec![]);
    let expected = json!({"awsvpcConfiguration": {"subnets": ["subnet-1", "subnet-2"], "securityGroups": ["sg-1"], "assignPublicIp": "ENABLED"}});
    for network in [
        "awsvpcConfiguration={subnets=[subnet-1,subnet-2],securityGroups=[sg-1],assignPublicIp=ENABLED}".to_string(),
        expected.to_string(),
    ] {
        let run = run_task(&fake, &["--launch-type", "FARGATE", "--platform-version", "1.4.0", "--network-configuration", &network])
        .await;
        run.assert_code(0);
    }
    for started in requests_of(&fake, "RunTask") {
        assert_eq!(started["networkConfiguration"], expected);
        assert_eq!(started["platformVersion"], "1.4.0");
        assert_eq!(started["launchType"], "FARGATE");
    }
}

#[tokio::test]
async fn upstream_validation_exit_codes() {
    let fake = fake().await;
    let service = ["-c", CLUSTER, "-n", SERVICE, "-i", "nginx:1"];
    let cases: [(&[&str], i32); 7] = [
        (
            &["-c", CLUSTER, "-n", SERVICE, "-d", "web", "-i", "nginx:1"],
            6,
        ),
        (&["-d", "web"], 8),
        (&[&service[..], &["--launch-type", "FARGATE"]].concat(), 10),
        (
            &[
                &service[..],
                &[
                    "--network-configuration",
                    "awsvpcConfiguration={subnets=[a]}",
                ],
            ]
            .concat(),
            11,
        ),
        (&[&service[..], &["--wait-for-success"]].concat(), 11),
        (
            &[&service[..], &["--platform-version", "LATEST"]].concat(),
            12,
        ),
        (&["-c", CLUSTER, "-n", SERVICE, "-to", "not a tag"], 13),
    ];
    for (args, code) in cases {
        let run = deploy(&fake, args).await;
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
    }
    // Upstream's GitHub Action passes '' for unused options: ignored.
    let image = format!("{REPO}:v2");
    deploy(
        &fake,
        &[
            "", "", "-c", CLUSTER, "", "-n", SERVICE, "-i", &image, "", "",
        ],
    )
    .await
    .assert_code(0);
    assert_eq!(
        fake.count("RegisterTaskDefinition"),
        1,
        "only the last run registered"
    );
}
