//! End-to-end: why a deploy failed in the application's own words (the
//! failed containers' last log lines, from CloudWatch Logs), and no doomed
//! deploy started (an ECR tag that is not there, a log group that is not
//! there) — design §12, against the fake's CloudWatch Logs and ECR.

use fake_ecs::{FakeEcs, Fault, Rollout, TaskRun};
use serde_json::{json, Value};

use crate::common::*;

const GROUP: &str = "/ecs/web";
const FATAL: &str = "FATAL: DATABASE_URL is not set";

/// `web` whose `app` container logs to CloudWatch Logs (group GROUP,
/// prefix `ecs`), as `web:1`; with `create_group`, ECS creates the group.
async fn logging_fake(create_group: bool) -> FakeEcs {
    let fake = bare_fake().await;
    let mut td = web_task_definition();
    let mut options = json!({"awslogs-group": GROUP, "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs"});
    if create_group {
        options["awslogs-create-group"] = json!("true");
    }
    td["containerDefinitions"][0]["logConfiguration"] =
        json!({"logDriver": "awslogs", "options": options});
    let arn = fake.seed_task_definition(td, vec![]);
    fake.add_service(CLUSTER, SERVICE, &arn, 2);
    fake
}

/// A rollout whose tasks crash: `app` logs two lines and exits 1.
fn crashing(fake: &FakeEcs) {
    fake.add_log_group(GROUP);
    fake.set_failing_task_log(vec!["Starting the application".into(), FATAL.into()]);
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::TasksFail {
            polls: 2,
            tasks_per_poll: 2,
            reason: "Essential container in task exited".into(),
        },
    );
}

#[tokio::test]
async fn a_crashed_containers_last_lines_say_why_in_every_output() {
    let fake = logging_fake(false).await;
    crashing(&fake);
    let dir = TempDir::new("logs");
    let summary = dir.write("summary", "");
    let mut command = command(
        &fake,
        &[
            "-c",
            CLUSTER,
            "-n",
            SERVICE,
            "-i",
            &format!("{REPO}:v2"),
            "--output",
            "json",
        ],
    );
    command
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary);
    let run = run_command(command).await;
    run.assert_code(1);
    run.assert_stderr_has("the last 2 log lines of app (task ");
    run.assert_stderr_has("  | Starting the application");
    run.assert_stderr_has(&format!("  | {FATAL}"));
    // Once per kind of failure, however many tasks failed that way.
    assert_eq!(fake.count("GetLogEvents"), 1);
    assert_eq!(run.stderr.matches("log lines of app").count(), 1);
    // The ERROR line and the annotation carry the last line only.
    run.assert_stderr_has(&format!("last log line of app: {FATAL}"));
    let annotation = run
        .stderr
        .lines()
        .find(|l| l.starts_with("::error "))
        .expect("an annotation");
    assert!(annotation.contains(FATAL), "{annotation}");
    assert!(
        !annotation.contains("Starting the application"),
        "{annotation}"
    );
    let json = json_result(&run);
    let logs = &json["services"][0]["logs"];
    assert_eq!(logs.as_array().unwrap().len(), 1, "{logs}");
    assert_eq!(logs[0]["container"], "app");
    assert_eq!(logs[0]["lines"], json!(["Starting the application", FATAL]));
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.contains("<details><summary>Last log lines of `app`"),
        "{summary}"
    );
    assert!(summary.contains(FATAL), "{summary}");

    // --log-lines 1: the last line only; 0: none read at all.
    let fake = logging_fake(false).await;
    crashing(&fake);
    let run = deploy_v2(&fake, &["--log-lines", "1"]).await;
    run.assert_code(1);
    run.assert_stdout_has("the last log line of app (task ");
    assert!(
        !run.output().contains("Starting the application"),
        "{}",
        run.output()
    );
    let fake = logging_fake(false).await;
    crashing(&fake);
    let run = deploy_v2(&fake, &["--log-lines", "0"]).await;
    run.assert_code(1);
    assert_eq!(fake.count("GetLogEvents"), 0);
}

