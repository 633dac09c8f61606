//! What the end-to-end tests share: running the real binary against the
//! fake ECS.

use std::process::Stdio;
use std::time::Duration;

use fake_ecs::{FakeEcs, Fault, ACCESS_KEY, SECRET_KEY};
use serde_json::{json, Value};

pub const BINARY: &str = env!("CARGO_BIN_EXE_ecs-deploy");
pub const REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/acct/repo";
pub const CLUSTER: &str = "prod";
pub const SERVICE: &str = "web";
/// The tags of REPO in the fake's ECR.
pub const TAGS: [&str; 8] = [
    "v1",
    "v2",
    "v3",
    "v7",
    "v9",
    "latest",
    "1.0.0",
    "2026.11.27",
];
/// The revision `web` runs before any deploy.
pub const TD1: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1";

/// What a run of the binary left behind.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn assert_stdout_has(&self, needle: &str) {
        assert_contains("stdout", &self.stdout, needle);
    }

    #[track_caller]
    pub fn assert_stderr_has(&self, needle: &str) {
        assert_contains("stderr", &self.stderr, needle);
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) {
        assert_eq!(
            self.code, code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
    }
}

#[track_caller]
pub fn assert_contains(stream: &str, text: &str, needle: &str) {
    assert!(text.contains(needle), "no {needle:?} in {stream}:\n{text}");
}

/// A fake ECS with cluster `prod`, task definition `web:1` (containers `app`
/// on REPO:v1 and `sidecar` on nginx) and service `web` running it twice.
pub async fn fake() -> FakeEcs {
    seeded(FakeEcs::start().await)
}

/// [`fake`] behind the raw front that can also break connections.
pub async fn hostile_fake() -> FakeEcs {
    seeded(FakeEcs::start_hostile().await)
}

/// A fake ECS with cluster `prod` and nothing in it, and ECR holding the
/// [`TAGS`] of REPO.
pub async fn bare_fake() -> FakeEcs {
    bare(FakeEcs::start().await)
}

fn bare(fake: FakeEcs) -> FakeEcs {
    fake.add_cluster(CLUSTER);
    // The tags of REPO the tests deploy: ECR has them, as a registry would.
    for tag in TAGS {
        fake.add_ecr_image("acct/repo", tag);
    }
    fake
}

fn seeded(fake: FakeEcs) -> FakeEcs {
    let fake = bare(fake);
    let arn = fake.seed_task_definition(web_task_definition(), vec![]);
    fake.add_service(CLUSTER, SERVICE, &arn, 2);
    fake
}

pub fn web_task_definition() -> Value {
    json!({
        "family": "web",
        "networkMode": "bridge",
        "containerDefinitions": [
            {"name": "app", "image": format!("{REPO}:v1"), "essential": true, "memory": 256,
             "environment": [{"name": "MODE", "value": "prod"}]},
            {"name": "sidecar", "image": "nginx:1.25", "essential": false, "memory": 64}
        ]
    })
}

pub fn command(fake: &FakeEcs, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BINARY);
    command.args(["--endpoint-url", &fake.uri()]);
    if !args.contains(&"--poll-interval") {
        command.args(["--poll-interval", "0.02"]);
    }
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // Every other service the binary reaches (CodeDeploy, CloudWatch
        // Logs, ECR) is the fake too: a test never reaches AWS.
        .env("AWS_ENDPOINT_URL", fake.uri())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        // Tests must never reach for a real instance metadata service.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", "/nonexistent")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// `command` without the fake's keys in the environment, so that the rest
/// of the credential chain is used.
pub fn without_keys(command: &mut tokio::process::Command) -> &mut tokio::process::Command {
    command
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
}

