//! End-to-end: what no other ECS deploy tool does — dry runs, the result as
//! JSON, container targeting, environment changes, several services with one
//! wait, GitHub Actions output — against the fake ECS.

use crate::common::*;
use fake_ecs::{FakeEcs, Fault, Rollout};
use serde_json::json;

const WRITES: [&str; 4] = [
    "RegisterTaskDefinition",
    "UpdateService",
    "DeregisterTaskDefinition",
    "RunTask",
];

#[tokio::test]
async fn dry_run_reads_only_and_shows_what_it_would_do() {
    let fake = fake().await;
    fake.seed_task_definition(web_task_definition(), vec![]);
    let image = format!("{REPO}:v2");
    let run = deploy_image(
        &fake,
        &image,
        &[
            "--dry-run",
            "--max-definitions",
            "1",
            "-D",
            "3",
            "--env",
            "API_KEY=hunter2",
        ],
    )
    .await;
    run.assert_code(0);
    for write in WRITES {
        assert_eq!(fake.count(write), 0, "{write} sent in a dry run");
    }
    run.assert_stdout_has("--- web:1\n+++ web (new revision)\n@@ ");
    run.assert_stdout_has(&format!("-      \"image\": \"{REPO}:v1\","));
    run.assert_stdout_has(&format!("+      \"image\": \"{REPO}:v2\","));
    run.assert_stdout_has("\"value\": \"<changed>\"");
    assert!(
        !run.output().contains("hunter2"),
        "an --env value was printed"
    );
    run.assert_stdout_has(r#"Would send UpdateService {"cluster":"prod","desiredCount":3,"service":"web","taskDefinition":"<the new revision of web>"}"#);
    run.assert_stdout_has("Would deregister task definition: arn:aws:ecs:us-east-1:123456789012:task-definition/web:1");
    run.assert_stdout_has("Would deregister task definition: arn:aws:ecs:us-east-1:123456789012:task-definition/web:2");

    // The usual errors still stop a dry run.
    let run = deploy(
        &fake,
        &["-c", CLUSTER, "-n", "nope", "-i", &image, "--dry-run"],
    )
    .await;
    run.assert_code(2);
    let run = deploy_image(&fake, "acct/other:1", &["--dry-run"]).await;
    run.assert_code(1);
}

#[tokio::test]
async fn json_result_of_a_success() {
    let fake = fake().await;
    let (run, json) = deploy_json(&fake, &[]).await;
    run.assert_code(0);
    run.assert_stderr_has("Service deployment successful.");
    assert_eq!(json["result"], "success");
    assert_eq!(json["cluster"], CLUSTER);
    let web = &json["services"][0];
    assert_eq!(web["service"], SERVICE);
    assert_eq!(web["result"], "success");
    assert!(web["previous_task_definition"]
        .as_str()
        .unwrap()
        .ends_with("web:1"));
    assert!(web["task_definition"].as_str().unwrap().ends_with("web:2"));
    assert!(web["deployment_id"]
        .as_str()
        .unwrap()
        .starts_with("ecs-svc/"));
    assert_eq!(
        web["images"],
        json!({"app": format!("{REPO}:v2"), "sidecar": "nginx:1.25"})
    );
    assert!(web["duration_seconds"].as_f64().unwrap() > 0.0);
    assert!(web["reason"].is_null() && web["rollback"].is_null());
}

#[tokio::test]
async fn json_result_of_failures() {
    let fake = fake().await;
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::TasksFail {
            polls: 2,
            tasks_per_poll: 1,
            reason: "OutOfMemoryError: container killed".into(),
        },
    );
    let (run, json) = deploy_json(&fake, &[]).await;
    run.assert_code(1);
    assert_eq!(json["result"], "failed");
    let reason = json["services"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("OutOfMemoryError: container killed"),
        "{reason}"
    );
    assert_eq!(json["services"][0]["rollback"]["status"], "not_attempted");

    let fake = self::fake().await;
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::CircuitBreakerRollback { polls: 2 },
    );
    let (run, json) = deploy_json(&fake, &["--enable-rollback"]).await;
    run.assert_code(1);
    assert_eq!(json["result"], "ecs_rolled_back");
    assert_eq!(json["services"][0]["rollback"]["status"], "done_by_ecs");

    let fake = self::fake().await;
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Stuck);
    let (run, json) = deploy_json(&fake, &["-t", "0.3", "--enable-rollback"]).await;
    run.assert_code(1);
    assert_eq!(json["result"], "rolled_back");
    let web = &json["services"][0];
    assert_eq!(web["result"], "rolled_back");
    assert!(web["reason"]
        .as_str()
        .unwrap()
        .contains("did not finish within 0.3 s"));
    assert_eq!(web["rollback"]["status"], "completed");
    assert!(web["rollback"]["to"].as_str().unwrap().ends_with("web:1"));

    // Errors before the deploy are documents too.
    let (run, json) = {
        let run = deploy(
            &fake,
            &[
                "-c", CLUSTER, "-n", "nope", "-i", "nginx:1", "--output", "json",
            ],
        )
        .await;
        let json = json_result(&run);
        (run, json)
    };
    run.assert_code(2);
    assert_eq!(json["result"], "error");
    assert!(json["reason"]
        .as_str()
        .unwrap()
        .contains("'nope' was not found"));

    // So are bad flags.
    let run = deploy(
        &fake,
        &["-c", CLUSTER, "-n", SERVICE, "--output", "json", "--bogus"],
    )
    .await;
    run.assert_code(3);
    let json = json_result(&run);
    assert_eq!(json["result"], "error");
    assert_eq!(json["reason"], "unknown flag '--bogus'");
}