#[tokio::test]
async fn a_log_that_cannot_be_read_changes_nothing_but_one_line() {
    let fake = logging_fake(false).await;
    crashing(&fake);
    fake.deny("GetLogEvents");
    let run = deploy_v2(&fake, &["--enable-rollback", "--output", "json"]).await;
    run.assert_code(1);
    run.assert_stderr_has("could not read the log of app (group /ecs/web, stream ecs/app/");
    run.assert_stderr_has("AccessDeniedException");
    run.assert_stderr_has("Rolled back: the service runs web:1 again.");
    assert_eq!(json_result(&run)["result"], "rolled_back");

    // A container that logs elsewhere: one line saying where.
    let fake = bare_fake().await;
    let mut td = web_task_definition();
    td["containerDefinitions"][0]["logConfiguration"] = json!({"logDriver": "splunk"});
    let arn = fake.seed_task_definition(td, vec![]);
    fake.add_service(CLUSTER, SERVICE, &arn, 2);
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::TasksFail {
            polls: 1,
            tasks_per_poll: 1,
            reason: "Essential container in task exited".into(),
        },
    );
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(1);
    run.assert_stdout_has("the log of app goes to the splunk log driver: not read here");
    assert_eq!(fake.count("GetLogEvents"), 0);
}

#[tokio::test]
async fn hostile_log_lines_are_shown_defanged_and_cut() {
    let fake = logging_fake(false).await;
    crashing(&fake);
    let huge = "x".repeat(1 << 20);
    let events = json!([
        {"timestamp": 1, "message": "\u{1b}[2J\u{1b}]0;owned\u{7}clear screen", "ingestionTime": 1},
        {"timestamp": 2, "message": "::add-mask::web then ##[stop-commands]tok", "ingestionTime": 2},
        {"timestamp": 3, "message": huge, "ingestionTime": 3}
    ]);
    // A stream that never ends: every answer has a new token, never followed.
    fake.inject_faults(
        "GetLogEvents",
        vec![Fault::json(
            json!({"events": events, "nextForwardToken": "f/1", "nextBackwardToken": "b/1"}),
        )],
    );
    let mut command = command(
        &fake,
        &["-c", CLUSTER, "-n", SERVICE, "-i", &format!("{REPO}:v2")],
    );
    command.env("GITHUB_ACTIONS", "true");
    let run = run_command(command).await;
    run.assert_code(1);
    let all = run.output();
    assert!(!all.contains(['\u{1b}', '\u{7}']), "{all:?}");
    assert!(!all.contains("##["), "a legacy workflow command");
    assert!(all.contains("clear screen"), "{all}");
    for line in all.lines() {
        // The runner acts on `::` only at the start of a line.
        let body = line.trim_start();
        let ours = line.trim_start().starts_with("::error ")
            || line.trim_start().starts_with("::group::")
            || line.trim_start().starts_with("::endgroup::");
        assert!(ours || !body.starts_with("::"), "{line:?}");
        assert!(line.len() < 4000, "a line of {} bytes", line.len());
    }
    assert_eq!(
        fake.count("GetLogEvents"),
        1,
        "one call, its tokens not followed"
    );
}

#[tokio::test]
async fn a_one_off_task_that_fails_shows_its_log() {
    let fake = logging_fake(false).await;
    fake.add_log_group(GROUP);
    fake.set_failing_task_log(vec![FATAL.into()]);
    fake.set_task_runs(vec![TaskRun::Exit {
        container: "app".into(),
        exit_code: 3,
        reason: "migration failed".into(),
    }]);
    let image = format!("{REPO}:v2");
    let run = deploy(
        &fake,
        &[
            "-d",
            "web",
            "-c",
            CLUSTER,
            "-i",
            &image,
            "--run-task",
            "--wait-for-success",
            "--output",
            "json",
        ],
    )
    .await;
    run.assert_code(1);
    run.assert_stderr_has(&format!("  | {FATAL}"));
    run.assert_stderr_has(&format!("last log line of app: {FATAL}"));
    assert_eq!(
        json_result(&run)["task"]["logs"][0]["lines"],
        json!([FATAL])
    );
}

