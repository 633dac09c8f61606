//! End-to-end: the real binary against hostile answers and an unlucky
//! environment (design §11): broken connections, malformed and oversized
//! replies, text that tries to steer a terminal or a CI runner, closed
//! output streams, endless listings, signals.

use std::time::{Duration, Instant};

use crate::common::*;
use fake_ecs::{FakeEcs, Fault, Rollout};
use serde_json::{json, Value};

fn tasks_fail(polls: u32) -> Rollout {
    Rollout::TasksFail {
        polls,
        tasks_per_poll: 1,
        reason: "OutOfMemoryError: container killed".into(),
    }
}

/// `-c prod -n web -i REPO:v2` plus `extra`, as a command to adjust.
fn deploy_command(fake: &FakeEcs, extra: &[&str]) -> tokio::process::Command {
    let image = format!("{REPO}:v2");
    let mut args = vec!["-c", CLUSTER, "-n", SERVICE, "-i", &image];
    args.extend_from_slice(extra);
    command(fake, &args)
}

#[tokio::test]
async fn a_closed_output_changes_nothing_about_the_deploy_or_its_rollback() {
    let fake = fake().await;
    fake.set_rollout(CLUSTER, SERVICE, tasks_fail(40));
    let dir = TempDir::new("pipe");
    let outputs = dir.write("outputs", "");
    let mut command = deploy_command(&fake, &["--enable-rollback"]);
    command
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &outputs);
    let mut live = spawn(command);
    live.wait_for("Service updated").await;
    // The reader goes away in the middle of the wait (`| head`).
    live.close_output();
    let run = live.finish().await;
    assert_eq!(run.code, 1, "the deploy ran on, failed and was rolled back");
    assert_eq!(service_revision(&fake, SERVICE), "web:1");
    assert_eq!(fake.count("UpdateService"), 2);
    let outputs = std::fs::read_to_string(&outputs).unwrap();
    assert!(outputs.contains("result=rolled_back\n"), "{outputs}");
}

/// Whether every `# ` line of a Markdown text is inside a code fence.
fn headings_stay_fenced(markdown: &str) -> bool {
    let mut fence: Option<usize> = None;
    for line in markdown.lines() {
        let ticks = line.len() - line.trim_start_matches('`').len();
        match fence {
            None if ticks >= 3 => fence = Some(ticks),
            Some(open) if ticks >= open && line.trim_start_matches('`').trim().is_empty() => {
                fence = None
            }
            None if line.starts_with("# ") => return false,
            _ => {}
        }
    }
    fence.is_none()
}

#[tokio::test]
async fn injected_text_cannot_steer_the_terminal_or_the_runner() {
    let fake = fake().await;
    fake.inject_text(
        "\u{1b}[2J\u{1b}]0;title\u{7}\r\n::error::pwned\n::add-mask::MODE\n  ::stop-commands::x\n##[error]pwned\n```\n# heading",
    );
    fake.set_rollout(CLUSTER, SERVICE, tasks_fail(2));
    let dir = TempDir::new("inject");
    let outputs = dir.write("outputs", "");
    let summary = dir.write("summary", "");
    let mut command = deploy_command(&fake, &[]);
    command
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary);
    let run = run_command(command).await;
    run.assert_code(1);
    let all = run.output();
    assert!(all.contains("pwned"), "the text is shown, defanged:\n{all}");
    assert!(!all.contains(['\u{1b}', '\r', '\u{7}']), "{all:?}");
    for line in all.lines() {
        let body = line.trim_start();
        let ours = ["::group::", "::endgroup::", "::error title=ecs-deploy::"]
            .iter()
            .any(|command| body.starts_with(command));
        assert!(
            ours || (!body.starts_with("::") && !body.starts_with("##[")),
            "a workflow command from an answer: {line:?}"
        );
    }
    let outputs = std::fs::read_to_string(&outputs).unwrap();
    assert_eq!(outputs.lines().count(), 3, "{outputs}");
    assert!(outputs
        .lines()
        .all(|l| l.split_once('=').is_some_and(|(k, _)| k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))));
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(summary.contains("# heading"), "{summary}");
    assert!(headings_stay_fenced(&summary), "{summary}");
}

