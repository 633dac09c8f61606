//! The GitHub Action (`action.yml`, `action/run.sh`) run as the runner runs
//! it: the step's `run:` in bash, `INPUT_*` variables with the bash script
//! action's input names, a `GITHUB_OUTPUT` file, and the binary given as an
//! input or downloaded and checked — against the fake ECS.

use std::path::Path;

use crate::common::*;
use fake_ecs::{FakeEcs, Rollout, TaskRun, ACCESS_KEY, SECRET_KEY};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/action/run.sh");
const ACTION_YML: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml");

fn action_yml() -> yaml_rust2::Yaml {
    let text = std::fs::read_to_string(ACTION_YML).unwrap();
    yaml_rust2::YamlLoader::load_from_str(&text)
        .unwrap()
        .remove(0)
}

/// The inputs `action.yml` declares, in its order, with their defaults.
fn declared_inputs() -> Vec<(String, Option<String>)> {
    action_yml()["inputs"]
        .as_hash()
        .expect("action.yml has inputs")
        .iter()
        .map(|(name, spec)| {
            let name = name.as_str().expect("an input name").to_string();
            (name, spec["default"].as_str().map(str::to_string))
        })
        .collect()
}

/// The step as the runner starts it: the `run:` of `action.yml`'s step in a
/// file (beside `outputs`) run by the runner's bash, with every input at its
/// `action.yml` default, then those of a typical workflow of the bash
/// script's action, then `inputs`.
fn action(fake: &FakeEcs, outputs: &str, inputs: &[(&str, &str)]) -> tokio::process::Command {
    action_from(ROOT, fake, outputs, inputs)
}

/// [`action`] with the action's tree at `root`.
fn action_from(
    root: &str,
    fake: &FakeEcs,
    outputs: &str,
    inputs: &[(&str, &str)],
) -> tokio::process::Command {
    let run = action_yml()["runs"]["steps"][0]["run"]
        .as_str()
        .expect("the step runs a script")
        .to_string();
    let step = Path::new(outputs).with_file_name("step.sh");
    std::fs::write(&step, run).unwrap();
    let mut command = tokio::process::Command::new("bash");
    command
        .args(["--noprofile", "--norc", "-e", "-o", "pipefail"])
        .arg(step)
        .env_clear()
        .env("GITHUB_ACTION_PATH", root)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", outputs)
        .env("RUNNER_OS", "Linux")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", fake.uri())
        .kill_on_drop(true);
    for (name, default) in declared_inputs() {
        command.env(
            format!("INPUT_{}", name.to_uppercase()),
            default.unwrap_or_default(),
        );
    }
    let typical = [
        ("AWS_ACCESS_KEY_CMD", "--aws-access-key"),
        ("AWS_ACCESS_KEY", ACCESS_KEY),
        ("AWS_SECRET_KEY_CMD", "--aws-secret-key"),
        ("AWS_SECRET_KEY", SECRET_KEY),
        ("REGION_CMD", "--region"),
        ("REGION", "us-east-1"),
        ("CLUSTER_CMD", "--cluster"),
        ("CLUSTER", CLUSTER),
        ("SERVICE_NAME_CMD", "--service-name"),
        ("SERVICE_NAME", SERVICE),
        ("IMAGE_CMD", "--image"),
        ("ARGS", "--poll-interval 0.02"),
    ];
    for (name, value) in typical.iter().chain(inputs) {
        command.env(format!("INPUT_{name}"), value);
    }
    command
}

fn outputs(file: &str) -> String {
    std::fs::read_to_string(file).unwrap()
}

/// The one `result=` line of a `GITHUB_OUTPUT` file, without its key.
#[track_caller]
fn result_of(file: &str) -> String {
    let outputs = outputs(file);
    let results: Vec<&str> = outputs
        .lines()
        .filter_map(|line| line.strip_prefix("result="))
        .collect();
    assert_eq!(results.len(), 1, "one result in:\n{outputs}");
    results[0].to_string()
}