#[tokio::test]
async fn container_targeting() {
    let fake = fake().await;
    let run = deploy_image(&fake, "nginx:1.27", &["--container", "sidecar"]).await;
    run.assert_code(0);
    let registered = fake.task_definition("web:2");
    assert_eq!(
        registered["containerDefinitions"][0]["image"],
        format!("{REPO}:v1")
    );
    assert_eq!(registered["containerDefinitions"][1]["image"], "nginx:1.27");

    let run = deploy_image(&fake, "nginx:1.27", &["--container", "sidecars"]).await;
    run.assert_code(3);
    run.assert_stderr_has("no container named sidecars");
    run.assert_stderr_has("sidecar: nginx:1.27");
    assert_eq!(fake.active_revisions("web"), [1, 2]);
}

#[tokio::test]
async fn environment_changes_are_applied_and_never_printed() {
    let fake = fake().await;
    let image = format!("{REPO}:v2");
    let run = deploy_image(
        &fake,
        &image,
        &[
            "--env",
            "DATABASE_URL=postgres://u:pw-7731@db/app",
            "--env",
            "MODE=canary",
            "--unset-env",
            "LEGACY",
            "-v",
        ],
    )
    .await;
    run.assert_code(0);
    run.assert_stdout_has("Container app: env DATABASE_URL=<changed>");
    run.assert_stdout_has("Container app: env MODE=<changed>");
    for value in ["pw-7731", "canary"] {
        assert!(
            !run.output().contains(value),
            "{value} printed:\n{}",
            run.output()
        );
    }
    let registered = fake.task_definition("web:2");
    let environment = &registered["containerDefinitions"][0]["environment"];
    assert_eq!(
        *environment,
        json!([{"name": "MODE", "value": "canary"}, {"name": "DATABASE_URL", "value": "postgres://u:pw-7731@db/app"}])
    );
    assert!(registered["containerDefinitions"][1]
        .get("environment")
        .is_none());
}

/// `-c prod -n web -n worker -i REPO:v2` plus `extra`.
async fn deploy_both(fake: &FakeEcs, extra: &[&str]) -> Run {
    let image = format!("{REPO}:v2");
    let mut args = vec!["-c", CLUSTER, "-n", SERVICE, "-n", "worker", "-i", &image];
    args.extend_from_slice(extra);
    deploy(fake, &args).await
}

/// A fake with services `web` and `worker` running one shared revision.
async fn two_services() -> FakeEcs {
    let fake = fake().await;
    fake.add_service(CLUSTER, "worker", "web:1", 1);
    fake
}

#[tokio::test]
async fn two_services_are_deployed_together() {
    let fake = two_services().await;
    let run = deploy_both(&fake, &[]).await;
    run.assert_code(0);
    run.assert_stdout_has("All service deployments successful.");
    run.assert_stdout_has("[worker] Current task definition:");
    assert_eq!(
        fake.count("RegisterTaskDefinition"),
        1,
        "one shared revision is registered once"
    );
    for service in [SERVICE, "worker"] {
        assert!(fake.service(CLUSTER, service)["taskDefinition"]
            .as_str()
            .unwrap()
            .ends_with("web:2"));
    }
    // Every poll describes both services in one call.
    for request in fake
        .requests()
        .iter()
        .filter(|r| r.operation == "DescribeServices")
    {
        assert_eq!(request.body["services"], json!([SERVICE, "worker"]));
    }
}

