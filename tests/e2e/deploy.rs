//! End-to-end: the real `ecs-deploy` binary against the stateful fake ECS.

use std::process::Stdio;
use std::time::Duration;

use crate::common::*;
use fake_ecs::{FakeEcs, Fault, Rollout, ACCESS_KEY, SECRET_KEY};
use serde_json::{json, Value};

fn service_task_definition(fake: &FakeEcs) -> String {
    fake.service(CLUSTER, SERVICE)["taskDefinition"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn deploys_the_new_image_and_waits_for_the_rollout() {
    let fake = fake().await;
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(0);
    for line in [
        &format!("Using image name: {REPO}:v2"),
        "Current task definition: arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
        "New task definition: arn:aws:ecs:us-east-1:123456789012:task-definition/web:2",
        "Service deployment successful.",
    ] {
        run.assert_stdout_has(line);
    }
    run.assert_stdout_has("web:2: 2 running, 0 pending, 2 desired");

    let registered = fake.task_definition("web:2");
    assert_eq!(
        registered["containerDefinitions"][0]["image"],
        format!("{REPO}:v2")
    );
    assert_eq!(
        registered["containerDefinitions"][0]["environment"][0]["value"],
        "prod"
    );
    assert_eq!(registered["containerDefinitions"][1]["image"], "nginx:1.25");
    assert!(service_task_definition(&fake).ends_with("task-definition/web:2"));

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
    // Then only reads: polls of the service and its service deployment,
    // and a look for stopped tasks when ECS says tasks stopped (the old
    // ones, here).
    assert!(
        ops[5..].iter().all(|op| op == "DescribeServices"
            || op == "DescribeServiceDeployments"
            || op == "ListTasks"),
        "{ops:?}"
    );
    // Every request was signed for our key.
    assert!(fake
        .requests()
        .iter()
        .all(|r| r.access_key.as_deref() == Some(ACCESS_KEY)));
}

#[tokio::test]
async fn old_style_services_use_the_services_stable_rule() {
    let fake = fake().await;
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::CompleteWithoutRolloutState { polls: 3 },
    );
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(0);
    let service = fake.service(CLUSTER, SERVICE);
    assert_eq!(service["deployments"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn skip_deployments_check_does_not_wait_for_old_tasks_to_drain() {
    let fake = fake().await;
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::SlowDrain {
            polls: 1,
            drain_polls: 1000,
        },
    );
    let run = deploy_v2(&fake, &["--skip-deployments-check"]).await;
    run.assert_code(0);
    assert!(
        fake.count("DescribeServices") < 10,
        "{:?}",
        operations(&fake)
    );

    // Without the flag the same drain keeps the deploy waiting until the deadline.
    let fake = self::fake().await;
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::SlowDrain {
            polls: 1,
            drain_polls: 1000,
        },
    );
    let run = deploy_v2(&fake, &["-t", "0.5"]).await;
    run.assert_code(1);
    run.assert_stderr_has("did not finish within 0.5 s");
}

#[tokio::test]
async fn desired_count_zero_is_done_right_after_the_update() {
    let fake = fake().await;
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Stuck);
    let run = deploy_v2(&fake, &["-D", "0", "-m", "0", "-M", "100"]).await;
    run.assert_code(0);
    assert_eq!(fake.count("DescribeServices"), 1, "{:?}", operations(&fake));
    let update = first_body(&fake, "UpdateService");
    assert_eq!(update["desiredCount"], 0);
    assert_eq!(
        update["deploymentConfiguration"],
        json!({"minimumHealthyPercent": 0, "maximumPercent": 100})
    );
}

#[tokio::test]
async fn failing_tasks_fail_the_deploy_and_say_why() {
    let fake = fake().await;
    let reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s)";
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::TasksFail {
            polls: 3,
            tasks_per_poll: 1,
            reason: reason.into(),
        },
    );
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(1);
    run.assert_stderr_has("ECS stopped the deployment (STOPPED): ECS deployment circuit breaker: tasks failed to start; circuit breaker: 3 of 3 tasks failed");
    run.assert_stderr_has("3 tasks (e.g.");
    run.assert_stderr_has(reason);
    run.assert_stderr_has("app: exit code 1");
    run.assert_stderr_has("--enable-rollback");
    // Progress showed the failures while waiting, and nothing was rolled back.
    run.assert_stdout_has("stopped:");
    assert_eq!(fake.count("UpdateService"), 1);
    // The stopped tasks were looked up by deployment, not for the whole service.
    let list = first_body(&fake, "ListTasks");
    assert!(list["startedBy"].as_str().unwrap().starts_with("ecs-svc/"));
    assert_eq!(list["desiredStatus"], "STOPPED");
}