#[tokio::test]
async fn an_image_ecr_does_not_have_is_refused_before_anything_is_written() {
    let fake = fake().await;
    let run = deploy_image(
        &fake,
        &format!("{REPO}:never-pushed"),
        &["--output", "json"],
    )
    .await;
    run.assert_code(13);
    run.assert_stderr_has(
        "the image acct/repo:never-pushed in registry 123456789012 (us-east-1) is not in ECR",
    );
    run.assert_stderr_has("ImageNotFoundException");
    run.assert_stderr_has("nothing was registered");
    assert!(
        !run.stderr.contains("--help"),
        "not a usage mistake: {}",
        run.stderr
    );
    assert_eq!(json_result(&run)["result"], "error");
    assert_eq!(fake.count("RegisterTaskDefinition"), 0);
    assert_eq!(fake.count("UpdateService"), 0);
    // A repository that is not there either; a dry run checks too.
    let other = "123456789012.dkr.ecr.us-east-1.amazonaws.com/acct/repo-two:v1";
    let run = deploy(
        &fake,
        &[
            "-c",
            CLUSTER,
            "-n",
            SERVICE,
            "-i",
            other,
            "--container",
            "app",
            "--dry-run",
        ],
    )
    .await;
    run.assert_code(13);
    run.assert_stderr_has("RepositoryNotFoundException");
    // --no-image-check deploys it anyway.
    let run = deploy_image(
        &fake,
        &format!("{REPO}:never-pushed"),
        &["--no-image-check"],
    )
    .await;
    run.assert_code(0);
    assert_eq!(fake.count("DescribeImages"), 2);
}

#[tokio::test]
async fn images_elsewhere_or_unchecked_deploy_as_before() {
    // A Docker Hub image: no ECR call.
    let fake = fake().await;
    let run = deploy(&fake, &["-c", CLUSTER, "-n", SERVICE, "-i", "nginx:1.27"]).await;
    run.assert_code(0);
    assert_eq!(fake.count("DescribeImages"), 0);

    // ECR refuses the check (a policy without ecr:DescribeImages): one line.
    let fake = self::fake().await;
    fake.deny("DescribeImages");
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(0);
    run.assert_stdout_has("warning: could not check that acct/repo:v2 in registry 123456789012 (us-east-1) exists (DescribeImages failed: AccessDeniedException");

    // Two services, one image: one check.
    let fake = self::fake().await;
    let td = fake.service(CLUSTER, SERVICE)["taskDefinition"]
        .as_str()
        .unwrap()
        .to_string();
    fake.add_service(CLUSTER, "worker", &td, 1);
    let image = format!("{REPO}:v2");
    let run = deploy(
        &fake,
        &["-c", CLUSTER, "-n", SERVICE, "-n", "worker", "-i", &image],
    )
    .await;
    run.assert_code(0);
    assert_eq!(fake.count("DescribeImages"), 1);
}

#[tokio::test]
async fn a_log_group_that_is_not_there_is_refused_before_anything_is_written() {
    let fake = logging_fake(false).await;
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(1);
    run.assert_stderr_has(
        "the log group /ecs/web (us-east-1) that the new revision logs to does not exist",
    );
    assert_eq!(fake.count("RegisterTaskDefinition"), 0);

    // There: deployed; ECS creates it: not even asked.
    fake.add_log_group(GROUP);
    deploy_v2(&fake, &[]).await.assert_code(0);
    assert_eq!(fake.count("DescribeLogGroups"), 2);
    let fake = logging_fake(true).await;
    deploy_v2(&fake, &[]).await.assert_code(0);
    assert_eq!(fake.count("DescribeLogGroups"), 0);

    // Not allowed to look: one line, and the deploy goes on.
    let fake = logging_fake(false).await;
    fake.deny("DescribeLogGroups");
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(0);
    run.assert_stdout_has("warning: could not check that log group /ecs/web (us-east-1) exists");
    let requests: Vec<Value> = fake
        .requests()
        .into_iter()
        .filter(|r| r.operation == "RegisterTaskDefinition")
        .map(|r| r.body)
        .collect();
    assert_eq!(requests.len(), 1, "registered");
}