#[tokio::test]
async fn one_failing_service_rolls_both_back() {
    let fake = two_services().await;
    fake.set_rollout(
        CLUSTER,
        "worker",
        Rollout::TasksFail {
            polls: 3,
            tasks_per_poll: 1,
            reason: "Essential container in task exited".into(),
        },
    );
    let run = deploy_both(&fake, &["--enable-rollback", "--output", "json"]).await;
    run.assert_code(1);
    let json = json_result(&run);
    assert_eq!(json["result"], "rolled_back");
    assert_eq!(json["services"][0]["service"], SERVICE);
    assert_eq!(json["services"][0]["rollback"]["status"], "completed");
    assert_eq!(json["services"][1]["service"], "worker");
    assert_eq!(json["services"][1]["rollback"]["status"], "completed");
    run.assert_stderr_has("Deployment of web:2 to service 'worker' failed");
    run.assert_stderr_has("[web] Rolled back: the service runs web:1 again.");
    run.assert_stderr_has("[worker] Rolled back: the service runs web:1 again.");
    for service in [SERVICE, "worker"] {
        assert!(fake.service(CLUSTER, service)["taskDefinition"]
            .as_str()
            .unwrap()
            .ends_with("web:1"));
    }
}

#[tokio::test]
async fn every_service_is_checked_before_anything_is_registered() {
    let fake = fake().await;
    let other = fake.seed_task_definition(
        json!({"family": "other", "containerDefinitions": [{"name": "x", "image": "busybox:1", "memory": 16}]}),
        vec![],
    );
    fake.add_service(CLUSTER, "other", &other, 1);
    let image = format!("{REPO}:v2");
    let run = deploy(
        &fake,
        &["-c", CLUSTER, "-n", SERVICE, "-n", "other", "-i", &image],
    )
    .await;
    run.assert_code(1);
    run.assert_stderr_has("no container in the task definition uses the repository");
    assert_eq!(fake.count("RegisterTaskDefinition"), 0);
    assert_eq!(fake.count("UpdateService"), 0);
}

#[tokio::test]
async fn a_refused_update_rolls_back_the_services_already_updated() {
    let fake = two_services().await;
    fake.inject_faults(
        "UpdateService",
        vec![
            Fault::Pass,
            refused("AccessDeniedException", "not allowed on worker"),
        ],
    );
    let run = deploy_both(&fake, &["--enable-rollback"]).await;
    run.assert_code(2);
    run.assert_stderr_has("Updating service 'worker' failed: UpdateService failed: AccessDeniedException: not allowed on worker");
    run.assert_stderr_has("[web] Rolled back: the service runs web:1 again.");
    assert!(fake.service(CLUSTER, SERVICE)["taskDefinition"]
        .as_str()
        .unwrap()
        .ends_with("web:1"));
}

#[tokio::test]
async fn github_actions_outputs() {
    let fake = fake().await;
    let dir = TempDir::new("github");
    let output = dir.write("output", "");
    let summary = dir.write("summary", "");
    let image = format!("{REPO}:v2");
    let mut github = command(&fake, &["-c", CLUSTER, "-n", SERVICE, "-i", &image]);
    github
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary);
    let run = run_command(github).await;
    run.assert_code(0);
    run.assert_stdout_has("::group::Waiting for the deployment");
    run.assert_stdout_has("::endgroup::");
    let outputs = std::fs::read_to_string(&output).unwrap();
    assert!(outputs.contains("result=success\n"), "{outputs}");
    assert!(
        outputs
            .contains("task_definition=arn:aws:ecs:us-east-1:123456789012:task-definition/web:2\n"),
        "{outputs}"
    );
    assert!(
        outputs.contains(
            "task_definition_web=arn:aws:ecs:us-east-1:123456789012:task-definition/web:2\n"
        ),
        "{outputs}"
    );
    let table = std::fs::read_to_string(&summary).unwrap();
    assert!(
        table.contains("| `web` | success | `web:2` | `web:1` |"),
        "{table}"
    );

    // A failure becomes an annotation.
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Stuck);
    let mut failing = command(
        &fake,
        &["-c", CLUSTER, "-n", SERVICE, "-i", &image, "-t", "0.2"],
    );
    failing
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary);
    let run = run_command(failing).await;
    run.assert_code(1);
    run.assert_stderr_has("::error title=ecs-deploy::Deployment of web:3 to service 'web' failed: the deployment did not finish within 0.2 s.%0A");
    assert!(std::fs::read_to_string(&output)
        .unwrap()
        .contains("result=timeout\n"));
}