#[tokio::test]
async fn circuit_breaker_rollback_is_detected_and_not_fought() {
    let fake = fake().await;
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::CircuitBreakerRollback { polls: 2 },
    );
    let run = deploy_v2(&fake, &["--enable-rollback"]).await;
    run.assert_code(1);
    run.assert_stderr_has("ECS rolled the deployment back to web:1 (ROLLBACK_IN_PROGRESS)");
    run.assert_stderr_has("did not roll back again");
    assert_eq!(fake.count("UpdateService"), 1);
}

#[tokio::test]
async fn timeout_without_rollback_leaves_the_service_and_says_so() {
    let fake = fake().await;
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Stuck);
    let run = deploy_v2(&fake, &["-t", "0.3"]).await;
    run.assert_code(1);
    run.assert_stderr_has("did not finish within 0.3 s");
    run.assert_stderr_has("--enable-rollback to return to web:1");
    assert_eq!(fake.count("UpdateService"), 1);
    assert!(service_task_definition(&fake).ends_with("web:2"));
}

#[tokio::test]
async fn timeout_with_rollback_returns_to_the_previous_revision() {
    let fake = fake().await;
    // An IAM policy without the service-deployment rollback: UpdateService
    // back to the previous revision (the ECS way is in tests/strategies.rs).
    fake.deny("StopServiceDeployment");
    fake.set_rollouts(
        CLUSTER,
        SERVICE,
        vec![Rollout::Stuck, Rollout::Complete { polls: 2 }],
    );
    let run = deploy_v2(
        &fake,
        &["-t", "0.3", "--enable-rollback", "--max-definitions", "1"],
    )
    .await;
    run.assert_code(1);
    run.assert_stdout_has(
        "Rolling back to arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
    );
    run.assert_stderr_has("Rolled back: the service runs web:1 again.");
    let updates: Vec<Value> = fake
        .requests()
        .into_iter()
        .filter(|r| r.operation == "UpdateService")
        .map(|r| r.body)
        .collect();
    assert_eq!(updates.len(), 2);
    assert!(updates[1]["taskDefinition"]
        .as_str()
        .unwrap()
        .ends_with("web:1"));
    assert!(service_task_definition(&fake).ends_with("web:1"));
    // After a failure nothing is deregistered, so both revisions stay usable.
    assert_eq!(fake.count("DeregisterTaskDefinition"), 0);
    assert_eq!(fake.active_revisions("web"), [1, 2]);
}

#[tokio::test]
async fn throttling_and_unavailability_are_retried() {
    let fake = fake().await;
    fake.inject_faults("DescribeServices", vec![Fault::Throttle]);
    fake.inject_faults("RegisterTaskDefinition", vec![Fault::Throttle]);
    fake.inject_faults("UpdateService", vec![Fault::ServiceUnavailable]);
    let run = deploy_v2(&fake, &["-v"]).await;
    run.assert_code(0);
    assert_eq!(fake.count("RegisterTaskDefinition"), 2);
    assert_eq!(fake.count("UpdateService"), 2);
    assert_eq!(fake.active_revisions("web"), [1, 2]);
    run.assert_stderr_has("[aws] DescribeServices 400 ThrottlingException attempt 1");
    run.assert_stderr_has("[aws] DescribeServices 200 attempt 2");
    run.assert_stderr_has("[aws] UpdateService 503");
}

#[tokio::test]
async fn a_registration_the_service_may_have_done_is_not_repeated() {
    let fake = fake().await;
    fake.inject_faults("RegisterTaskDefinition", vec![Fault::ServiceUnavailable]);
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(2);
    run.assert_stderr_has("RegisterTaskDefinition failed:");
    run.assert_stderr_has("a new revision of web may have been registered all the same");
    assert_eq!(
        fake.count("RegisterTaskDefinition"),
        1,
        "a second revision could result"
    );
}