#[tokio::test]
async fn an_arn_with_a_line_break_cannot_add_outputs() {
    let fake = fake().await;
    fake.inject_faults(
        "RegisterTaskDefinition",
        vec![Fault::json(json!({"taskDefinition": {
            "taskDefinitionArn": format!("{TD1}\nresult=success\ntask_definition=evil"),
            "containerDefinitions": []
        }}))],
    );
    let dir = TempDir::new("arn");
    let outputs = dir.write("outputs", "");
    let mut command = deploy_command(&fake, &[]);
    command
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &outputs);
    let run = run_command(command).await;
    run.assert_code(2);
    let outputs = std::fs::read_to_string(&outputs).unwrap();
    assert!(outputs.starts_with("result=error\n"), "{outputs}");
    assert!(!outputs.lines().any(|l| l == "result=success"), "{outputs}");
}

#[tokio::test]
async fn reply_bodies_are_described_never_quoted() {
    let fake = fake().await;
    // A broken answer that echoes the environment the request carried.
    fake.inject_faults(
        "RegisterTaskDefinition",
        vec![Fault::Raw {
            status: 200,
            content_type: "application/x-amz-json-1.1".into(),
            body: r#"{"taskDefinition": {"containerDefinitions": [{"environment": [{"name": "TOKEN", "value": "s3cr3t-value"#.into(),
        }],
    );
    let dir = TempDir::new("quote");
    let summary = dir.write("summary", "");
    let mut command = deploy_command(&fake, &["--env", "TOKEN=s3cr3t-value", "--output", "json"]);
    command
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary);
    let run = run_command(command).await;
    run.assert_code(2);
    run.assert_stderr_has("RegisterTaskDefinition failed: the answer (102 bytes) is not valid JSON: it ends too early at line 1, column 102");
    run.assert_stderr_has("a new revision of web may have been registered all the same");
    let summary = std::fs::read_to_string(&summary).unwrap();
    for (what, text) in [("output", run.output()), ("summary", summary)] {
        assert!(!text.contains("s3cr3t-value"), "{what}: {text}");
    }
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["result"], "error");
    assert_eq!(fake.count("UpdateService"), 0);
}

#[tokio::test]
async fn settings_that_hold_secrets_are_never_echoed() {
    let fake = fake().await;
    // A secret glued to its flag.
    let run = deploy(
        &fake,
        &[
            "-c",
            CLUSTER,
            "-n",
            SERVICE,
            "-i",
            "x:1",
            "-sS3cr3tGlued/Key+",
        ],
    )
    .await;
    run.assert_code(3);
    run.assert_stderr_has("unknown flag starting with '-s'");
    assert!(!run.output().contains("S3cr3tGlued"), "{}", run.output());

    // A container endpoint refused: neither its password nor its path.
    let mut command = deploy_command(&fake, &[]);
    without_keys(&mut command).env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "http://deployer:hunter2@10.1.2.3:8080/v2/credentials/task-secret-id",
    );
    let run = run_command(command).await;
    run.assert_code(2);
    run.assert_stderr_has("(http://10.1.2.3:8080)");
    assert!(
        !run.output().contains("hunter2") && !run.output().contains("task-secret-id"),
        "{}",
        run.output()
    );

    // A credential_process that starts with an assignment.
    let dir = TempDir::new("process");
    let config = dir.write(
        "config",
        "[profile tool]\ncredential_process = TOKEN=s3cr3t-token false --flag\n",
    );
    let mut command = deploy_command(&fake, &["-p", "tool"]);
    without_keys(&mut command).env("AWS_CONFIG_FILE", &config);
    let run = run_command(command).await;
    run.assert_code(2);
    run.assert_stderr_has("(false …)");
    assert!(!run.output().contains("s3cr3t-token"), "{}", run.output());
}

/// A listing page that names `token` as the next page, forever.
fn looping_page(key: &str, items: Value) -> Fault {
    Fault::json(json!({ key: items, "nextToken": "again" }))
}