#[tokio::test]
async fn the_action_deploys_with_the_bash_script_actions_inputs() {
    let fake = fake().await;
    let dir = TempDir::new("action");
    let file = dir.write("outputs", "");
    let image = format!("{REPO}:v2");
    let run = run_command(action(
        &fake,
        &file,
        &[
            ("IMAGE", &image),
            ("ENABLE_ROLLBACK_CMD", "--enable-rollback"),
            ("BINARY", BINARY),
        ],
    ))
    .await;
    run.assert_code(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["result"], "success");
    let outputs = outputs(&file);
    assert!(outputs.contains("result=success\n"), "{outputs}");
    assert!(
        outputs
            .contains("task_definition=arn:aws:ecs:us-east-1:123456789012:task-definition/web:2\n"),
        "{outputs}"
    );
    // The inputs became the flags: --min/--max reached UpdateService.
    let update = first_body(&fake, "UpdateService");
    assert_eq!(
        update["deploymentConfiguration"]["minimumHealthyPercent"],
        100
    );
    assert_eq!(update["deploymentConfiguration"]["maximumPercent"], 200);
    // Keys went through the environment, not the command line.
    assert!(!run.output().contains(SECRET_KEY));

    // An empty image input is upstream's exit 13.
    let file = dir.write("outputs-empty", "");
    let run = run_command(action(&fake, &file, &[("IMAGE", ""), ("BINARY", BINARY)])).await;
    run.assert_code(13);
}

#[tokio::test]
async fn tag_only_with_container_names_and_true_switches() {
    let fake = fake().await;
    let dir = TempDir::new("action-tag");
    let file = dir.write("outputs", "");
    let run = run_command(action(
        &fake,
        &file,
        &[
            ("IMAGE_CMD", ""),
            ("TAG_ONLY_CMD", "--tag-only"),
            ("TAG_ONLY", "v9"),
            ("TAG_ONLY_CONTAINER_NAMES", "app"),
            ("VERBOSE", "true"),
            ("ENABLE_ROLLBACK", "true"),
            ("BINARY", BINARY),
        ],
    ))
    .await;
    run.assert_code(0);
    run.assert_stderr_has("[aws] DescribeServices 200");
    let registered = fake.task_definition("web:2");
    assert_eq!(
        registered["containerDefinitions"][0]["image"],
        format!("{REPO}:v9")
    );
    assert_eq!(
        registered["containerDefinitions"][1]["image"], "nginx:1.25",
        "only app"
    );
}

/// A release server holding `binary` under its asset name and, with a
/// `sum`, a SHA256SUMS that says it for the asset.
async fn release(binary: &[u8], asset: &str, sum: Option<&str>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/{asset}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(binary.to_vec()))
        .mount(&server)
        .await;
    if let Some(sum) = sum {
        Mock::given(method("GET"))
            .and(path("/SHA256SUMS"))
            .respond_with(ResponseTemplate::new(200).set_body_string(sums_line(sum, asset)))
            .mount(&server)
            .await;
    }
    server
}

/// A line of SHA256SUMS, as sha256sum writes it.
fn sums_line(sum: &str, asset: &str) -> String {
    format!("{sum}  {asset}\n")
}