#[tokio::test]
async fn non_json_error_bodies_are_readable() {
    let fake = fake().await;
    fake.inject_faults(
        "DescribeServices",
        vec![Fault::Raw {
            status: 403,
            content_type: "text/html".into(),
            body: "<html><body><h1>403 Forbidden</h1> by the corporate proxy</body></html>".into(),
        }],
    );
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(2);
    run.assert_stderr_has(
        "DescribeServices failed: Forbidden: an HTML page of 71 bytes (HTTP 403)",
    );
    // Described, never quoted: a body may echo what was sent.
    assert!(
        !run.output().contains("corporate proxy"),
        "{}",
        run.output()
    );
    assert_eq!(fake.count("DescribeServices"), 1, "403 is not retried");
}

#[tokio::test]
async fn a_missing_service_or_cluster_registers_nothing() {
    let fake = fake().await;
    let image = format!("{REPO}:v2");
    let run = deploy(&fake, &["-c", CLUSTER, "-n", "nope", "-i", &image]).await;
    run.assert_code(2);
    run.assert_stderr_has("service 'nope' was not found in cluster 'prod'");

    let run = deploy(&fake, &["-c", "staging", "-n", SERVICE, "-i", &image]).await;
    run.assert_code(2);
    run.assert_stderr_has("cluster 'staging' was not found");

    fake.deactivate_service(CLUSTER, SERVICE);
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(2);
    run.assert_stderr_has("is INACTIVE");
    assert_eq!(fake.count("RegisterTaskDefinition"), 0);
}

#[tokio::test]
async fn no_matching_container_lists_them_and_registers_nothing() {
    let fake = fake().await;
    let run = deploy(
        &fake,
        &["-c", CLUSTER, "-n", SERVICE, "-i", "acct/repo-two:3"],
    )
    .await;
    run.assert_code(1);
    run.assert_stderr_has(&format!("app: {REPO}:v1"));
    run.assert_stderr_has("sidecar: nginx:1.25");
    assert_eq!(fake.count("RegisterTaskDefinition"), 0);
}

#[tokio::test]
async fn usage_errors_exit_with_upstream_codes_and_call_nothing() {
    let fake = fake().await;
    let cases: [(&[&str], i32); 9] = [
        (&["--bogus"], 3),
        (&["-c", CLUSTER, "-n", SERVICE, "-i"], 3),
        (&["-c", CLUSTER, "-n", SERVICE, "-i", "x", "-t", "soon"], 3),
        (&["-c", CLUSTER, "-i", "x"], 5),
        (&["-n", SERVICE, "-i", "x"], 7),
        (&["-c", CLUSTER, "-n", SERVICE], 8),
        (
            &[
                "-c",
                CLUSTER,
                "-n",
                SERVICE,
                "-i",
                "x",
                "--max-definitions",
                "all",
            ],
            9,
        ),
        (
            &[
                "-c",
                CLUSTER,
                "-n",
                SERVICE,
                "-i",
                "domain.com:abc/repo/image",
            ],
            13,
        ),
        (
            &[
                "-c",
                CLUSTER,
                "-n",
                SERVICE,
                "-i",
                "x",
                "--endpoint-url",
                "http://192.0.2.1",
            ],
            3,
        ),
    ];
    for (args, code) in cases {
        let run = deploy(&fake, args).await;
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.starts_with("ERROR: "),
            "{args:?}: {}",
            run.stderr
        );
    }
    let bare = run_command({
        let mut c = tokio::process::Command::new(BINARY);
        c.stdin(Stdio::null());
        c
    })
    .await;
    bare.assert_code(3);
    assert!(bare.stderr.contains("--help"));
    assert!(fake.requests().is_empty(), "{:?}", operations(&fake));
}

#[tokio::test]
async fn max_definitions_keeps_the_newest_of_exactly_this_family() {
    let fake = bare_fake().await;
    for _ in 0..3 {
        fake.seed_task_definition(web_task_definition(), vec![]);
    }
    let mut worker = web_task_definition();
    worker["family"] = json!("web-worker");
    fake.seed_task_definition(worker, vec![]);
    fake.add_service(CLUSTER, SERVICE, "web:3", 1);

    let run = deploy_v2(&fake, &["--max-definitions", "2"]).await;
    run.assert_code(0);
    assert_eq!(fake.active_revisions("web"), [3, 4]);
    assert_eq!(fake.active_revisions("web-worker"), [1]);
    run.assert_stdout_has(
        "Deregistered task definition: arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
    );
}