#[tokio::test]
async fn listings_that_never_end_are_cut_off() {
    let fake = fake().await;
    fake.inject_faults(
        "ListTaskDefinitions",
        vec![looping_page("taskDefinitionArns", json!([TD1])); 2],
    );
    let run = deploy_v2(&fake, &["--max-definitions", "1"]).await;
    run.assert_code(0);
    run.assert_stdout_has("warning: --max-definitions: could not list the revisions of web: ListTaskDefinitions failed: page 2 repeats a nextToken of an earlier page");
    assert_eq!(fake.count("DeregisterTaskDefinition"), 0);

    // The dry run's preview, the same way.
    fake.inject_faults(
        "ListTaskDefinitions",
        vec![looping_page("taskDefinitionArns", json!([TD1])); 2],
    );
    let image = format!("{REPO}:v3");
    let run = deploy_image(&fake, &image, &["--max-definitions", "1", "--dry-run"]).await;
    run.assert_code(0);
    run.assert_stdout_has("page 2 repeats a nextToken");

    // The stopped-task lookup on the failure path.
    let fake = self::fake().await;
    fake.set_rollout(CLUSTER, SERVICE, tasks_fail(2));
    fake.inject_faults("ListTasks", vec![looping_page("taskArns", json!([])); 40]);
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(1);
    run.assert_stdout_has(
        "could not read the stopped tasks: ListTasks failed: page 2 repeats a nextToken",
    );
}

#[tokio::test]
async fn the_deadline_bounds_everything_after_the_update() {
    /// A fake whose every look after the first hangs, as does the
    /// stopped-task lookup; `ecs_rollback` whether StopServiceDeployment is
    /// allowed (else the rollback is an UpdateService).
    async fn hanging(ecs_rollback: bool) -> FakeEcs {
        let fake = hostile_fake().await;
        if !ecs_rollback {
            fake.deny("StopServiceDeployment");
        }
        fake.set_rollout(CLUSTER, SERVICE, Rollout::Stuck);
        let mut stalls = vec![Fault::Pass];
        stalls.extend(vec![Fault::Stall { seconds: 120.0 }; 20]);
        fake.inject_faults("DescribeServices", stalls);
        fake.inject_faults("ListTasks", vec![Fault::Stall { seconds: 120.0 }; 20]);
        fake
    }
    async fn timed(fake: &FakeEcs) -> (Run, Duration) {
        let started = Instant::now();
        let run = run_command(deploy_command(fake, &["-t", "1", "--enable-rollback"])).await;
        (run, started.elapsed())
    }
    let (by_ecs, by_update) = (hanging(true).await, hanging(false).await);
    // Both at once: each takes about two graces.
    let ((run, took), (fallback, fallback_took)) = tokio::join!(timed(&by_ecs), timed(&by_update));
    // Each wait (the deploy's, the rollback's) ends by its deadline plus
    // one 10 s grace, whatever the calls do.
    for took in [took, fallback_took] {
        assert!(took < Duration::from_secs(35), "took {took:?}");
    }
    run.assert_code(1);
    run.assert_stderr_has("the wait went blind");
    run.assert_stdout_has(
        "Rolling back to arn:aws:ecs:us-east-1:123456789012:task-definition/web:1 (deadline 1 s)",
    );
    // ECS was asked to roll back; the wait for that went blind too.
    assert_eq!(by_ecs.count("StopServiceDeployment"), 1);
    run.assert_stderr_has(
        "Rolled back to web:1, but that rollout did not complete either: the wait went blind",
    );
    // Where the rollback is an UpdateService, its first look is bounded too.
    fallback.assert_code(1);
    fallback.assert_stderr_has("Rollback failed before it started: DescribeServices failed: no answer within 10 s after the 1 s deadline");
}

#[tokio::test]
async fn redirects_and_empty_answers_are_not_answers() {
    let fake = fake().await;
    fake.inject_faults(
        "RegisterTaskDefinition",
        vec![Fault::Redirect {
            status: 302,
            location: "http://evil.example/steal?x=1".into(),
        }],
    );
    let run = deploy_v2(&fake, &["-v"]).await;
    run.assert_code(2);
    run.assert_stderr_has("[aws] RegisterTaskDefinition 302 attempt 1");
    run.assert_stderr_has("RegisterTaskDefinition failed: a redirect to evil.example, which AWS APIs never answer and ecs-deploy does not follow");
    assert_eq!(fake.count("UpdateService"), 0);

    // A 204 during the wait is retried like a 5xx, and the wait goes on.
    let fake = self::fake().await;
    fake.inject_faults(
        "DescribeServices",
        vec![
            Fault::Pass,
            Fault::Raw {
                status: 204,
                content_type: "application/x-amz-json-1.1".into(),
                body: String::new(),
            },
        ],
    );
    let run = deploy_v2(&fake, &["-v"]).await;
    run.assert_code(0);
    run.assert_stderr_has("[aws] DescribeServices 204 attempt 1");
    run.assert_stderr_has("retrying DescribeServices in");
    run.assert_stderr_has("(attempt 2 of 5): the answer is empty");
}