#[tokio::test]
async fn one_failure_is_enough_to_start_rolling_back_all() {
    let fake = two_services().await;
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Stuck);
    fake.set_rollout(
        CLUSTER,
        "worker",
        Rollout::TasksFail {
            polls: 2,
            tasks_per_poll: 1,
            reason: "boom".into(),
        },
    );
    let run = deploy_both(
        &fake,
        &["-t", "20", "--enable-rollback", "--output", "json"],
    )
    .await;
    run.assert_code(1);
    let json = json_result(&run);
    let web = &json["services"][0];
    assert!(
        web["reason"]
            .as_str()
            .unwrap()
            .starts_with("Not waited for to the end"),
        "{web}"
    );
    assert_eq!(web["rollback"]["status"], "completed");
    assert_eq!(json["services"][1]["rollback"]["status"], "completed");
}

#[tokio::test]
async fn the_stopped_tasks_of_several_services_are_one_look_a_poll() {
    let fake = two_services().await;
    for (service, reason) in [
        (SERVICE, "web ran out of memory"),
        ("worker", "worker config is bad"),
    ] {
        let rollout = Rollout::TasksFail {
            polls: 3,
            tasks_per_poll: 1,
            reason: reason.into(),
        };
        fake.set_rollout(CLUSTER, service, rollout);
    }
    let run = deploy_both(&fake, &[]).await;
    run.assert_code(1);
    run.assert_stdout_has("stopped: web ran out of memory");
    run.assert_stdout_has("stopped: worker config is bad");
    // Both services' tasks stop on the same polls: one look at the
    // cluster's stopped tasks serves both.
    let lists = bodies(&fake, "ListTasks");
    assert!(!lists.is_empty());
    for list in &lists {
        assert_eq!(list["desiredStatus"], "STOPPED");
        assert!(list.get("startedBy").is_none(), "{list}");
    }
    assert!(lists.len() < fake.count("DescribeServices"), "{lists:?}");
    // And each stopped task is described once.
    let described: Vec<String> = bodies(&fake, "DescribeTasks")
        .iter()
        .flat_map(|b| b["tasks"].as_array().unwrap().clone())
        .map(|arn| arn.as_str().unwrap().to_string())
        .collect();
    let distinct: std::collections::HashSet<&String> = described.iter().collect();
    assert_eq!(distinct.len(), described.len(), "{described:?}");
}

#[tokio::test]
async fn updates_sent_together_that_fail_are_each_named() {
    let fake = two_services().await;
    let denied = || refused("AccessDeniedException", "not allowed");
    fake.inject_faults("UpdateService", vec![denied(), denied()]);
    let run = deploy_both(&fake, &[]).await;
    run.assert_code(2);
    run.assert_stderr_has("not allowed");
    run.assert_stderr_has("Updating service 'worker' failed too:");
    assert_eq!(service_revision(&fake, SERVICE), "web:1");
    assert_eq!(service_revision(&fake, "worker"), "web:1");
}

#[tokio::test]
async fn a_registration_that_fails_names_the_revisions_registered_all_the_same() {
    let fake = fake().await;
    let other = fake.seed_task_definition(
        json!({"family": "other", "containerDefinitions": [
            {"name": "app", "image": format!("{REPO}:v1"), "memory": 64}]}),
        vec![],
    );
    fake.add_service(CLUSTER, "other", &other, 1);
    // Both registrations go out together; the first to arrive is refused.
    fake.inject_faults(
        "RegisterTaskDefinition",
        vec![refused("ClientException", "Too many revisions")],
    );
    let image = format!("{REPO}:v2");
    let run = deploy(
        &fake,
        &["-c", CLUSTER, "-n", SERVICE, "-n", "other", "-i", &image],
    )
    .await;
    run.assert_code(2);
    run.assert_stderr_has("Too many revisions");
    run.assert_stderr_has("Registered all the same, and used by no service:");
    assert_eq!(fake.count("UpdateService"), 0);
}
