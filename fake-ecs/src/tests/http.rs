//! The fake over real HTTP: the wiremock server and the hostile front.

use super::*;

#[tokio::test]
async fn set_task_runs_scripts_run_task_over_http() {
    let fake = FakeEcs::start().await;
    fake.add_cluster("prod");
    let td = fake.seed_task_definition(web("acct/repo:v1"), vec![]);
    fake.set_task_runs(vec![TaskRun::FailToStart {
        reason: "CannotPullContainerError: denied".into(),
    }]);
    let run = http_body(
        &http_call(
            &fake,
            "RunTask",
            &json!({"cluster": "prod", "taskDefinition": td, "startedBy": "ecs-deploy"}),
        )
        .await,
    );
    let arn = run["tasks"][0]["taskArn"].clone();
    let input = json!({"cluster": "prod", "tasks": [arn], "include": ["TAGS"]});
    let first = http_body(&http_call(&fake, "DescribeTasks", &input).await);
    assert_eq!(first["tasks"][0]["lastStatus"], "PENDING");
    let second = http_body(&http_call(&fake, "DescribeTasks", &input).await);
    assert_eq!(second["tasks"][0]["stopCode"], "TaskFailedToStart");
    assert_eq!(fake.tasks("prod")[0], second["tasks"][0]);
    // The script is used up: the next task succeeds.
    let run = http_body(
        &http_call(
            &fake,
            "RunTask",
            &json!({"cluster": "prod", "taskDefinition": td}),
        )
        .await,
    );
    let input = json!({"cluster": "prod", "tasks": [run["tasks"][0]["taskArn"]]});
    http_call(&fake, "DescribeTasks", &input).await;
    let done = http_body(&http_call(&fake, "DescribeTasks", &input).await);
    assert_eq!(done["tasks"][0]["stopCode"], "EssentialContainerExited");
    assert_eq!(fake.count("DescribeTasks"), 4);
}

#[tokio::test]
async fn serves_over_http_on_loopback() {
    use std::io::{Read, Write};

    let fake = FakeEcs::start().await;
    fake.add_cluster("prod");
    assert!(fake.uri().starts_with("http://127.0.0.1:"));
    let addr = fake.uri().trim_start_matches("http://").to_string();
    let body = r#"{"cluster":"prod","services":["web"]}"#;
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: {TARGET_PREFIX}DescribeServices\r\nX-Amz-Date: 20250101T120000Z\r\nAuthorization: {AUTH_OK}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let reply = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(raw.as_bytes()).unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        reply
    })
    .await
    .unwrap();
    let lower = reply.to_ascii_lowercase();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(
        lower.contains("content-type: application/x-amz-json-1.1"),
        "{reply}"
    );
    assert!(lower.contains("x-amzn-requestid: "), "{reply}");
    assert!(
        reply.ends_with(r#""reason":"MISSING"}],"services":[]}"#),
        "{reply}"
    );
    assert_eq!(fake.count("DescribeServices"), 1);
    assert_eq!(fake.requests()[0].access_key.as_deref(), Some(ACCESS_KEY));
}

/// Sends one raw DescribeServices request to `uri` and returns whatever comes back until the
/// connection ends, and whether it ended with an error (a reset).
async fn raw_describe(uri: &str) -> (Vec<u8>, bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let addr = uri.trim_start_matches("http://").to_string();
    let body = r#"{"cluster":"prod","services":["web"]}"#;
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: {TARGET_PREFIX}DescribeServices\r\nX-Amz-Date: 20250101T120000Z\r\nAuthorization: {AUTH_OK}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) => return (reply, false),
            Ok(n) => reply.extend_from_slice(&chunk[..n]),
            Err(_) => return (reply, true),
        }
    }
}

#[tokio::test]
async fn the_hostile_front_passes_answers_through_or_breaks_them() {
    let fake = FakeEcs::start_hostile().await;
    fake.add_cluster("prod");
    let arn = fake.seed_task_definition(web("repo:v1"), vec![]);
    fake.add_service("prod", "web", &arn, 1);
    fake.inject_text("\n::error::x");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();

    let (reply, reset) = raw_describe(&fake.uri()).await;
    let reply = text(&reply);
    assert!(!reset && reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(
        !reply.to_ascii_lowercase().contains("x-fake-ecs-raw"),
        "{reply}"
    );
    assert!(
        reply.contains(r#"\n::error::x""#),
        "text is injected: {reply}"
    );

    fake.inject_faults(
        "DescribeServices",
        vec![
            Fault::ResetMidBody,
            Fault::TruncatedBody,
            Fault::HugeBody { bytes: 200_000 },
            Fault::Stall { seconds: 0.2 },
            Fault::Redirect {
                status: 302,
                location: "http://elsewhere.example/".into(),
            },
        ],
    );
    let (reply, reset) = raw_describe(&fake.uri()).await;
    let length: usize = text(&reply)
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(|n| n.trim().parse().unwrap())
        })
        .unwrap();
    let body_start = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(reset, "a reset ends the answer");
    assert!(
        reply.len() - body_start < length,
        "only part of the body came"
    );

    let (reply, reset) = raw_describe(&fake.uri()).await;
    let body_start = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(!reset && reply.len() - body_start > 0);
    assert!(text(&reply)
        .to_ascii_lowercase()
        .contains("content-length: "));

    let (reply, _) = raw_describe(&fake.uri()).await;
    assert!(text(&reply)
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked"));
    assert!(reply.len() > 200_000, "{}", reply.len());

    let started = std::time::Instant::now();
    let (reply, _) = raw_describe(&fake.uri()).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    assert!(text(&reply).starts_with("HTTP/1.1 200"));

    let (reply, _) = raw_describe(&fake.uri()).await;
    let reply = text(&reply);
    assert!(reply.starts_with("HTTP/1.1 302"), "{reply}");
    assert!(
        reply
            .to_ascii_lowercase()
            .contains("location: http://elsewhere.example/"),
        "{reply}"
    );
}

#[test]
#[should_panic(expected = "needs FakeEcs::start_hostile")]
fn raw_faults_need_the_front() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fake = runtime.block_on(FakeEcs::start());
    fake.inject_faults("DescribeServices", vec![Fault::ResetMidBody]);
}

#[tokio::test]
async fn another_client_can_start_a_deployment_unrecorded() {
    let fake = FakeEcs::start().await;
    fake.add_cluster("prod");
    let v1 = fake.seed_task_definition(web("acct/repo:v1"), vec![]);
    let v2 = fake.seed_task_definition(web("acct/repo:v2"), vec![]);
    fake.add_service("prod", "web", &v1, 2);
    let answer = fake
        .call_as_another_client(
            "UpdateService",
            json!({"cluster": "prod", "service": "web", "taskDefinition": v2}),
        )
        .unwrap();
    assert_eq!(answer["service"]["taskDefinition"], v2.as_str());
    assert_eq!(fake.service("prod", "web")["taskDefinition"], v2.as_str());
    assert!(fake.requests().is_empty(), "not recorded");
    let refused = fake
        .call_as_another_client(
            "UpdateService",
            json!({"cluster": "prod", "service": "nope"}),
        )
        .unwrap_err();
    assert!(
        refused.starts_with("ServiceNotFoundException: "),
        "{refused}"
    );
}