#[tokio::test]
async fn more_than_a_hundred_stopped_tasks_are_paged_and_chunked() {
    let fake = fake().await;
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::TasksFail {
            polls: 2,
            tasks_per_poll: 80,
            reason: "Task failed ELB health checks".into(),
        },
    );
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(1);
    run.assert_stderr_has("160 tasks (e.g.");
    let requests = fake.requests();
    let describes: Vec<usize> = requests
        .iter()
        .filter(|r| r.operation == "DescribeTasks")
        .map(|r| r.body["tasks"].as_array().unwrap().len())
        .collect();
    assert!(describes.iter().all(|&n| n <= 100), "{describes:?}");
    assert_eq!(describes.iter().sum::<usize>(), 160, "{describes:?}");
    assert!(
        requests
            .iter()
            .any(|r| r.operation == "ListTasks" && r.body.get("nextToken").is_some()),
        "ListTasks was not paged"
    );
}

#[tokio::test]
async fn wrong_keys_are_refused_and_secrets_never_printed() {
    let fake = fake().await;
    let image = format!("{REPO}:v2");
    let mut command = command(&fake, &["-c", CLUSTER, "-n", SERVICE, "-i", &image, "-v"]);
    command
        .env("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")
        .env("AWS_SESSION_TOKEN", "session-token-must-not-show");
    let run = run_command(command).await;
    run.assert_code(2);
    run.assert_stderr_has("UnrecognizedClientException");
    assert_eq!(
        fake.count("DescribeServices"),
        1,
        "auth errors are not retried"
    );

    let run = deploy_v2(&fake, &["-v"]).await;
    run.assert_code(0);
    for secret in [SECRET_KEY, "session-token-must-not-show"] {
        assert!(
            !run.output().contains(secret),
            "secret printed:\n{}",
            run.output()
        );
    }
    run.assert_stderr_has("[aws] UpdateService 200 attempt 1");
}

#[tokio::test]
async fn missing_credentials_or_region_are_explained() {
    let fake = fake().await;
    let image = format!("{REPO}:v2");
    let args = ["-c", CLUSTER, "-n", SERVICE, "-i", &image];
    let mut keyless = command(&fake, &args);
    without_keys(&mut keyless);
    let run = run_command(keyless).await;
    run.assert_code(2);
    run.assert_stderr_has("no AWS credentials found");
    run.assert_stderr_has("disabled by AWS_EC2_METADATA_DISABLED");

    let mut without_region = command(&fake, &args);
    without_region.env_remove("AWS_REGION");
    let run = run_command(without_region).await;
    run.assert_code(2);
    run.assert_stderr_has("no AWS region given");
    assert!(fake.requests().is_empty());
}

/// Runs a deploy, sends `signal` once the output contains `after`, and
/// returns the exit code and stderr.
#[cfg(unix)]
async fn interrupt(
    fake: &FakeEcs,
    extra: &[&str],
    after: &str,
    signal: &str,
) -> (Option<i32>, String) {
    let image = format!("{REPO}:v2");
    let mut args = vec!["-c", CLUSTER, "-n", SERVICE, "-i", &image];
    args.extend_from_slice(extra);
    let live = spawn(command(fake, &args));
    live.wait_for(after).await;
    // Let it poll once more, so that it is in the middle of waiting.
    tokio::time::sleep(Duration::from_millis(100)).await;
    live.signal(signal).await;
    let run = live.finish().await;
    (Some(run.code), run.stderr)
}