#[tokio::test]
async fn malformed_answers_are_errors_of_their_call() {
    // During the wait: one empty answer, one service without deployments.
    let fake = fake().await;
    fake.inject_faults(
        "DescribeServices",
        vec![
            Fault::Pass,
            Fault::json(json!({})),
            Fault::json(
                json!({"services": [{"serviceName": SERVICE, "status": "ACTIVE"}], "failures": []}),
            ),
        ],
    );
    let run = deploy_v2(&fake, &["--enable-rollback"]).await;
    run.assert_code(0);
    assert_eq!(fake.count("UpdateService"), 1, "no rollback");

    // During the wait, ECS's word that the service is gone is not ignored.
    let fake = self::fake().await;
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Stuck);
    fake.inject_faults(
        "DescribeServices",
        vec![
            Fault::Pass,
            Fault::json(json!({"services": [], "failures": [
                {"arn": "arn:aws:ecs:us-east-1:123456789012:service/prod/web", "reason": "MISSING"}
            ]})),
        ],
    );
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(1);
    run.assert_stderr_has("the service became MISSING (deleted) during the deployment");

    // Before any write: a task definition without containers is no answer.
    let fake = self::fake().await;
    fake.inject_faults("DescribeTaskDefinition", vec![Fault::json(json!({})); 5]);
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(2);
    run.assert_stderr_has("DescribeTaskDefinition failed after 5 attempts: the answer has no taskDefinition (HTTP 200)");
    assert_eq!(fake.count("RegisterTaskDefinition"), 0);
}

#[tokio::test]
async fn lost_answers_say_what_may_have_happened() {
    // UpdateService acted, but every answer was cut short: the service is
    // looked at, and it does point at the new revision.
    let fake = hostile_fake().await;
    fake.inject_faults("UpdateService", vec![Fault::TruncatedBody; 5]);
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(0);
    run.assert_stdout_has("UpdateService's answer was lost");
    run.assert_stdout_has("but ECS shows the service on web:2: going on.");
    assert_eq!(service_revision(&fake, SERVICE), "web:2");

    // RegisterTaskDefinition acted, then the connection was reset.
    let fake = hostile_fake().await;
    fake.inject_faults("RegisterTaskDefinition", vec![Fault::ResetMidBody]);
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(2);
    run.assert_stderr_has("a new revision of web may have been registered all the same");
    assert_eq!(fake.active_revisions("web"), vec![1, 2], "it was");
    assert_eq!(fake.count("RegisterTaskDefinition"), 1, "and only once");

    // An interrupt while that call is out says so too.
    let fake = hostile_fake().await;
    fake.inject_faults(
        "RegisterTaskDefinition",
        vec![Fault::Stall { seconds: 30.0 }],
    );
    let live = spawn(deploy_command(&fake, &[]));
    live.wait_for("Container app:").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    live.signal("-TERM").await;
    let run = live.finish().await;
    run.assert_code(130);
    run.assert_stderr_has(
        "It came while registering a new revision of web: the request may have reached ECS",
    );
}

#[cfg(unix)]
#[tokio::test]
async fn hangups_and_interrupts_in_a_rollback_end_with_the_journal() {
    // SIGHUP (a closed terminal) during the wait, like SIGTERM.
    let fake = fake().await;
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Stuck);
    let dir = TempDir::new("hup");
    let outputs = dir.write("outputs", "");
    let mut command = deploy_command(&fake, &["--output", "json"]);
    command
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &outputs);
    let live = spawn(command);
    live.wait_for("Waiting for it to complete").await;
    live.signal("-HUP").await;
    let run = live.finish().await;
    run.assert_code(130);
    run.assert_stderr_has("SIGHUP received.");
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["result"], "interrupted");
    assert_eq!(json["services"][0]["result"], "interrupted");
    let outputs = std::fs::read_to_string(&outputs).unwrap();
    assert!(outputs.contains("result=interrupted\n"), "{outputs}");

    // An interrupt while the rollback is under way: it was sent. (By
    // UpdateService, whose rollout the fake can keep stuck.)
    let fake = self::fake().await;
    fake.deny("StopServiceDeployment");
    fake.set_rollouts(CLUSTER, SERVICE, vec![Rollout::Stuck, Rollout::Stuck]);
    let live = spawn(deploy_command(
        &fake,
        &["-t", "1", "--enable-rollback", "--output", "json"],
    ));
    live.wait_for("Rolling back to").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    live.signal("-QUIT").await;
    let run = live.finish().await;
    run.assert_code(130);
    run.assert_stderr_has("SIGQUIT received.");
    run.assert_stderr_has("The rollback was sent and goes on in ECS; it was not waited for.");
    assert!(
        !run.stderr.contains("Nothing was rolled back"),
        "{}",
        run.stderr
    );
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["services"][0]["result"], "interrupted");
    assert_eq!(json["services"][0]["rollback"]["status"], "in_progress");
}

