//! Unit tests: request checks, operations and the rollout state machine, driven through
//! `State::handle` with hand-made requests (plus one smoke test over real HTTP).

use std::time::Duration;

use serde_json::{json, Value};
use wiremock::http::{HeaderMap, HeaderName, HeaderValue, Method};
use wiremock::Request;

use crate::dispatch::{Reply, CODEDEPLOY_TARGET_PREFIX, TARGET_PREFIX};
use crate::state::State;
use crate::{
    CodeDeployRun, DeploymentGroupOptions, FakeEcs, Fault, Rollout, TaskRun, ACCESS_KEY,
    ECS_LIFECYCLE_EVENTS,
};

mod codedeploy;
mod express;
mod http;
mod logs_ecr;
mod requests;
mod rollouts;
mod run_task;
mod service_deployments;
mod task_definitions;
mod throttling;

const AUTH_OK: &str = "AWS4-HMAC-SHA256 Credential=AKIAFAKEECSDEPLOY001/20250101/us-east-1/ecs/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn request(headers: &[(&str, &str)], body: &Value) -> Request {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    Request {
        url: "http://127.0.0.1:1/".parse().unwrap(),
        method: Method::POST,
        headers: map,
        body: body.to_string().into_bytes(),
    }
}

fn signed(operation: &str, authorization: &str, body: &Value) -> Request {
    signed_for(TARGET_PREFIX, operation, authorization, body)
}

/// A request for the operation of the API whose `X-Amz-Target` prefix is `prefix`.
fn signed_for(prefix: &str, operation: &str, authorization: &str, body: &Value) -> Request {
    let target = format!("{prefix}{operation}");
    request(
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", &target),
            ("x-amz-date", "20250101T120000Z"),
            ("authorization", authorization),
        ],
        body,
    )
}

fn body(reply: &Reply) -> Value {
    serde_json::from_str(&reply.body).expect("JSON reply")
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply
        .headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Call an operation that must succeed; its JSON reply.
fn ok(state: &mut State, operation: &str, input: Value) -> Value {
    succeeded(operation, state.handle(&signed(operation, AUTH_OK, &input)))
}

/// Call an operation that must fail with HTTP `status`; its error code.
fn fails(state: &mut State, operation: &str, input: Value, status: u16) -> String {
    failed(
        operation,
        state.handle(&signed(operation, AUTH_OK, &input)),
        status,
    )
}

/// The JSON body of a reply that must be a 200.
fn succeeded(operation: &str, reply: Reply) -> Value {
    assert_eq!(reply.status, 200, "{operation}: {}", reply.body);
    body(&reply)
}

/// The error code of a reply that must have HTTP `status`.
fn failed(operation: &str, reply: Reply, status: u16) -> String {
    assert_eq!(reply.status, status, "{operation}: {}", reply.body);
    let code = body(&reply)["__type"].as_str().unwrap().to_string();
    assert_eq!(header(&reply, "x-amzn-errortype"), Some(code.as_str()));
    code
}

fn web(image: &str) -> Value {
    json!({
        "family": "web",
        "containerDefinitions": [
            {"name": "app", "image": image, "essential": true, "memory": 256},
            {"name": "sidecar", "image": "repo-two:v1", "essential": false, "memory": 64}
        ],
        "requiresCompatibilities": ["EC2"]
    })
}

/// Cluster `prod`, service `web` on web:1 with 2 tasks, and web:2 registered.
fn setup() -> (State, String, String) {
    let mut state = State::new();
    let v1 = state.seed_task_definition(web("acct/repo:v1"), vec![("team".into(), "a".into())]);
    let v2 = state.seed_task_definition(web("acct/repo:v2"), vec![]);
    state.add_service("prod", "web", &v1, 2);
    (state, v1, v2)
}

fn poll(state: &mut State) -> Value {
    let reply = ok(
        state,
        "DescribeServices",
        json!({"cluster": "prod", "services": ["web"]}),
    );
    reply["services"][0].clone()
}

fn update(state: &mut State, task_definition: &str) -> Value {
    let input = json!({"cluster": "prod", "service": "web", "taskDefinition": task_definition});
    ok(state, "UpdateService", input)["service"].clone()
}

fn deployment_summary(service: &Value) -> Vec<(String, String, Option<String>, u64)> {
    service["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["status"].as_str().unwrap().to_string(),
                d["taskDefinition"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
                d["rolloutState"].as_str().map(str::to_string),
                d["runningCount"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn s(x: &str) -> String {
    x.to_string()
}

/// POST one signed ECS request to a running fake over plain TCP; the raw HTTP reply.
async fn http_call(fake: &FakeEcs, operation: &str, body: &Value) -> String {
    http_call_for(fake, TARGET_PREFIX, AUTH_OK, operation, body).await
}

/// POST one request of the API whose target prefix is `prefix`, signed with `authorization`.
async fn http_call_for(
    fake: &FakeEcs,
    prefix: &str,
    authorization: &str,
    operation: &str,
    body: &Value,
) -> String {
    use std::io::{Read, Write};

    let addr = fake.uri().trim_start_matches("http://").to_string();
    let body = body.to_string();
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: {prefix}{operation}\r\nX-Amz-Date: 20250101T120000Z\r\nAuthorization: {authorization}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(raw.as_bytes()).unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        reply
    })
    .await
    .unwrap()
}

/// The JSON body of a raw HTTP 200 reply.
fn http_body(reply: &str) -> Value {
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let (_, body) = reply.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap()
}

/// One signed ECS call over HTTP that must succeed; its JSON reply.
async fn http_ok(fake: &FakeEcs, operation: &str, body: Value) -> Value {
    http_body(&http_call(fake, operation, &body).await)
}

fn messages(service: &Value) -> Vec<String> {
    service["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}