#[cfg(unix)]
#[tokio::test]
async fn interrupting_the_wait_reports_the_state_and_exits_130() {
    let fake = fake().await;
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Stuck);
    let (code, stderr) = interrupt(&fake, &[], "Waiting for it to complete", "-INT").await;
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("Ctrl-C received. Changed so far: registered arn:aws:ecs:us-east-1:123456789012:task-definition/web:2; service 'web' points at web:2."), "{stderr}");
    assert!(stderr.contains("still in progress"), "{stderr}");
    assert!(stderr.contains("Nothing was rolled back."), "{stderr}");
    assert_eq!(fake.count("UpdateService"), 1);

    // SIGTERM during the wait for a rollback ends the run the same way (a
    // rollback by UpdateService, which the fake can keep stuck).
    let fake = self::fake().await;
    fake.deny("StopServiceDeployment");
    fake.set_rollouts(CLUSTER, SERVICE, vec![Rollout::Stuck, Rollout::Stuck]);
    let (code, stderr) = interrupt(
        &fake,
        &["-t", "1", "--enable-rollback"],
        "Rolling back to",
        "-TERM",
    )
    .await;
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("SIGTERM received."), "{stderr}");
    assert!(stderr.contains("service 'web' points at web:1"), "{stderr}");
    assert_eq!(fake.count("UpdateService"), 2);
}

#[tokio::test]
async fn plain_http_endpoints_never_go_through_a_proxy() {
    let fake = fake().await;
    let image = format!("{REPO}:v2");
    let mut through_proxy = command(&fake, &["-c", CLUSTER, "-n", SERVICE, "-i", &image]);
    // Nothing listens there: a request sent to this proxy would fail.
    for variable in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"] {
        through_proxy.env(variable, "http://127.0.0.1:9");
    }
    run_command(through_proxy).await.assert_code(0);
}

#[tokio::test]
async fn a_failed_poll_does_not_end_the_wait() {
    let fake = fake().await;
    fake.inject_faults(
        "DescribeServices",
        vec![
            Fault::Pass,
            refused("AccessDeniedException", "session policy hiccup"),
        ],
    );
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(0);
    run.assert_stdout_has("could not read the service state (DescribeServices failed: AccessDeniedException: session policy hiccup (HTTP 400)); trying again");
    run.assert_stdout_has("Service deployment successful.");
}

#[tokio::test]
async fn a_service_may_be_named_by_its_arn() {
    let fake = fake().await;
    let arn = fake.service(CLUSTER, SERVICE)["serviceArn"]
        .as_str()
        .unwrap()
        .to_string();
    let image = format!("{REPO}:v2");
    let run = deploy(&fake, &["-c", CLUSTER, "-n", &arn, "-i", &image]).await;
    run.assert_code(0);
    assert!(service_task_definition(&fake).ends_with("web:2"));
}

#[tokio::test]
async fn skipping_the_drain_keeps_the_revision_a_rollback_would_need() {
    let fake = fake().await;
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::SlowDrain {
            polls: 1,
            drain_polls: 1000,
        },
    );
    let run = deploy_v2(
        &fake,
        &["--skip-deployments-check", "--max-definitions", "1"],
    )
    .await;
    run.assert_code(0);
    assert_eq!(fake.active_revisions("web"), [1, 2]);
}

#[tokio::test]
async fn a_rollback_that_fails_too_is_reported() {
    let fake = fake().await;
    // A rollback by UpdateService, whose rollout the fake can fail.
    fake.deny("StopServiceDeployment");
    fake.set_rollouts(
        CLUSTER,
        SERVICE,
        vec![
            Rollout::Stuck,
            Rollout::TasksFail {
                polls: 2,
                tasks_per_poll: 1,
                reason: "bad host".into(),
            },
        ],
    );
    let run = deploy_v2(&fake, &["-t", "0.3", "--enable-rollback"]).await;
    run.assert_code(1);
    run.assert_stderr_has("Rolled back to web:1, but that rollout did not complete either: ECS stopped the deployment (STOPPED)");
}

#[tokio::test]
async fn a_forced_redeploy_has_no_earlier_revision_to_return_to() {
    let fake = fake().await;
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Stuck);
    let run = deploy(
        &fake,
        &[
            "-c",
            CLUSTER,
            "-n",
            SERVICE,
            "--force-new-deployment",
            "-t",
            "0.3",
            "--enable-rollback",
        ],
    )
    .await;
    run.assert_code(1);
    run.assert_stderr_has("No earlier revision to roll back to: the service already ran web:1 before this deployment.");
    assert_eq!(fake.count("UpdateService"), 1);
}