#[tokio::test]
async fn oversized_answers_and_hammering_polls_are_refused() {
    let fake = hostile_fake().await;
    fake.inject_faults(
        "DescribeServices",
        vec![Fault::HugeBody { bytes: 64 << 20 }],
    );
    let run = deploy_v2(&fake, &[]).await;
    run.assert_code(2);
    run.assert_stderr_has(
        "the answer is larger than 8 MiB, which no ECS answer is; it was not read",
    );
    assert_eq!(fake.count("DescribeServices"), 1, "not retried");

    let fake = self::fake().await;
    let run = deploy_v2(&fake, &["--poll-interval", "0.000001"]).await;
    run.assert_code(0);
    run.assert_stdout_has(
        "warning: --poll-interval 0.000001 s is below the minimum of 0.01 s; polling every 0.01 s.",
    );
}

#[cfg(unix)]
#[tokio::test]
async fn an_interrupt_kills_a_credential_process_that_hangs() {
    let fake = fake().await;
    let dir = TempDir::new("hang");
    let pid_file = dir.write("pid", "");
    let config = dir.write(
        "config",
        &format!(
            "[profile slow]\ncredential_process = sh -c 'sleep 300 & echo $! > {pid_file}; wait'\n"
        ),
    );
    let mut command = deploy_command(&fake, &["-p", "slow"]);
    without_keys(&mut command).env("AWS_CONFIG_FILE", &config);
    let live = spawn(command);
    let mut pid = String::new();
    for _ in 0..500 {
        pid = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .to_string();
        if !pid.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!pid.is_empty(), "the helper started");
    live.signal("-TERM").await;
    let run = live.finish().await;
    run.assert_code(130);
    // Gone, or a zombie waiting for a parent that reaps nothing here.
    let stat = format!("/proc/{pid}/stat");
    for _ in 0..100 {
        match std::fs::read_to_string(&stat) {
            Err(_) => return,
            Ok(stat) if stat.contains(") Z ") => return,
            Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    panic!("the helper's child {pid} outlived the run");
}

/// 342 bytes of YAML that expand to 9⁹ strings ("billion laughs"): about
/// 24 GB once its aliases are resolved.
const BILLION_LAUGHS: &str =
    "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
";

/// Caps the address space of the run at `bytes`: a run that tries to take
/// more dies at the cap instead of taking the machine with it.
#[cfg(unix)]
fn limit_memory(command: &mut tokio::process::Command, bytes: u64) {
    // SAFETY: setrlimit(2) is async-signal-safe, and the closure touches
    // nothing else between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

#[cfg(unix)]
#[tokio::test]
async fn yaml_aliases_are_refused_before_they_are_expanded() {
    let fake = fake().await;
    let dir = TempDir::new("billion-laughs");
    let bomb = dir.write("appspec.yaml", BILLION_LAUGHS);
    assert_eq!(BILLION_LAUGHS.len(), 342);
    let mut command = deploy_command(&fake, &["--codedeploy-appspec", &bomb]);
    limit_memory(&mut command, 2 << 30);
    let run = run_command(command).await;
    run.assert_code(3);
    run.assert_stderr_has(&format!(
        "--codedeploy-appspec {bomb}: YAML anchors and aliases are not allowed (line 1, column 7)"
    ));
    assert!(fake.requests().is_empty(), "no AWS call");
}

#[tokio::test]
async fn every_file_is_read_within_a_cap() {
    let fake = fake().await;
    let dir = TempDir::new("bounded-files");
    // The error names the file and the cap.
    let padding = "x".repeat(2 << 20);
    let huge = dir.write(
        "td.json",
        &format!("{{\"family\": \"web\", \"containerDefinitions\": [], \"x\": \"{padding}\"}}"),
    );
    let run = deploy_v2(&fake, &["--task-definition-file", &huge]).await;
    run.assert_code(3);
    run.assert_stderr_has(&format!(
        "--task-definition-file {huge}: cannot read it (larger than 1 MiB, the most ecs-deploy reads of such a file)"
    ));
    let huge = dir.write("config", &format!("[default]\n# {padding}\n"));
    let mut command = deploy_command(&fake, &[]);
    command.env("AWS_CONFIG_FILE", &huge);
    let run = run_command(command).await;
    run.assert_code(2);
    run.assert_stderr_has(&format!(
        "cannot read {huge}: larger than 1 MiB, the most ecs-deploy reads of such a file"
    ));
    assert!(fake.requests().is_empty(), "no AWS call");
}

#[cfg(unix)]
#[tokio::test]
async fn a_signal_while_a_file_read_blocks_ends_the_run_with_130() {
    let fake = fake().await;
    let dir = TempDir::new("fifo");
    for (flag, signal, name) in [
        ("--codedeploy-appspec", "-TERM", "SIGTERM"),
        ("--task-definition-file", "-INT", "Ctrl-C"),
    ] {
        let fifo = dir.fifo(flag.trim_start_matches('-'));
        let live = spawn(deploy_command(&fake, &[flag, &fifo]));
        // Nothing is printed before the file is read: give the run time to
        // start and block on it.
        tokio::time::sleep(Duration::from_millis(500)).await;
        live.signal(signal).await;
        let run = tokio::time::timeout(Duration::from_secs(10), live.finish())
            .await
            .unwrap_or_else(|_| panic!("{name} did not end a run blocked on {flag}"));
        run.assert_code(130);
        run.assert_stderr_has(&format!(
            "{name} received before anything was changed in AWS."
        ));
    }
    assert!(fake.requests().is_empty(), "no AWS call");

    // The runner's output file may block too (a FIFO nobody reads): the
    // deploy is done, and a signal still ends the run.
    let fifo = dir.fifo("github-output");
    let mut command = deploy_command(&fake, &[]);
    command
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &fifo);
    let live = spawn(command);
    live.wait_for("Service deployment successful.").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    live.signal("-TERM").await;
    let run = tokio::time::timeout(Duration::from_secs(10), live.finish())
        .await
        .expect("SIGTERM ends a run blocked on $GITHUB_OUTPUT");
    run.assert_code(130);
    run.assert_stderr_has("SIGTERM received while the GitHub Actions files were written; they may be incomplete. The run itself had succeeded.");
}

#[tokio::test]
async fn smaller_things_a_new_user_tripped_over() {
    let fake = fake().await;
    // A profile file the AWS CLI refuses.
    let dir = TempDir::new("broken-config");
    let config = dir.write("config", "[default\nregion = us-east-1\n");
    let mut command = deploy_command(&fake, &[]);
    command.env("AWS_CONFIG_FILE", &config);
    let run = run_command(command).await;
    run.assert_code(2);
    run.assert_stderr_has(&format!(
        "{config}, line 1: a section header without its closing ']'"
    ));

    // An empty image is upstream's exit 13; a typo gets a suggestion.
    let run = deploy(&fake, &["-c", CLUSTER, "-n", SERVICE, "-i", ""]).await;
    run.assert_code(13);
    let run = deploy(
        &fake,
        &["-c", CLUSTER, "--servce-name", SERVICE, "-i", "x:1"],
    )
    .await;
    run.assert_code(3);
    run.assert_stderr_has("unknown flag '--servce-name'; did you mean '--service-name'?");

    // -d names the revision it read, not the family it was given.
    let run = deploy(&fake, &["-d", "web", "-i", &format!("{REPO}:v2")]).await;
    run.assert_code(0);
    run.assert_stdout_has(&format!("Current task definition: {TD1}"));
    assert_eq!(fake.count("UpdateService"), 0);
}

/// `web` as a BLUE_GREEN service with a one-minute bake.
fn blue_green(fake: &FakeEcs) {
    fake.set_deployment_configuration(
        CLUSTER,
        SERVICE,
        json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1}),
    );
}