pub async fn run_command(mut command: tokio::process::Command) -> Run {
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("ecs-deploy finished within 60 s")
        .expect("ecs-deploy runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub async fn deploy(fake: &FakeEcs, args: &[&str]) -> Run {
    run_command(command(fake, args)).await
}

/// `-c prod -n web -i IMAGE` plus `extra`.
pub async fn deploy_image(fake: &FakeEcs, image: &str, extra: &[&str]) -> Run {
    let mut args = vec!["-c", CLUSTER, "-n", SERVICE, "-i", image];
    args.extend_from_slice(extra);
    deploy(fake, &args).await
}

/// `-c prod -n web -i REPO:v2` plus `extra`.
pub async fn deploy_v2(fake: &FakeEcs, extra: &[&str]) -> Run {
    deploy_image(fake, &format!("{REPO}:v2"), extra).await
}

/// The stdout of a run as the one JSON document `--output json` promises.
pub fn json_result(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", run.stdout))
}

/// `-c prod -n web -i REPO:v2 --output json` plus `extra`: the run and its document.
pub async fn deploy_json(fake: &FakeEcs, extra: &[&str]) -> (Run, Value) {
    let mut args = vec!["--output", "json"];
    args.extend_from_slice(extra);
    let run = deploy_v2(fake, &args).await;
    let json = json_result(&run);
    (run, json)
}

/// The operations the fake received, in order.
pub fn operations(fake: &FakeEcs) -> Vec<String> {
    fake.requests().into_iter().map(|r| r.operation).collect()
}

/// The bodies of the requests named `operation`, in order.
pub fn bodies(fake: &FakeEcs, operation: &str) -> Vec<Value> {
    fake.requests()
        .into_iter()
        .filter(|r| r.operation == operation)
        .map(|r| r.body)
        .collect()
}

/// The body of the first request named `operation`.
#[track_caller]
pub fn first_body(fake: &FakeEcs, operation: &str) -> Value {
    let mut found = bodies(fake, operation).into_iter();
    found
        .next()
        .unwrap_or_else(|| panic!("no {operation} request"))
}

/// An answer of HTTP 400 with the JSON error `code` and `message`.
pub fn refused(code: &str, message: &str) -> Fault {
    Fault::Raw {
        status: 400,
        content_type: "application/x-amz-json-1.1".into(),
        body: json!({"__type": code, "message": message}).to_string(),
    }
}

/// `family:revision` of what `service` runs, as the fake holds it.
pub fn service_revision(fake: &FakeEcs, service: &str) -> String {
    let arn = fake.service(CLUSTER, service)["taskDefinition"]
        .as_str()
        .unwrap()
        .to_string();
    arn.rsplit('/').next().unwrap().to_string()
}

/// A throwaway directory, removed on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("ecs-deploy-{label}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    /// Writes `name` (a path relative to the directory, whose folders are
    /// made as needed) with `text` and returns its path.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).expect("create a temp folder");
        }
        std::fs::write(&path, text).expect("write a temp file");
        path.to_string_lossy().into_owned()
    }

    /// The directory's path.
    pub fn path(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }

    /// Makes `name` a FIFO (see [`mkfifo`]) and returns its path.
    pub fn fifo(&self, name: &str) -> String {
        let path = self.0.join(name);
        mkfifo(&path);
        path.to_string_lossy().into_owned()
    }
}

/// Makes `path` a FIFO that no one writes to: a read of it blocks until
/// the reader gives up, like a `<(command)` that never answers.
pub fn mkfifo(path: &std::path::Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A run of the binary in the background, its output collected as it comes.
pub struct Live {
    child: tokio::process::Child,
    stdout: std::sync::Arc<std::sync::Mutex<String>>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts `command` with both streams collected.
pub fn spawn(mut command: tokio::process::Command) -> Live {
    use tokio::io::AsyncReadExt;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ecs-deploy starts");
    let stdout = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let collect = |mut stream: Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                   into: std::sync::Arc<std::sync::Mutex<String>>| {
        tokio::spawn(async move {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
                into.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        })
    };
    let readers = vec![
        collect(Box::new(child.stdout.take().unwrap()), stdout.clone()),
        collect(Box::new(child.stderr.take().unwrap()), stderr.clone()),
    ];
    Live {
        child,
        stdout,
        stderr,
        readers,
    }
}

impl Live {
    /// Waits (up to 30 s) until stdout or stderr holds `needle`.
    pub async fn wait_for(&self, needle: &str) {
        for _ in 0..1500 {
            let seen = self.stdout.lock().unwrap().contains(needle)
                || self.stderr.lock().unwrap().contains(needle);
            if seen {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "no {needle:?} within 30 s:\n{}\n{}",
            self.stdout.lock().unwrap(),
            self.stderr.lock().unwrap()
        );
    }

    /// Sends a signal (`-TERM`, `-HUP`, …) with kill(1).
    pub async fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("still running").to_string();
        let sent = tokio::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .await
            .unwrap();
        assert!(sent.success());
    }

    /// Closes the reading ends of stdout and stderr, as `| head` or a dead
    /// log forwarder does: every later write of the binary fails.
    pub fn close_output(&mut self) {
        for reader in self.readers.drain(..) {
            reader.abort();
        }
    }

    /// Waits (up to 60 s) for the exit and returns what was collected.
    pub async fn finish(mut self) -> Run {
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("ecs-deploy finished within 60 s")
            .unwrap();
        for reader in self.readers.drain(..) {
            let _ = reader.await;
        }
        let stdout = self.stdout.lock().unwrap().clone();
        let stderr = self.stderr.lock().unwrap().clone();
        Run {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
        }
    }
}