/// This build's release: its tag, the asset name for this machine, and the
/// binary's bytes.
fn this_release() -> (String, String, Vec<u8>) {
    let arch = match std::env::consts::ARCH {
        "aarch64" => "aarch64",
        _ => "x86_64",
    };
    let version = env!("CARGO_PKG_VERSION");
    let asset = format!("ecs-deploy-{version}-{arch}-linux-musl");
    (
        format!("v{version}"),
        asset,
        std::fs::read(Path::new(BINARY)).unwrap(),
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn the_release_binary_is_downloaded_and_checked() {
    let (version, asset, bytes) = this_release();
    let fake = fake().await;
    let dir = TempDir::new("action-download");
    let image = format!("{REPO}:v2");

    let good = release(&bytes, &asset, Some(&sha256_hex(&bytes))).await;
    let file = dir.write("outputs", "");
    let mut command = action(&fake, &file, &[("IMAGE", &image), ("VERSION", &version)]);
    command
        .env("ECS_DEPLOY_RELEASE_URL", good.uri())
        .env("RUNNER_TEMP", dir.path());
    run_command(command).await.assert_code(0);
    assert!(outputs(&file).contains("result=success\n"));

    // A binary that does not match SHA256SUMS is never run.
    let tampered = release(&bytes, &asset, Some(&"0".repeat(64))).await;
    let file = dir.write("outputs-bad", "");
    let before = fake.requests().len();
    let mut command = action(&fake, &file, &[("IMAGE", &image), ("VERSION", &version)]);
    command
        .env("ECS_DEPLOY_RELEASE_URL", tampered.uri())
        .env("RUNNER_TEMP", dir.path());
    let run = run_command(command).await;
    run.assert_code(3);
    run.assert_stderr_has("checksum mismatch");
    assert_eq!(fake.requests().len(), before, "nothing was sent to ECS");
    assert!(outputs(&file).contains("result=error\n"));
}

#[tokio::test]
async fn block_style_args_are_split_like_a_shell_without_expanding_anything() {
    let fake = fake().await;
    fake.set_rollout(
        CLUSTER,
        SERVICE,
        Rollout::TasksFail {
            polls: 1,
            tasks_per_poll: 1,
            reason: "health check failed".into(),
        },
    );
    let dir = TempDir::new("action-args");
    let file = dir.write("outputs", "");
    let marker = dir.write("marker-dir-probe", "");
    std::fs::remove_file(&marker).unwrap();
    let image = format!("{REPO}:v2");
    // `args: |` in a workflow: one flag or two a line, quoted as in a shell.
    let args = format!(
        "--poll-interval 0.02\n\
         # --dry-run: a comment, as in a shell\n\
         --env 'MOTTO=it works'   --env HASH=a#b\n\
         --env \"HOME_DIR=$HOME\" --env GLOB=*\n\
         --env \"CMD=$(touch {marker})\" --env 'TICKS=`touch {marker}`'\n\
         --env ESCAPED=a\\ b --env \"QUOTED=say \\\"hi\\\" \\\\ \\$HOME\"\n\
         --enable-rollback\n"
    );
    let run = run_command(action(
        &fake,
        &file,
        &[("IMAGE", &image), ("BINARY", BINARY), ("ARGS", &args)],
    ))
    .await;
    run.assert_code(1);
    assert!(
        outputs(&file).contains("result=rolled_back\n"),
        "{}",
        outputs(&file)
    );
    let environment = &fake.task_definition("web:2")["containerDefinitions"][0]["environment"];
    let value_of = |name: &str| {
        environment
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {environment}"))["value"]
            .clone()
    };
    assert_eq!(value_of("MOTTO"), "it works");
    assert_eq!(value_of("HASH"), "a#b");
    assert_eq!(value_of("HOME_DIR"), "$HOME");
    assert_eq!(value_of("GLOB"), "*");
    assert_eq!(value_of("CMD"), format!("$(touch {marker})"));
    assert_eq!(value_of("TICKS"), format!("`touch {marker}`"));
    assert_eq!(value_of("ESCAPED"), "a b");
    assert_eq!(value_of("QUOTED"), r#"say "hi" \ $HOME"#);
    assert!(!Path::new(&marker).exists(), "nothing was executed");
}

#[tokio::test]
async fn args_with_an_unclosed_quote_are_refused_before_anything_runs() {
    let fake = fake().await;
    let dir = TempDir::new("action-args-bad");
    let image = format!("{REPO}:v2");
    for (args, says) in [
        ("--env 'TOKEN=s3cret-value", "' quote"),
        ("--env \"TOKEN=s3cret-value", "\" quote"),
    ] {
        let file = dir.write("outputs", "");
        let run = run_command(action(
            &fake,
            &file,
            &[("IMAGE", &image), ("BINARY", BINARY), ("ARGS", args)],
        ))
        .await;
        run.assert_code(3);
        run.assert_stderr_has(says);
        assert!(!run.output().contains("s3cret"), "{}", run.output());
        assert_eq!(outputs(&file), "result=error\n");
    }
    assert!(fake.requests().is_empty(), "nothing was sent to ECS");
}

/// The inputs of a workflow that deploys task definition `web` rather than
/// a service.
fn task_definition_inputs(image: &str) -> Vec<(&str, &str)> {
    vec![
        ("SERVICE_NAME_CMD", ""),
        ("SERVICE_NAME", ""),
        ("TASK_DEFINITION_CMD", "--task-definition"),
        ("TASK_DEFINITION", "web"),
        ("IMAGE", image),
        ("BINARY", BINARY),
    ]
}

#[tokio::test]
async fn task_definition_and_run_task_work_with_the_default_inputs() {
    let fake = fake().await;
    let dir = TempDir::new("action-taskdef");
    let image = format!("{REPO}:v2");
    let file = dir.write("outputs", "");
    let run = run_command(action(&fake, &file, &task_definition_inputs(&image))).await;
    run.assert_code(0);
    assert_eq!(result_of(&file), "success");
    assert_eq!(
        fake.task_definition("web:2")["containerDefinitions"][0]["image"],
        image
    );

    let file = dir.write("outputs-run", "");
    let mut inputs = task_definition_inputs(&image);
    inputs.push(("RUN_TASK", "true"));
    let run = run_command(action(&fake, &file, &inputs)).await;
    run.assert_code(0);
    assert_eq!(result_of(&file), "success");
    assert_eq!(fake.count("RunTask"), 1);

    // A percentage the workflow sets itself is passed, and refused with -d
    // as on the command line.
    let file = dir.write("outputs-min", "");
    let mut inputs = task_definition_inputs(&image);
    inputs.push(("MIN", "50"));
    let run = run_command(action(&fake, &file, &inputs)).await;
    run.assert_code(3);
    run.assert_stderr_has("-m/--min applies to a service (-n), not to -d.");
    assert_eq!(result_of(&file), "error");
}

#[tokio::test]
async fn every_failure_leaves_result_error_and_the_binarys_exit_code() {
    let fake = fake().await;
    let dir = TempDir::new("action-errors");
    let image = format!("{REPO}:v2");
    for (inputs, code) in [
        // The binary's usage errors: it prints its JSON but runs nothing.
        (vec![("ARGS", "--no-such-flag")], 3),
        (vec![("IMAGE", "")], 13),
        (
            vec![("IMAGE", image.as_str()), ("MAX_DEFINITIONS", "none")],
            9,
        ),
    ] {
        // An earlier step's result in the same file does not count.
        let file = dir.write("outputs", "result=success\n");
        let mut inputs = inputs;
        inputs.push(("BINARY", BINARY));
        let run = run_command(action(&fake, &file, &inputs)).await;
        run.assert_code(code);
        let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(json["result"], "error");
        assert_eq!(outputs(&file), "result=success\nresult=error\n");
    }
    assert!(fake.requests().is_empty());

    // A run writes its own result, and nothing is added to it.
    let file = dir.write("outputs-run", "");
    fake.deny("RegisterTaskDefinition");
    let run = run_command(action(
        &fake,
        &file,
        &[("IMAGE", &image), ("BINARY", BINARY)],
    ))
    .await;
    run.assert_code(2);
    assert_eq!(result_of(&file), "error");
}

#[cfg(unix)]
#[tokio::test]
async fn a_signal_to_the_step_reaches_the_deploy() {
    let fake = fake().await;
    fake.set_rollout(CLUSTER, SERVICE, Rollout::Stuck);
    let dir = TempDir::new("action-signal");
    let image = format!("{REPO}:v2");
    // Ctrl-C too, which bash makes a background child ignore until the
    // binary listens for it.
    for (signal, name) in [("-TERM", "SIGTERM"), ("-INT", "Ctrl-C")] {
        let file = dir.write("outputs", "");
        let live = spawn(action(
            &fake,
            &file,
            &[("IMAGE", &image), ("BINARY", BINARY)],
        ));
        live.wait_for("Waiting for the deployment").await;
        live.signal(signal).await;
        let run = live.finish().await;
        run.assert_code(130);
        run.assert_stderr_has(&format!("{name} received. Changed so far"));
        assert_eq!(result_of(&file), "interrupted");
    }
}

const UPSTREAM_INPUTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/upstream-action-inputs.txt"
);

#[test]
fn action_yml_takes_every_input_of_the_bash_script_action_to_the_script() {
    let upstream = std::fs::read_to_string(UPSTREAM_INPUTS).unwrap();
    let declared: Vec<String> = declared_inputs()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let missing: Vec<&str> = upstream
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter(|name| !declared.iter().any(|d| d == name))
        .collect();
    assert!(
        missing.is_empty(),
        "action.yml lacks these inputs of the bash script's action: {missing:?}"
    );

    // Each declared input reaches the script as INPUT_<NAME>, which reads
    // it, but the flags of the keys: the keys go through the environment
    // whatever flag names them.
    let unread = ["aws_access_key_cmd", "aws_secret_key_cmd"];
    let action = action_yml();
    let env = &action["runs"]["steps"][0]["env"];
    let script = std::fs::read_to_string(SCRIPT).unwrap();
    for name in &declared {
        let variable = format!("INPUT_{}", name.to_uppercase());
        assert_eq!(
            env[variable.as_str()].as_str(),
            Some(format!("${{{{ inputs.{name} }}}}").as_str()),
            "action.yml's step env passes {name} as {variable}"
        );
        let read = script.match_indices(&variable).any(|(at, _)| {
            !script[at + variable.len()..]
                .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        });
        assert_eq!(
            read,
            !unread.contains(&name.as_str()),
            "action/run.sh reads {variable}"
        );
    }
}

#[tokio::test]
async fn the_inputs_upstream_added_later_do_what_they_do_there() {
    // desired_count_cmd, tag_env_var_cmd, copy_task_definition_tags_cmd.
    let tags = vec![("team".to_string(), "web".to_string())];
    let fake = bare_fake().await;
    let arn = fake.seed_task_definition(web_task_definition(), tags.clone());
    fake.add_service(CLUSTER, SERVICE, &arn, 2);
    let dir = TempDir::new("action-later-inputs");
    let file = dir.write("outputs", "");
    let mut command = action(
        &fake,
        &file,
        &[
            ("IMAGE", REPO),
            ("DESIRED_COUNT_CMD", "--desired-count"),
            ("DESIRED_COUNT", "3"),
            ("TAG_ENV_VAR_CMD", "--tag-env-var"),
            ("TAG_ENV_VAR", "CI_TAG"),
            (
                "COPY_TASK_DEFINITION_TAGS_CMD",
                "--copy-task-definition-tags",
            ),
            ("BINARY", BINARY),
        ],
    );
    command.env("CI_TAG", "v7");
    run_command(command).await.assert_code(0);
    let update = first_body(&fake, "UpdateService");
    assert_eq!(update["desiredCount"], 3);
    assert_eq!(
        fake.task_definition("web:2")["containerDefinitions"][0]["image"],
        format!("{REPO}:v7")
    );
    assert_eq!(fake.task_definition_tags("web:2"), tags);

    // run_task_cmd and wait_for_success, then run_task and
    // wait_for_success_cmd (and copy_task_definition_tags): the task is
    // waited for, and its exit code fails the step.
    let image = format!("{REPO}:v2");
    let switches = [
        [("RUN_TASK_CMD", "--run-task"), ("WAIT_FOR_SUCCESS", "true")],
        [
            ("RUN_TASK", "true"),
            ("WAIT_FOR_SUCCESS_CMD", "--wait-for-success"),
        ],
    ];
    for (n, switches) in switches.iter().enumerate() {
        fake.set_task_runs(vec![TaskRun::Exit {
            container: "app".into(),
            exit_code: 3,
            reason: "migration 0042 failed".into(),
        }]);
        let file = dir.write("outputs-run", "");
        let mut inputs = task_definition_inputs(&image);
        inputs.extend_from_slice(switches);
        inputs.push(("COPY_TASK_DEFINITION_TAGS", "true"));
        let run = run_command(action(&fake, &file, &inputs)).await;
        run.assert_code(1);
        run.assert_stderr_has("app exited with 3");
        assert_eq!(result_of(&file), "failed");
        assert_eq!(fake.count("RunTask"), n + 1);
        assert_eq!(fake.task_definition_tags(&format!("web:{}", n + 3)), tags);
    }
}

/// `action/run.sh` copied into a throwaway action tree whose
/// `action/release/` records `version` and `sums`, as the release workflow
/// commits them at a release's tag; returns the tree's root.
fn released_action(dir: &TempDir, version: &str, sums: &str) -> String {
    dir.write("pinned/action/release/VERSION", &format!("{version}\n"));
    dir.write("pinned/action/release/SHA256SUMS", sums);
    untagged_action(dir)
}

/// `action/run.sh` copied into a throwaway action tree with no record of a
/// release (a commit of main); returns the tree's root.
fn untagged_action(dir: &TempDir) -> String {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.write(
        "pinned/action/run.sh",
        &std::fs::read_to_string(SCRIPT).unwrap(),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("{}/pinned", dir.path())
}

#[tokio::test]
async fn an_action_pinned_by_sha_checks_the_download_against_its_own_tree() {
    let (version, asset, bytes) = this_release();
    let fake = fake().await;
    let dir = TempDir::new("action-pinned");
    let image = format!("{REPO}:v2");
    let pinned = "0123456789abcdef0123456789abcdef01234567";
    let pinned_tree = released_action(&dir, &version, &sums_line(&sha256_hex(&bytes), &asset));
    let step = |root: &str, file: &str, server: &MockServer, inputs: &[(&str, &str)]| {
        let mut inputs = inputs.to_vec();
        inputs.push(("IMAGE", &image));
        let mut command = action_from(root, &fake, file, &inputs);
        command
            .env("ACTION_REF", pinned)
            .env("ECS_DEPLOY_RELEASE_URL", server.uri())
            .env("RUNNER_TEMP", dir.path());
        command
    };

    // No version input and a release without SHA256SUMS: the tree knows both.
    let server = release(&bytes, &asset, None).await;
    let file = dir.write("outputs", "");
    run_command(step(&pinned_tree, &file, &server, &[]))
        .await
        .assert_code(0);
    assert_eq!(result_of(&file), "success");

    // A release whose asset and SHA256SUMS were both replaced is caught by
    // the checksum the pinned commit carries; the binary is never run.
    let mut tampered = bytes.clone();
    tampered.push(0);
    let server = release(&tampered, &asset, Some(&sha256_hex(&tampered))).await;
    let file = dir.write("outputs-tampered", "");
    let before = fake.requests().len();
    let run = run_command(step(&pinned_tree, &file, &server, &[])).await;
    run.assert_code(3);
    run.assert_stderr_has("checksum mismatch");
    run.assert_stderr_has("action/release/SHA256SUMS");
    assert_eq!(fake.requests().len(), before, "nothing was sent to ECS");
    assert_eq!(result_of(&file), "error");

    // Another version than the tree's: only that release's SHA256SUMS can
    // say what its asset is.
    let other = released_action(
        &dir,
        "v0.0.1",
        &sums_line(&"0".repeat(64), "ecs-deploy-0.0.1"),
    );
    let server = release(&bytes, &asset, Some(&sha256_hex(&bytes))).await;
    let file = dir.write("outputs-other", "");
    let run = run_command(step(&other, &file, &server, &[("VERSION", &version)])).await;
    run.assert_code(0);

    // An untagged commit without the version input: nothing to download.
    std::fs::remove_dir_all(format!("{}/pinned", dir.path())).unwrap();
    let untagged = untagged_action(&dir);
    let file = dir.write("outputs-untagged", "");
    let run = run_command(step(&untagged, &file, &server, &[])).await;
    run.assert_code(3);
    run.assert_stderr_has("set the version input");
    assert_eq!(result_of(&file), "error");
}

#[tokio::test]
async fn wait_only_and_rollback_inputs_deploy_nothing_themselves() {
    // After terraform apply: wait for what the service runs (nothing here).
    let fake = fake().await;
    let dir = TempDir::new("action-elsewhere");
    let file = dir.write("outputs", "");
    let elsewhere = [("IMAGE_CMD", ""), ("BINARY", BINARY)];
    let mut inputs = vec![("WAIT_ONLY", "true")];
    inputs.extend(elsewhere);
    let run = run_command(action(&fake, &file, &inputs)).await;
    run.assert_code(0);
    run.assert_stderr_has("Nothing to wait for: the service runs web:1");
    assert_eq!(result_of(&file), "success");
    assert_eq!(fake.count("UpdateService"), 0);

    // Undo the last deployment: back to web:1 after a deploy of web:2.
    deploy_v2(&fake, &[]).await.assert_code(0);
    let file = dir.write("outputs-rollback", "");
    let mut inputs = vec![("ROLLBACK", "true")];
    inputs.extend(elsewhere);
    let run = run_command(action(&fake, &file, &inputs)).await;
    run.assert_code(0);
    run.assert_stderr_has("The way back: web:2 to web:1");
    assert_eq!(result_of(&file), "rolled_back");
    assert_eq!(service_revision(&fake, SERVICE), "web:1");
}