/// While a deploy of v2 waits (with `--enable-rollback`), someone deploys v3:
/// the first deploy is superseded, says who took over, and rolls nothing back.
async fn superseded_by_another_deploy(fake: &FakeEcs, theirs_rollout: Rollout) {
    let live = spawn(deploy_command(
        fake,
        &["--enable-rollback", "--output", "json", "-t", "30"],
    ));
    live.wait_for("Service updated").await;
    fake.set_rollout(CLUSTER, SERVICE, theirs_rollout);
    let theirs = deploy_image(fake, &format!("{REPO}:v3"), &[]).await;
    theirs.assert_code(0);
    let ours = live.finish().await;
    ours.assert_code(1);
    ours.assert_stderr_has("took over the service");
    ours.assert_stderr_has("of web:3)");
    ours.assert_stderr_has(
        "Another deployment took over the service, so ecs-deploy did not roll it back.",
    );
    assert!(!ours.stderr.contains("still points at"), "{}", ours.stderr);
    let json: Value = serde_json::from_str(&ours.stdout).unwrap();
    assert_eq!(json["result"], "superseded");
    assert_eq!(json["services"][0]["result"], "superseded");
    assert_eq!(json["services"][0]["rollback"]["status"], "not_attempted");
    assert_eq!(
        fake.count("UpdateService"),
        2,
        "ours and theirs, no rollback"
    );
    assert_eq!(fake.count("StopServiceDeployment"), 0);
    assert_eq!(service_revision(fake, SERVICE), "web:3");
}

#[tokio::test]
async fn a_deploy_superseded_by_a_newer_one_is_never_rolled_back_over_it() {
    let fake = fake().await;
    blue_green(&fake);
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::Staged {
            bake_polls: 100_000,
        },
    );
    superseded_by_another_deploy(&fake, Rollout::Staged { bake_polls: 1 }).await;

    let fake = self::fake().await;
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Stuck);
    superseded_by_another_deploy(&fake, Rollout::Complete { polls: 2 }).await;
}

#[tokio::test]
async fn a_stop_that_conflicts_follows_the_rollback_ecs_already_runs() {
    // The first StopServiceDeployment reaches ECS but its answer is lost;
    // the retry conflicts with the rollback it started. That rollback is
    // followed: no UpdateService on top of it.
    let fake = hostile_fake().await;
    blue_green(&fake);
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::Staged {
            bake_polls: 100_000,
        },
    );
    fake.inject_faults("StopServiceDeployment", vec![Fault::ResetMidBody]);
    // The retry's backoff (up to 1 s) comes out of the rollback's deadline.
    let run = deploy_v2(&fake, &["--enable-rollback", "-t", "2", "--output", "json"]).await;
    run.assert_code(1);
    run.assert_stderr_has("ECS is already rolling the deployment back");
    run.assert_stderr_has("Rolled back: the service runs web:1 again.");
    assert_eq!(fake.count("UpdateService"), 1, "no UpdateService rollback");
    assert_eq!(fake.count("StopServiceDeployment"), 2);
    assert_eq!(service_revision(&fake, SERVICE), "web:1");
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["services"][0]["rollback"]["status"], "completed");
}

#[tokio::test]
async fn numbers_ecs_would_not_allow_are_errors_before_any_write() {
    let fake = fake().await;
    fake.set_deployment_configuration(
        CLUSTER,
        SERVICE,
        json!({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 1e-300}}),
    );
    let run = deploy_v2(&fake, &["--output", "json"]).await;
    run.assert_code(2);
    run.assert_stderr_has(
        "linearConfiguration.stepPercent is 1e-300, outside the 3–100 percent ECS allows",
    );
    run.assert_stderr_has("nothing was changed");
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["result"], "error");
    assert_eq!(fake.count("RegisterTaskDefinition"), 0);
}

#[tokio::test]
async fn legacy_workflow_commands_are_defanged_anywhere_in_a_line() {
    // The runner acts on `##[` anywhere in a line, in every stream: the
    // progress lines, the ERROR line, the annotation and the JSON document.
    let fake = fake().await;
    fake.inject_text("stopped by ops ##[add-mask]web then ##[stop-commands]tok");
    fake.set_rollout(CLUSTER, SERVICE, tasks_fail(2));
    let mut command = deploy_command(&fake, &["--output", "json"]);
    command.env("GITHUB_ACTIONS", "true");
    let run = run_command(command).await;
    run.assert_code(1);
    let all = run.output();
    assert!(all.contains("add-mask]web"), "the text is shown:\n{all}");
    assert!(!all.contains("##["), "a legacy workflow command:\n{all}");
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        json["reason"].as_str().unwrap().contains("##[add-mask]web"),
        "the document says what ECS said: {json}"
    );
}
