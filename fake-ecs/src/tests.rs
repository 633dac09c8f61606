//! Unit tests: request checks, operations and the rollout state machine, driven through
//! `State::handle` with hand-made requests (plus one smoke test over real HTTP).

use std::time::Duration;

use serde_json::{json, Value};
use wiremock::http::{HeaderMap, HeaderName, HeaderValue, Method};
use wiremock::Request;

use crate::model::{Reply, State, CODEDEPLOY_TARGET_PREFIX, TARGET_PREFIX};
use crate::{
    CodeDeployRun, DeploymentGroupOptions, FakeEcs, Fault, Rollout, TaskRun, ACCESS_KEY,
    ECS_LIFECYCLE_EVENTS,
};

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

/// A rollout of web:2 over web:1 (two tasks) halfway: one task of each running, one pending.
fn assert_halfway(service: &Value) {
    assert_eq!(
        deployment_summary(service),
        [
            (s("PRIMARY"), s("web:2"), Some(s("IN_PROGRESS")), 1),
            (s("ACTIVE"), s("web:1"), Some(s("COMPLETED")), 1)
        ]
    );
    assert_eq!(service["deployments"][0]["pendingCount"], 1);
}

#[test]
fn signature_shape_is_checked_and_every_request_recorded() {
    let (mut state, _, _) = setup();
    let input = json!({"cluster": "prod", "services": ["web"]});
    let cases = [
        ("", "IncompleteSignatureException"),
        ("Bearer abc", "IncompleteSignatureException"),
        (
            &AUTH_OK.replace("Signature=0123", "Signature=XYZ"),
            "IncompleteSignatureException",
        ),
        (
            &AUTH_OK.replace("host;", ""),
            "IncompleteSignatureException",
        ),
        (
            &AUTH_OK.replace("/20250101/", "/20250102/"),
            "IncompleteSignatureException",
        ),
        (
            &AUTH_OK.replace("us-east-1", "eu-west-1"),
            "InvalidSignatureException",
        ),
        (
            &AUTH_OK.replace(ACCESS_KEY, "AKIAOTHER"),
            "UnrecognizedClientException",
        ),
    ];
    for (authorization, code) in cases {
        let mut req = signed("DescribeServices", authorization, &input);
        if authorization.is_empty() {
            req.headers.remove("authorization");
        }
        let reply = state.handle(&req);
        assert_eq!(reply.status, 403, "{authorization}");
        assert_eq!(body(&reply)["__type"], code, "{authorization}");
        assert_eq!(header(&reply, "x-amzn-errortype"), Some(code));
    }
    let mut no_date = signed("DescribeServices", AUTH_OK, &input);
    no_date.headers.remove("x-amz-date");
    assert_eq!(state.handle(&no_date).status, 403);

    let recorded = &state.requests;
    assert_eq!(recorded.len(), cases.len() + 1);
    assert!(recorded
        .iter()
        .all(|r| r.operation == "DescribeServices" && r.body == input));
    assert_eq!(recorded[6].access_key.as_deref(), Some("AKIAOTHER"));
    assert_eq!(recorded[0].access_key, None);
    // Rejected requests did not advance anything.
    assert_eq!(poll(&mut state)["deployments"].as_array().unwrap().len(), 1);
}

#[test]
fn unknown_operations_and_bad_bodies_are_client_errors() {
    let (mut state, _, _) = setup();
    assert_eq!(
        fails(&mut state, "FlyToTheMoon", json!({}), 400),
        "UnknownOperationException"
    );
    let reply = state.handle(&signed("ListTasks", AUTH_OK, &json!([1, 2])));
    assert_eq!(body(&reply)["__type"], "SerializationException");
    let code = fails(
        &mut state,
        "UpdateService",
        json!({"service": "web", "desiredCount": "2", "cluster": "prod"}),
        400,
    );
    assert_eq!(code, "SerializationException");
    assert_eq!(state.requests[0].operation, "FlyToTheMoon");
}

#[test]
fn faults_come_first_in_order_then_normal_answers() {
    let (mut state, _, _) = setup();
    state.inject_faults(
        "DescribeServices",
        vec![
            Fault::Throttle,
            Fault::ServiceUnavailable,
            Fault::Raw {
                status: 500,
                content_type: "application/xml".into(),
                body: "<Error><Code>InternalFailure</Code></Error>".into(),
            },
        ],
    );
    let input = json!({"cluster": "prod", "services": ["web"]});
    let throttled = state.handle(&signed("DescribeServices", AUTH_OK, &input));
    assert_eq!(
        (throttled.status, body(&throttled)),
        (
            400,
            json!({"__type": "ThrottlingException", "message": "Rate exceeded"})
        )
    );
    assert_eq!(
        header(&throttled, "x-amzn-errortype"),
        Some("ThrottlingException")
    );
    let unavailable = state.handle(&signed("DescribeServices", AUTH_OK, &input));
    assert_eq!(unavailable.status, 503);
    assert!(serde_json::from_str::<Value>(&unavailable.body).is_err());
    let raw = state.handle(&signed("DescribeServices", AUTH_OK, &input));
    assert_eq!(
        (raw.status, raw.content_type.as_str()),
        (500, "application/xml")
    );
    // Other operations were not affected, and now DescribeServices answers again.
    ok(&mut state, "ListTasks", json!({"cluster": "prod"}));
    assert_eq!(poll(&mut state)["status"], "ACTIVE");
}

#[test]
fn register_refuses_read_only_keys_nulls_and_bad_tags() {
    let (mut state, _, _) = setup();
    let full: Value =
        serde_json::from_str(include_str!("../../fixtures/taskdef-full.json")).unwrap();
    let described = full["taskDefinition"].clone();
    assert_eq!(
        fails(&mut state, "RegisterTaskDefinition", described.clone(), 400),
        "ClientException"
    );
    let mut stripped = described.as_object().unwrap().clone();
    for key in crate::ops::READ_ONLY_KEYS {
        stripped.remove(key);
    }
    let mut with_null = stripped.clone();
    with_null["containerDefinitions"][1]["user"] = Value::Null;
    assert_eq!(
        fails(
            &mut state,
            "RegisterTaskDefinition",
            Value::Object(with_null),
            400
        ),
        "ClientException"
    );
    let mut bad_tags = stripped.clone();
    bad_tags.insert("tags".into(), json!({"team": "a"}));
    assert_eq!(
        fails(
            &mut state,
            "RegisterTaskDefinition",
            Value::Object(bad_tags),
            400
        ),
        "ClientException"
    );

    let mut good = stripped.clone();
    good.insert("tags".into(), full["tags"].clone());
    let reply = ok(&mut state, "RegisterTaskDefinition", Value::Object(good));
    let td = &reply["taskDefinition"];
    assert_eq!(td["revision"], 3);
    assert_eq!(
        td["taskDefinitionArn"],
        "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3"
    );
    assert_eq!(td["status"], "ACTIVE");
    assert_eq!(td["futureField"], json!({"x": 1}));
    assert_eq!(td["pidMode"], "task");
    assert!(td["registeredAt"].is_f64());
    assert!(td.get("deregisteredAt").is_none() && td.get("tags").is_none());
    assert_eq!(reply["tags"], full["tags"]);
    for key in ["requiresAttributes", "compatibilities", "registeredBy"] {
        assert!(td.get(key).is_some(), "{key}");
    }
}

#[test]
fn task_definitions_describe_list_and_deregister_like_ecs() {
    let (mut state, v1, _) = setup();
    let described = ok(
        &mut state,
        "DescribeTaskDefinition",
        json!({"taskDefinition": "web", "include": ["TAGS"]}),
    );
    assert_eq!(described["taskDefinition"]["revision"], 2);
    assert_eq!(described["tags"], json!([]));
    let by_arn = ok(
        &mut state,
        "DescribeTaskDefinition",
        json!({"taskDefinition": v1, "include": ["TAGS"]}),
    );
    assert_eq!(by_arn["tags"], json!([{"key": "team", "value": "a"}]));
    assert!(ok(
        &mut state,
        "DescribeTaskDefinition",
        json!({"taskDefinition": "web:1"})
    )
    .get("tags")
    .is_none());
    assert_eq!(
        fails(
            &mut state,
            "DescribeTaskDefinition",
            json!({"taskDefinition": "web:9"}),
            400
        ),
        "ClientException"
    );

    state.seed_task_definition(web("x:1"), vec![]); // web:3
    let mut other = web("x:1");
    other["family"] = json!("web-worker");
    state.seed_task_definition(other, vec![]);
    let page1 = ok(
        &mut state,
        "ListTaskDefinitions",
        json!({"familyPrefix": "web", "sort": "DESC", "maxResults": 3}),
    );
    let arns: Vec<&str> = page1["taskDefinitionArns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        arns.iter()
            .map(|a| a.rsplit('/').next().unwrap())
            .collect::<Vec<_>>(),
        ["web-worker:1", "web:3", "web:2"]
    );
    let token = page1["nextToken"].as_str().unwrap();
    let page2 = ok(
        &mut state,
        "ListTaskDefinitions",
        json!({"familyPrefix": "web", "sort": "DESC", "maxResults": 3, "nextToken": token}),
    );
    assert_eq!(page2["taskDefinitionArns"].as_array().unwrap().len(), 1);
    assert!(page2.get("nextToken").is_none());

    assert_eq!(
        fails(
            &mut state,
            "DeregisterTaskDefinition",
            json!({"taskDefinition": "web"}),
            400
        ),
        "ClientException"
    );
    let gone = ok(
        &mut state,
        "DeregisterTaskDefinition",
        json!({"taskDefinition": "web:2"}),
    );
    assert_eq!(gone["taskDefinition"]["status"], "INACTIVE");
    assert!(gone["taskDefinition"]["deregisteredAt"].is_f64());
    assert_eq!(state.active_revisions("web"), [1, 3]);
    let inactive = ok(
        &mut state,
        "ListTaskDefinitions",
        json!({"familyPrefix": "web", "status": "INACTIVE"}),
    );
    assert_eq!(inactive["taskDefinitionArns"].as_array().unwrap().len(), 1);
    assert_eq!(
        fails(
            &mut state,
            "UpdateService",
            json!({"cluster": "prod", "service": "web", "taskDefinition": "web:2"}),
            400
        ),
        "ClientException"
    );
}

#[test]
fn describe_services_limits_missing_services_and_clusters() {
    let (mut state, _, _) = setup();
    let eleven: Vec<String> = (0..11).map(|i| format!("s{i}")).collect();
    assert_eq!(
        fails(
            &mut state,
            "DescribeServices",
            json!({"cluster": "prod", "services": eleven}),
            400
        ),
        "InvalidParameterException"
    );
    assert_eq!(
        fails(
            &mut state,
            "DescribeServices",
            json!({"cluster": "nope", "services": ["web"]}),
            400
        ),
        "ClusterNotFoundException"
    );
    let reply = ok(
        &mut state,
        "DescribeServices",
        json!({"cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/prod", "services": ["missing", "arn:aws:ecs:us-east-1:123456789012:service/prod/web"]}),
    );
    assert_eq!(
        reply["failures"],
        json!([{"arn": "arn:aws:ecs:us-east-1:123456789012:service/prod/missing", "reason": "MISSING"}])
    );
    let web = &reply["services"][0];
    assert_eq!(
        web["serviceArn"],
        "arn:aws:ecs:us-east-1:123456789012:service/prod/web"
    );
    assert_eq!(
        (web["desiredCount"].as_u64(), web["runningCount"].as_u64()),
        (Some(2), Some(2))
    );
    let events = web["events"].as_array().unwrap();
    assert_eq!(
        events[0]["message"],
        "(service web) has reached a steady state."
    );
    assert!(events
        .iter()
        .all(|e| e["id"].is_string() && e["createdAt"].is_f64()));

    state.deactivate_service("prod", "web");
    assert_eq!(poll(&mut state)["status"], "INACTIVE");
    assert_eq!(
        fails(
            &mut state,
            "UpdateService",
            json!({"cluster": "prod", "service": "web", "forceNewDeployment": true}),
            400
        ),
        "ServiceNotActiveException"
    );
}

#[test]
fn complete_rollout_moves_tasks_over_and_reaches_steady_state() {
    let (mut state, _, v2) = setup();
    let updated = update(&mut state, &v2);
    assert_eq!(
        deployment_summary(&updated),
        [
            (s("PRIMARY"), s("web:2"), Some(s("IN_PROGRESS")), 0),
            (s("ACTIVE"), s("web:1"), Some(s("COMPLETED")), 2)
        ]
    );
    assert_eq!(updated["taskDefinition"], v2);
    let id = updated["deployments"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(id.starts_with("ecs-svc/"));

    assert_halfway(&poll(&mut state));
    let second = poll(&mut state);
    assert_eq!(
        deployment_summary(&second),
        [(s("PRIMARY"), s("web:2"), Some(s("COMPLETED")), 2)]
    );
    let messages: Vec<&str> = second["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages[0], "(service web) has reached a steady state.");
    assert_eq!(
        messages[1],
        format!("(service web) (deployment {id}) deployment completed.")
    );
    assert!(messages[2].starts_with("(service web) has stopped 1 running tasks: (task "));
    assert!(messages[3].starts_with("(service web) has started 1 tasks: (task "));

    let listed = ok(
        &mut state,
        "ListTasks",
        json!({"cluster": "prod", "serviceName": "web", "startedBy": id}),
    );
    let arns = listed["taskArns"].clone();
    assert_eq!(arns.as_array().unwrap().len(), 2);
    let tasks = ok(
        &mut state,
        "DescribeTasks",
        json!({"cluster": "prod", "tasks": arns}),
    );
    assert!(tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["lastStatus"] == "RUNNING"
            && t["group"] == "service:web"
            && t["taskDefinitionArn"] == v2.as_str()));
    // Settled: more polls change nothing.
    assert_eq!(poll(&mut state)["events"], second["events"]);
}

#[test]
fn complete_without_rollout_state_and_slow_drain() {
    let (mut state, v1, v2) = setup();
    state.set_rollouts(
        "prod",
        "web",
        vec![
            Rollout::CompleteWithoutRolloutState { polls: 1 },
            Rollout::SlowDrain {
                polls: 1,
                drain_polls: 2,
            },
        ],
    );
    let updated = update(&mut state, &v2);
    assert!(updated["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d.get("rolloutState").is_none()));
    assert_eq!(
        deployment_summary(&poll(&mut state)),
        [(s("PRIMARY"), s("web:2"), None, 2)]
    );

    update(&mut state, &v1);
    let summaries: Vec<_> = (0..3)
        .map(|_| deployment_summary(&poll(&mut state)))
        .collect();
    assert_eq!(
        summaries[0],
        [
            (s("PRIMARY"), s("web:1"), Some(s("IN_PROGRESS")), 2),
            (s("ACTIVE"), s("web:2"), None, 2)
        ]
    );
    assert_eq!(
        summaries[1],
        [
            (s("PRIMARY"), s("web:1"), Some(s("IN_PROGRESS")), 2),
            (s("ACTIVE"), s("web:2"), None, 1)
        ]
    );
    assert_eq!(
        summaries[2],
        [(s("PRIMARY"), s("web:1"), Some(s("COMPLETED")), 2)]
    );
}

#[test]
fn failing_tasks_trip_the_circuit_breaker() {
    let (mut state, _, v2) = setup();
    let reason = "CannotPullContainerError: repo:v2 not found";
    state.set_rollouts(
        "prod",
        "web",
        vec![Rollout::TasksFail {
            polls: 2,
            tasks_per_poll: 2,
            reason: reason.into(),
        }],
    );
    let id = update(&mut state, &v2)["deployments"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let first = poll(&mut state);
    assert_eq!(first["deployments"][0]["failedTasks"], 2);
    assert_eq!(first["deployments"][0]["rolloutState"], "IN_PROGRESS");
    let second = poll(&mut state);
    let primary = &second["deployments"][0];
    assert_eq!(
        (
            primary["status"].as_str(),
            primary["rolloutState"].as_str(),
            primary["failedTasks"].as_u64()
        ),
        (Some("PRIMARY"), Some("FAILED"), Some(4))
    );
    assert_eq!(
        primary["rolloutStateReason"],
        "ECS deployment circuit breaker: tasks failed to start."
    );
    assert_eq!(
        second["events"][0]["message"],
        format!("(service web) (deployment {id}) deployment failed: tasks failed to start.")
    );
    assert_eq!(second["deployments"][1]["runningCount"], 2);

    let stopped = ok(
        &mut state,
        "ListTasks",
        json!({"cluster": "prod", "startedBy": id, "desiredStatus": "STOPPED", "maxResults": 3}),
    );
    assert!(stopped["nextToken"].is_string());
    let tasks = ok(
        &mut state,
        "DescribeTasks",
        json!({"cluster": "prod", "tasks": stopped["taskArns"]}),
    );
    let task = &tasks["tasks"][0];
    assert_eq!(
        (task["lastStatus"].as_str(), task["desiredStatus"].as_str()),
        (Some("STOPPED"), Some("STOPPED"))
    );
    assert_eq!(
        (task["stoppedReason"].as_str(), task["stopCode"].as_str()),
        (Some(reason), Some("EssentialContainerExited"))
    );
    assert_eq!(task["containers"][0]["exitCode"], 1);
    assert_eq!(task["containers"][0]["reason"], reason);
    assert!(task["containers"][1].get("reason").is_none());
    // FAILED is final.
    assert_eq!(
        deployment_summary(&poll(&mut state)),
        deployment_summary(&second)
    );
}

#[test]
fn circuit_breaker_rollback_goes_back_to_the_previous_revision() {
    let (mut state, v1, v2) = setup();
    state.set_rollouts(
        "prod",
        "web",
        vec![Rollout::CircuitBreakerRollback { polls: 1 }],
    );
    let old_id = state.service_json("prod", "web")["deployments"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    update(&mut state, &v2);
    let rolled = poll(&mut state);
    assert_eq!(
        deployment_summary(&rolled),
        [
            (s("PRIMARY"), s("web:1"), Some(s("IN_PROGRESS")), 0),
            (s("ACTIVE"), s("web:2"), Some(s("FAILED")), 0),
            (s("ACTIVE"), s("web:1"), Some(s("COMPLETED")), 2)
        ]
    );
    assert_eq!(rolled["taskDefinition"], v1);
    assert_eq!(
        rolled["events"][0]["message"],
        format!("(service web) rolling back to deployment {old_id}.")
    );
    let done = poll(&mut state);
    assert_eq!(
        deployment_summary(&done),
        [(s("PRIMARY"), s("web:1"), Some(s("COMPLETED")), 2)]
    );
}

#[test]
fn stuck_never_moves_and_zero_desired_completes_at_once() {
    let (mut state, v1, v2) = setup();
    state.set_rollouts("prod", "web", vec![Rollout::Stuck]);
    update(&mut state, &v2);
    for _ in 0..5 {
        let svc = poll(&mut state);
        assert_eq!(svc["deployments"][0]["pendingCount"], 2);
        assert_eq!(svc["deployments"][0]["rolloutState"], "IN_PROGRESS");
    }
    let input =
        json!({"cluster": "prod", "service": "web", "taskDefinition": v1, "desiredCount": 0});
    let updated = ok(&mut state, "UpdateService", input)["service"].clone();
    assert_eq!(updated["deployments"].as_array().unwrap().len(), 3);
    let svc = poll(&mut state);
    assert_eq!(
        deployment_summary(&svc),
        [(s("PRIMARY"), s("web:1"), Some(s("COMPLETED")), 0)]
    );
    assert_eq!(svc["runningCount"], 0);
}

/// The wall clock frozen, a timed `rollout` set and web:2 deployed; the service's index and
/// the wall-clock reading at UpdateService.
fn timed(state: &mut State, v2: &str, rollout: Rollout) -> (usize, Duration) {
    state.world.advance_wall(Duration::ZERO);
    state.set_rollouts("prod", "web", vec![rollout]);
    let started = state.world.wall_now();
    update(state, v2);
    (state.expect_service("prod", "web"), started)
}

#[test]
fn complete_after_follows_the_wall_clock_not_the_polls() {
    let (mut state, _, v2) = setup();
    let after = Duration::from_secs(10);
    let (i, started) = timed(&mut state, &v2, Rollout::CompleteAfter { after });
    assert_eq!(state.services[i].rollout_due, Some(started + after));
    // However often it is polled, nothing moves while the clock stands still.
    for _ in 0..5 {
        assert_eq!(
            deployment_summary(&poll(&mut state)),
            [
                (s("PRIMARY"), s("web:2"), Some(s("IN_PROGRESS")), 0),
                (s("ACTIVE"), s("web:1"), Some(s("COMPLETED")), 2)
            ]
        );
    }
    state.world.advance_wall(after / 2);
    assert_halfway(&poll(&mut state));
    state.world.advance_wall(after / 2);
    let done = poll(&mut state);
    assert_eq!(
        deployment_summary(&done),
        [(s("PRIMARY"), s("web:2"), Some(s("COMPLETED")), 2)]
    );
    assert_eq!(
        done["events"][0]["message"],
        "(service web) has reached a steady state."
    );
    let record = &state.service_deployments_json("prod", "web")[0];
    assert_eq!(record["status"], "SUCCESSFUL");
}

#[test]
fn fail_after_holds_until_its_time_then_fails_with_one_stopped_task() {
    let (mut state, _, v2) = setup();
    let reason = "CannotPullContainerError: repo:v2 not found";
    let after = Duration::from_secs(3);
    let rollout = Rollout::FailAfter {
        after,
        reason: reason.into(),
    };
    let (i, started) = timed(&mut state, &v2, rollout);
    assert_eq!(state.services[i].rollout_due, Some(started + after));
    state.world.advance_wall(after - Duration::from_millis(1));
    for _ in 0..3 {
        let held = poll(&mut state);
        let primary = &held["deployments"][0];
        assert_eq!(
            (
                primary["rolloutState"].as_str(),
                primary["pendingCount"].as_u64(),
                primary["failedTasks"].as_u64()
            ),
            (Some("IN_PROGRESS"), Some(2), Some(0))
        );
    }
    state.world.advance_wall(Duration::from_millis(1));
    let failed = poll(&mut state);
    let primary = &failed["deployments"][0];
    assert_eq!(
        (
            primary["rolloutState"].as_str(),
            primary["rolloutStateReason"].as_str(),
            primary["failedTasks"].as_u64()
        ),
        (
            Some("FAILED"),
            Some("ECS deployment circuit breaker: tasks failed to start."),
            Some(1)
        )
    );
    let id = primary["id"].as_str().unwrap();
    let stopped = ok(
        &mut state,
        "ListTasks",
        json!({"cluster": "prod", "startedBy": id, "desiredStatus": "STOPPED"}),
    );
    let tasks = ok(
        &mut state,
        "DescribeTasks",
        json!({"cluster": "prod", "tasks": stopped["taskArns"]}),
    );
    assert_eq!(tasks["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(tasks["tasks"][0]["stoppedReason"], reason);
    let record = &state.service_deployments_json("prod", "web")[0];
    assert_eq!(record["status"], "STOPPED");
    // FAILED is final.
    assert_eq!(
        deployment_summary(&poll(&mut state)),
        deployment_summary(&failed)
    );
}

#[test]
fn same_task_definition_without_force_is_not_a_deployment() {
    let (mut state, v1, _) = setup();
    let updated = update(&mut state, &v1);
    assert_eq!(updated["deployments"].as_array().unwrap().len(), 1);
    let forced = ok(
        &mut state,
        "UpdateService",
        json!({"cluster": "prod", "service": "web", "forceNewDeployment": true, "deploymentConfiguration": {"maximumPercent": 150}}),
    );
    assert_eq!(
        forced["service"]["deployments"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        forced["service"]["deploymentConfiguration"]["maximumPercent"],
        150
    );
    assert_eq!(
        forced["service"]["deploymentConfiguration"]["minimumHealthyPercent"],
        100
    );
}

#[test]
fn run_task_provisions_runs_then_stops_cleanly() {
    let (mut state, _, v2) = setup();
    let run = ok(
        &mut state,
        "RunTask",
        json!({"cluster": "prod", "taskDefinition": v2, "startedBy": "ecs-deploy"}),
    );
    let task = &run["tasks"][0];
    assert_eq!(
        (task["lastStatus"].as_str(), task["group"].as_str()),
        (Some("PROVISIONING"), Some("family:web"))
    );
    let arn = task["taskArn"].clone();
    let statuses: Vec<Value> = (0..3)
        .map(|_| {
            ok(
                &mut state,
                "DescribeTasks",
                json!({"cluster": "prod", "tasks": [arn, "nope"]}),
            )
        })
        .collect();
    assert_eq!(statuses[0]["tasks"][0]["lastStatus"], "RUNNING");
    assert_eq!(statuses[0]["failures"][0]["reason"], "MISSING");
    let stopped = &statuses[1]["tasks"][0];
    assert_eq!(stopped["lastStatus"], "STOPPED");
    assert!(stopped["containers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["exitCode"] == 0));
    assert_eq!(statuses[2]["tasks"][0], statuses[1]["tasks"][0]);
    let too_many: Vec<String> = (0..101).map(|i| i.to_string()).collect();
    assert_eq!(
        fails(
            &mut state,
            "DescribeTasks",
            json!({"cluster": "prod", "tasks": too_many}),
            400
        ),
        "InvalidParameterException"
    );
}

/// RunTask on `prod` that must succeed; the ARNs of its tasks.
fn run_task(state: &mut State, input: Value) -> Vec<Value> {
    let mut input = input;
    input["cluster"] = json!("prod");
    let reply = ok(state, "RunTask", input);
    assert_eq!(reply["failures"], json!([]));
    reply["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["taskArn"].clone())
        .collect()
}

/// One DescribeTasks call on `prod` naming these tasks; the tasks.
fn describe(state: &mut State, arns: &[Value]) -> Vec<Value> {
    let reply = ok(
        state,
        "DescribeTasks",
        json!({"cluster": "prod", "tasks": arns}),
    );
    reply["tasks"].as_array().unwrap().clone()
}

/// Each container's (name, lastStatus, exitCode, reason).
fn container_summary(task: &Value) -> Vec<(String, String, Option<i64>, Option<String>)> {
    task["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["lastStatus"].as_str().unwrap().to_string(),
                c["exitCode"].as_i64(),
                c["reason"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// A Fargate-style task definition `job` (networkMode awsvpc); returns its ARN.
fn seed_awsvpc_job(state: &mut State) -> String {
    state.seed_task_definition(
        json!({
            "family": "job",
            "networkMode": "awsvpc",
            "cpu": "256",
            "memory": "512",
            "containerDefinitions": [{"name": "main", "image": "acct/job:v1"}],
            "requiresCompatibilities": ["FARGATE"]
        }),
        vec![],
    )
}

#[test]
fn run_task_succeed_reports_the_essential_container_exit() {
    let (mut state, _, v2) = setup();
    state.set_task_runs(vec![TaskRun::Succeed]);
    let arns = run_task(&mut state, json!({"taskDefinition": v2}));
    let running = &describe(&mut state, &arns)[0];
    assert_eq!(running["lastStatus"], "RUNNING");
    assert!(running["startedAt"].is_f64() && running.get("stopCode").is_none());
    let stopped = &describe(&mut state, &arns)[0];
    assert_eq!(
        (
            stopped["lastStatus"].as_str(),
            stopped["desiredStatus"].as_str(),
            stopped["stopCode"].as_str(),
            stopped["stoppedReason"].as_str()
        ),
        (
            Some("STOPPED"),
            Some("STOPPED"),
            Some("EssentialContainerExited"),
            Some("Essential container in task exited")
        )
    );
    assert_eq!(
        container_summary(stopped),
        [
            (s("app"), s("STOPPED"), Some(0), None),
            (s("sidecar"), s("STOPPED"), Some(0), None)
        ]
    );
    assert!(stopped["stoppedAt"].as_f64() > stopped["startedAt"].as_f64());
}

#[test]
fn run_task_exit_fails_only_the_named_container() {
    let (mut state, _, v2) = setup();
    state.set_task_runs(vec![TaskRun::Exit {
        container: "app".into(),
        exit_code: 137,
        reason: "OutOfMemoryError: Container killed due to memory usage".into(),
    }]);
    let arns = run_task(&mut state, json!({"taskDefinition": v2}));
    assert_eq!(describe(&mut state, &arns)[0]["lastStatus"], "RUNNING");
    let stopped = &describe(&mut state, &arns)[0];
    assert_eq!(stopped["stopCode"], "EssentialContainerExited");
    assert_eq!(
        stopped["stoppedReason"],
        "Essential container in task exited"
    );
    assert_eq!(
        container_summary(stopped),
        [
            (
                s("app"),
                s("STOPPED"),
                Some(137),
                Some(s("OutOfMemoryError: Container killed due to memory usage"))
            ),
            (s("sidecar"), s("STOPPED"), Some(0), None)
        ]
    );
}

#[test]
fn run_task_exit_naming_an_unknown_container_is_refused_and_not_consumed() {
    let (mut state, _, v2) = setup();
    state.set_task_runs(vec![TaskRun::Exit {
        container: "nope".into(),
        exit_code: 1,
        reason: "x".into(),
    }]);
    let input = json!({"cluster": "prod", "taskDefinition": v2});
    assert_eq!(
        fails(&mut state, "RunTask", input.clone(), 400),
        "FakeEcsScriptError"
    );
    assert_eq!(
        fails(&mut state, "RunTask", input, 400),
        "FakeEcsScriptError"
    );
    assert!(state.world.tasks.iter().all(|t| t.script.is_none()));
}

#[test]
fn run_task_fail_to_start_never_runs() {
    let (mut state, _, v2) = setup();
    let reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s): acct/repo:v2: not found";
    state.set_task_runs(vec![TaskRun::FailToStart {
        reason: reason.into(),
    }]);
    let arns = run_task(&mut state, json!({"taskDefinition": v2}));
    let pending = &describe(&mut state, &arns)[0];
    assert_eq!(
        (
            pending["lastStatus"].as_str(),
            pending["desiredStatus"].as_str()
        ),
        (Some("PENDING"), Some("RUNNING"))
    );
    assert!(pending.get("startedAt").is_none());
    let stopped = &describe(&mut state, &arns)[0];
    assert_eq!(
        (
            stopped["lastStatus"].as_str(),
            stopped["stopCode"].as_str(),
            stopped["stoppedReason"].as_str()
        ),
        (Some("STOPPED"), Some("TaskFailedToStart"), Some(reason))
    );
    assert!(stopped.get("startedAt").is_none() && stopped.get("pullStartedAt").is_none());
    assert_eq!(
        container_summary(stopped),
        [
            (s("app"), s("STOPPED"), None, Some(s(reason))),
            (s("sidecar"), s("STOPPED"), None, Some(s(reason)))
        ]
    );
    assert!(stopped["containers"][0].get("runtimeId").is_none());
    // Stopped is final.
    assert_eq!(&describe(&mut state, &arns)[0], stopped);
}

#[test]
fn run_task_never_stops_stays_running() {
    let (mut state, _, v2) = setup();
    state.set_task_runs(vec![TaskRun::NeverStops]);
    let arns = run_task(
        &mut state,
        json!({"taskDefinition": v2, "startedBy": "one-off"}),
    );
    for _ in 0..6 {
        let task = &describe(&mut state, &arns)[0];
        assert_eq!(
            (task["lastStatus"].as_str(), task["desiredStatus"].as_str()),
            (Some("RUNNING"), Some("RUNNING"))
        );
        assert!(task.get("stoppedReason").is_none());
    }
    let listed = ok(
        &mut state,
        "ListTasks",
        json!({"cluster": "prod", "family": "web", "startedBy": "one-off"}),
    );
    assert_eq!(listed["taskArns"], json!(arns));
}

#[test]
fn task_runs_are_taken_one_per_run_task_call_and_shared_by_its_tasks() {
    let (mut state, _, v2) = setup();
    state.set_task_runs(vec![
        TaskRun::FailToStart {
            reason: "ResourceInitializationError: unable to pull secrets".into(),
        },
        TaskRun::NeverStops,
    ]);
    // A refused RunTask takes nothing.
    fails(
        &mut state,
        "RunTask",
        json!({"cluster": "prod", "taskDefinition": v2, "count": 11}),
        400,
    );
    let failing = run_task(&mut state, json!({"taskDefinition": v2, "count": 3}));
    let forever = run_task(&mut state, json!({"taskDefinition": v2}));
    let default = run_task(&mut state, json!({"taskDefinition": v2}));
    assert_eq!(failing.len(), 3);
    let all: Vec<Value> = [failing, forever, default].concat();
    describe(&mut state, &all);
    let stops: Vec<Option<String>> = describe(&mut state, &all)
        .iter()
        .map(|t| t["stopCode"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        stops,
        [
            Some(s("TaskFailedToStart")),
            Some(s("TaskFailedToStart")),
            Some(s("TaskFailedToStart")),
            None,
            Some(s("EssentialContainerExited"))
        ]
    );
    // Naming a task twice in one call advances it once; each task has its own count.
    let later = run_task(&mut state, json!({"taskDefinition": v2}));
    let twice = describe(&mut state, &[later[0].clone(), later[0].clone()]);
    assert!(twice.iter().all(|t| t["lastStatus"] == "RUNNING"));
    assert_eq!(describe(&mut state, &later)[0]["lastStatus"], "STOPPED");
}

#[test]
fn run_task_echoes_launch_type_platform_version_started_by_and_group() {
    let (mut state, _, _) = setup();
    let job = seed_awsvpc_job(&mut state);
    let reply = ok(
        &mut state,
        "RunTask",
        json!({
            "cluster": "prod",
            "taskDefinition": "job",
            "count": 2,
            "launchType": "FARGATE",
            "platformVersion": "1.4.0",
            "startedBy": "ecs-deploy",
            "group": "migrations",
            "networkConfiguration": {"awsvpcConfiguration": {
                "subnets": ["subnet-0a1b", "subnet-2c3d"],
                "securityGroups": ["sg-1"],
                "assignPublicIp": "DISABLED"
            }}
        }),
    );
    let tasks = reply["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert_ne!(tasks[0]["taskArn"], tasks[1]["taskArn"]);
    for task in tasks {
        assert_eq!(task["lastStatus"], "PROVISIONING");
        assert_eq!(task["taskDefinitionArn"], job.as_str());
        assert_eq!(
            (
                task["launchType"].as_str(),
                task["platformVersion"].as_str(),
                task["startedBy"].as_str(),
                task["group"].as_str()
            ),
            (
                Some("FARGATE"),
                Some("1.4.0"),
                Some("ecs-deploy"),
                Some("migrations")
            )
        );
        assert!(task.get("containerInstanceArn").is_none());
        let eni = &task["attachments"][0];
        assert_eq!(
            (eni["type"].as_str(), eni["status"].as_str()),
            (Some("ElasticNetworkInterface"), Some("PRECREATED"))
        );
        assert_eq!(
            eni["details"][0],
            json!({"name": "subnetId", "value": "subnet-0a1b"})
        );
    }
    let listed = ok(
        &mut state,
        "ListTasks",
        json!({"cluster": "prod", "startedBy": "ecs-deploy", "launchType": "FARGATE"}),
    );
    assert_eq!(listed["taskArns"].as_array().unwrap().len(), 2);
    let arns = vec![tasks[0]["taskArn"].clone()];
    assert_eq!(
        describe(&mut state, &arns)[0]["attachments"][0]["status"],
        "ATTACHED"
    );
    let stopped = &describe(&mut state, &arns)[0];
    assert_eq!(stopped["attachments"][0]["status"], "DELETED");
    assert_eq!(stopped["platformVersion"], "1.4.0");

    // FARGATE without a version runs LATEST; EC2 (the default) has none and a family group.
    let latest = ok(
        &mut state,
        "RunTask",
        json!({"cluster": "prod", "taskDefinition": job, "launchType": "FARGATE",
               "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}}),
    );
    assert_eq!(latest["tasks"][0]["platformVersion"], "LATEST");
    let ec2 = ok(
        &mut state,
        "RunTask",
        json!({"cluster": "prod", "taskDefinition": "web:1"}),
    );
    let task = &ec2["tasks"][0];
    assert_eq!(
        (task["launchType"].as_str(), task["group"].as_str()),
        (Some("EC2"), Some("family:web"))
    );
    assert!(task.get("platformVersion").is_none() && task.get("startedBy").is_none());
    assert!(task["containerInstanceArn"].is_string());
    assert_eq!(task["attachments"], json!([]));
}

#[test]
fn run_task_validates_its_input_like_ecs() {
    let (mut state, _, v2) = setup();
    let job = seed_awsvpc_job(&mut state);
    let net = json!({"awsvpcConfiguration": {"subnets": ["subnet-1"]}});
    let cases = [
        (
            json!({"cluster": "nope", "taskDefinition": v2}),
            "ClusterNotFoundException",
        ),
        (
            json!({"cluster": "prod", "taskDefinition": "web:9"}),
            "ClientException",
        ),
        (
            json!({"cluster": "prod", "taskDefinition": "other"}),
            "ClientException",
        ),
        (json!({"cluster": "prod"}), "InvalidParameterException"),
        (
            json!({"cluster": "prod", "taskDefinition": v2, "count": 0}),
            "InvalidParameterException",
        ),
        (
            json!({"cluster": "prod", "taskDefinition": v2, "count": 11}),
            "InvalidParameterException",
        ),
        (
            json!({"cluster": "prod", "taskDefinition": v2, "count": "2"}),
            "SerializationException",
        ),
        (
            json!({"cluster": "prod", "taskDefinition": v2, "launchType": "MOON"}),
            "InvalidParameterException",
        ),
        (
            json!({"cluster": "prod", "taskDefinition": v2, "platformVersion": "LATEST"}),
            "InvalidParameterException",
        ),
        (
            json!({"cluster": "prod", "taskDefinition": v2, "launchType": "EC2", "platformVersion": "1.4.0"}),
            "InvalidParameterException",
        ),
        (
            json!({"cluster": "prod", "taskDefinition": job, "launchType": "FARGATE"}),
            "InvalidParameterException",
        ),
        (
            json!({"cluster": "prod", "taskDefinition": job, "networkConfiguration": "subnet-1"}),
            "InvalidParameterException",
        ),
        (
            json!({"cluster": "prod", "taskDefinition": job, "networkConfiguration": {}}),
            "InvalidParameterException",
        ),
        (
            json!({"cluster": "prod", "taskDefinition": job, "networkConfiguration": {"awsvpcConfiguration": []}}),
            "InvalidParameterException",
        ),
        (
            json!({"cluster": "prod", "taskDefinition": job, "networkConfiguration": {"awsvpcConfiguration": {}}}),
            "InvalidParameterException",
        ),
        (
            json!({"cluster": "prod", "taskDefinition": job, "networkConfiguration": {"awsvpcConfiguration": {"subnets": []}}}),
            "InvalidParameterException",
        ),
        (
            json!({"cluster": "prod", "taskDefinition": job, "networkConfiguration": {"awsvpcConfiguration": {"subnets": "subnet-1"}}}),
            "InvalidParameterException",
        ),
        (
            json!({"cluster": "prod", "taskDefinition": job, "networkConfiguration": {"awsvpcConfiguration": {"subnets": [1]}}}),
            "InvalidParameterException",
        ),
        (
            json!({"cluster": "prod", "taskDefinition": job, "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "YES"}}}),
            "InvalidParameterException",
        ),
        (
            json!({"cluster": "prod", "taskDefinition": job, "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": "sg-1"}}}),
            "InvalidParameterException",
        ),
        // A shape error is refused for a non-awsvpc task definition too.
        (
            json!({"cluster": "prod", "taskDefinition": v2, "networkConfiguration": {"awsvpcConfiguration": {"subnets": []}}}),
            "InvalidParameterException",
        ),
    ];
    for (input, code) in cases {
        assert_eq!(
            fails(&mut state, "RunTask", input.clone(), 400),
            code,
            "{input}"
        );
    }
    let reply = state.handle(&signed(
        "RunTask",
        AUTH_OK,
        &json!({"cluster": "prod", "taskDefinition": job}),
    ));
    assert_eq!(
        body(&reply)["message"],
        "Network Configuration must be provided when networkMode 'awsvpc' is specified."
    );
    let reply = state.handle(&signed(
        "RunTask",
        AUTH_OK,
        &json!({"cluster": "prod", "taskDefinition": "web:9"}),
    ));
    assert_eq!(body(&reply)["message"], "TaskDefinition not found.");
    ok(
        &mut state,
        "DeregisterTaskDefinition",
        json!({"taskDefinition": "web:1"}),
    );
    assert_eq!(
        fails(
            &mut state,
            "RunTask",
            json!({"cluster": "prod", "taskDefinition": "web:1"}),
            400
        ),
        "ClientException"
    );
    assert!(state.world.tasks.iter().all(|t| t.script.is_none()));
    // Valid: awsvpc with a network configuration, on EC2 (the default launch type).
    let arns = run_task(
        &mut state,
        json!({"taskDefinition": job, "networkConfiguration": net}),
    );
    assert_eq!(arns.len(), 1);
}

#[test]
fn run_task_scripts_are_deterministic() {
    let run = || {
        let (mut state, _, v2) = setup();
        state.set_task_runs(vec![TaskRun::Exit {
            container: "sidecar".into(),
            exit_code: 2,
            reason: "bad flag".into(),
        }]);
        let arns = run_task(&mut state, json!({"taskDefinition": v2, "count": 2}));
        (describe(&mut state, &arns), describe(&mut state, &arns))
    };
    // Deterministic, ids included.
    assert_eq!(run(), run());
}

#[test]
fn tag_resource_adds_tags_to_a_revision() {
    let (mut state, _, v2) = setup();
    ok(
        &mut state,
        "TagResource",
        json!({"resourceArn": v2, "tags": [{"key": "k", "value": "v"}]}),
    );
    assert_eq!(state.task_definition_tags("web:2"), [(s("k"), s("v"))]);
}

#[test]
fn ids_and_timestamps_are_deterministic() {
    let run = || {
        let (mut state, _, v2) = setup();
        update(&mut state, &v2);
        (poll(&mut state), poll(&mut state))
    };
    assert_eq!(run(), run());
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

// ---- Deployment controllers, strategies and service deployments ----

impl State {
    /// As `FakeEcs::set_rollout`.
    fn set_rollout(&mut self, cluster: &str, service: &str, rollout: Rollout) {
        self.set_rollouts(cluster, service, vec![rollout]);
    }
}

/// The newest service deployment of `prod/web`, as DescribeServiceDeployments renders it.
fn newest(state: &State) -> Value {
    state.service_deployments_json("prod", "web")[0].clone()
}

/// A service deployment's (status, lifecycleStage or "-").
fn status_and_stage(sd: &Value) -> (String, String) {
    (
        sd["status"].as_str().unwrap().to_string(),
        sd["lifecycleStage"].as_str().unwrap_or("-").to_string(),
    )
}

/// One poll of a staged deployment summed up: status, lifecycleStage, the target's production
/// and test weights, the source's production weight, the number of `deployments[]` entries and
/// the tasks the target revision runs.
#[derive(Debug, PartialEq)]
struct Trace {
    status: String,
    stage: String,
    production: f64,
    test: f64,
    source_production: f64,
    deployments: usize,
    target_running: u64,
}

fn trace(state: &mut State) -> Trace {
    let service = poll(state);
    let sd = newest(state);
    let (status, stage) = status_and_stage(&sd);
    let target = &sd["targetServiceRevision"];
    Trace {
        status,
        stage,
        production: target["requestedProductionTrafficWeight"].as_f64().unwrap(),
        test: target["requestedTestTrafficWeight"].as_f64().unwrap(),
        source_production: sd["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"]
            .as_f64()
            .unwrap(),
        deployments: service["deployments"].as_array().unwrap().len(),
        target_running: target["runningTaskCount"].as_u64().unwrap(),
    }
}

fn t(
    status: &str,
    stage: &str,
    production: f64,
    test: f64,
    deployments: usize,
    running: u64,
) -> Trace {
    Trace {
        status: s(status),
        stage: s(stage),
        production,
        test,
        source_production: 100.0 - production,
        deployments,
        target_running: running,
    }
}

/// `prod/web` with this deploymentConfiguration merged in.
fn configured(config: Value) -> (State, String, String) {
    let (mut state, v1, v2) = setup();
    state.set_deployment_configuration("prod", "web", config);
    (state, v1, v2)
}

fn messages(service: &Value) -> Vec<String> {
    service["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn code_deploy_and_external_services_show_task_sets_and_refuse_task_definitions() {
    let (mut state, v1, v2) = setup();
    let ecs = poll(&mut state);
    assert_eq!(ecs["deploymentController"], json!({"type": "ECS"}));
    assert!(ecs.get("taskSets").is_none());
    for (kind, how) in [
        (
            "CODE_DEPLOY",
            "Use AWS CodeDeploy to deploy your application.",
        ),
        ("EXTERNAL", "Use task sets to deploy your application."),
    ] {
        state.set_deployment_controller("prod", "web", kind);
        let service = poll(&mut state);
        assert_eq!(service["deploymentController"], json!({"type": kind}));
        assert_eq!(service["deployments"], json!([]));
        assert_eq!(service["taskDefinition"], v1);
        let task_sets = service["taskSets"].as_array().unwrap();
        assert_eq!(task_sets.len(), 1);
        let set = &task_sets[0];
        let id = set["id"].as_str().unwrap();
        assert!(id.starts_with("ecs-svc/"), "{id}");
        assert_eq!(
            set["taskSetArn"],
            format!("arn:aws:ecs:us-east-1:123456789012:task-set/prod/web/{id}")
        );
        assert_eq!(
            (
                set["status"].as_str(),
                set["taskDefinition"].as_str(),
                set["runningCount"].as_u64(),
                set["computedDesiredCount"].as_u64(),
                set["stabilityStatus"].as_str()
            ),
            (
                Some("PRIMARY"),
                Some(v1.as_str()),
                Some(2),
                Some(2),
                Some("STEADY_STATE")
            )
        );
        for input in [
            json!({"cluster": "prod", "service": "web", "taskDefinition": v2}),
            json!({"cluster": "prod", "service": "web", "forceNewDeployment": true}),
        ] {
            let reply = state.handle(&signed("UpdateService", AUTH_OK, &input));
            assert_eq!(reply.status, 400);
            assert_eq!(body(&reply)["__type"], "InvalidParameterException");
            assert_eq!(
                body(&reply)["message"],
                format!("Unable to update task definition on services with a {kind} deployment controller. {how}")
            );
        }
    }
    // Only the desired count changes.
    ok(
        &mut state,
        "UpdateService",
        json!({"cluster": "prod", "service": "web", "desiredCount": 3}),
    );
    let scaled = poll(&mut state);
    assert_eq!(scaled["taskSets"][0]["runningCount"], 3);
    assert_eq!(scaled["taskDefinition"], v1);
    assert!(state.service_deployments_json("prod", "web").is_empty());
    assert!(scaled.get("currentServiceDeployment").is_none());
}

#[test]
#[should_panic(expected = "unknown deployment controller")]
fn an_unknown_deployment_controller_panics() {
    let (mut state, _, _) = setup();
    state.set_deployment_controller("prod", "web", "CODEDEPLOY");
}

#[test]
fn a_rolling_service_deployment_follows_the_rollout() {
    let (mut state, _, v2) = setup();
    let updated = update(&mut state, &v2);
    let id = updated["deployments"][0]["id"].as_str().unwrap();
    let suffix = id.strip_prefix("ecs-svc/").unwrap();
    let sd = newest(&state);
    let arn = sd["serviceDeploymentArn"].as_str().unwrap();
    assert_eq!(
        arn,
        format!("arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/{suffix}")
    );
    assert_eq!(updated["currentServiceDeployment"], arn);
    assert_eq!(status_and_stage(&sd), (s("PENDING"), s("-")));
    assert_eq!(
        sd["serviceArn"],
        "arn:aws:ecs:us-east-1:123456789012:service/prod/web"
    );
    assert_eq!(
        sd["clusterArn"],
        "arn:aws:ecs:us-east-1:123456789012:cluster/prod"
    );
    assert_eq!(
        sd["sourceServiceRevisions"],
        json!([{"arn": "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/1",
                "requestedTaskCount": 2, "runningTaskCount": 2, "pendingTaskCount": 0}])
    );
    assert_eq!(
        sd["targetServiceRevision"],
        json!({"arn": "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/2",
               "requestedTaskCount": 2, "runningTaskCount": 0, "pendingTaskCount": 0})
    );
    assert_eq!(
        sd["deploymentConfiguration"],
        updated["deploymentConfiguration"]
    );
    assert_eq!(
        sd["deploymentCircuitBreaker"],
        json!({"status": "MONITORING", "failureCount": 0, "threshold": 3})
    );
    assert_eq!(
        sd["alarms"],
        json!({"status": "DISABLED", "alarmNames": [], "triggeredAlarmNames": []})
    );
    assert!(sd.get("startedAt").is_none() && sd.get("finishedAt").is_none());
    assert!(sd["createdAt"].is_f64() && sd.get("rollback").is_none());

    poll(&mut state);
    let rolling = newest(&state);
    assert_eq!(
        status_and_stage(&rolling),
        (s("IN_PROGRESS"), s("SCALE_UP"))
    );
    assert!(rolling["startedAt"].as_f64() > rolling["createdAt"].as_f64());
    assert_eq!(rolling["targetServiceRevision"]["runningTaskCount"], 1);
    assert_eq!(rolling["sourceServiceRevisions"][0]["runningTaskCount"], 1);
    let done = poll(&mut state);
    assert_eq!(done["deployments"][0]["rolloutState"], "COMPLETED");
    let finished = newest(&state);
    assert_eq!(
        status_and_stage(&finished),
        (s("SUCCESSFUL"), s("CLEAN_UP"))
    );
    assert_eq!(finished["finishedAt"], finished["updatedAt"]);
    assert_eq!(
        finished["deploymentCircuitBreaker"]["status"],
        "MONITORING_COMPLETE"
    );
    assert_eq!(finished["targetServiceRevision"]["runningTaskCount"], 2);
    assert_eq!(finished["sourceServiceRevisions"][0]["runningTaskCount"], 0);
    // Settled: further polls change nothing.
    poll(&mut state);
    assert_eq!(newest(&state), finished);
}

#[test]
fn rolling_failures_stop_or_roll_back_the_service_deployment() {
    let (mut state, _, v2) = setup();
    state.set_rollout(
        "prod",
        "web",
        Rollout::TasksFail {
            polls: 2,
            tasks_per_poll: 2,
            reason: "CannotPullContainerError: not found".into(),
        },
    );
    update(&mut state, &v2);
    poll(&mut state);
    let failing = newest(&state);
    assert_eq!(
        status_and_stage(&failing),
        (s("IN_PROGRESS"), s("SCALE_UP"))
    );
    assert_eq!(failing["deploymentCircuitBreaker"]["failureCount"], 2);
    poll(&mut state);
    let stopped = newest(&state);
    assert_eq!(stopped["status"], "STOPPED");
    assert_eq!(
        stopped["statusReason"],
        "ECS deployment circuit breaker: tasks failed to start."
    );
    assert!(stopped["stoppedAt"].is_f64() && stopped.get("finishedAt").is_none());
    assert_eq!(
        stopped["deploymentCircuitBreaker"],
        json!({"status": "TRIGGERED", "failureCount": 4, "threshold": 3})
    );

    let (mut state, v1, v2) = setup();
    state.set_rollout("prod", "web", Rollout::CircuitBreakerRollback { polls: 1 });
    update(&mut state, &v2);
    let rolled = poll(&mut state);
    assert_eq!(rolled["taskDefinition"], v1);
    let sd = newest(&state);
    assert_eq!(sd["status"], "ROLLBACK_IN_PROGRESS");
    assert_eq!(
        sd["rollback"]["reason"],
        "ECS deployment circuit breaker: tasks failed to start."
    );
    assert_eq!(
        sd["rollback"]["serviceRevisionArn"],
        sd["sourceServiceRevisions"][0]["arn"]
    );
    assert_eq!(
        sd["deploymentCircuitBreaker"],
        json!({"status": "TRIGGERED", "failureCount": 1, "threshold": 3})
    );
    poll(&mut state);
    let back = newest(&state);
    assert_eq!(
        status_and_stage(&back),
        (s("ROLLBACK_SUCCESSFUL"), s("CLEAN_UP"))
    );
    assert!(back["finishedAt"].is_f64());
    // The source revision runs again, in the rollback deployment.
    assert_eq!(back["sourceServiceRevisions"][0]["runningTaskCount"], 2);
    assert_eq!(back["targetServiceRevision"]["runningTaskCount"], 0);
}

#[test]
fn stuck_zero_desired_old_style_and_superseded_service_deployments() {
    let (mut state, v1, v2) = setup();
    state.set_rollouts(
        "prod",
        "web",
        vec![
            Rollout::Stuck,
            Rollout::CompleteWithoutRolloutState { polls: 1 },
        ],
    );
    update(&mut state, &v2);
    for _ in 0..3 {
        poll(&mut state);
        assert_eq!(
            status_and_stage(&newest(&state)),
            (s("IN_PROGRESS"), s("SCALE_UP"))
        );
    }
    update(&mut state, &v1);
    let records = state.service_deployments_json("prod", "web");
    assert_eq!(records.len(), 2);
    assert_eq!(records[1]["status"], "STOPPED");
    assert_eq!(
        records[1]["statusReason"],
        "Service deployment superseded by a newer service deployment."
    );
    assert_eq!(records[0]["status"], "PENDING");
    let done = poll(&mut state);
    assert!(done["deployments"][0].get("rolloutState").is_none());
    assert_eq!(newest(&state)["status"], "SUCCESSFUL");

    let input =
        json!({"cluster": "prod", "service": "web", "taskDefinition": v2, "desiredCount": 0});
    ok(&mut state, "UpdateService", input);
    assert_eq!(newest(&state)["status"], "PENDING");
    poll(&mut state);
    assert_eq!(
        status_and_stage(&newest(&state)),
        (s("SUCCESSFUL"), s("CLEAN_UP"))
    );
}

#[test]
fn blue_green_walks_one_lifecycle_stage_per_poll() {
    let (mut state, v1, v2) = configured(json!({"strategy": "BLUE_GREEN"}));
    state.set_rollout("prod", "web", Rollout::Staged { bake_polls: 2 });
    let updated = update(&mut state, &v2);
    assert_eq!(updated["deployments"].as_array().unwrap().len(), 2);
    assert_eq!(status_and_stage(&newest(&state)), (s("PENDING"), s("-")));
    let traces: Vec<Trace> = (0..11).map(|_| trace(&mut state)).collect();
    assert_eq!(
        traces,
        [
            t("IN_PROGRESS", "PRE_SCALE_UP", 0.0, 0.0, 2, 0),
            t("IN_PROGRESS", "SCALE_UP", 0.0, 0.0, 2, 2),
            t("IN_PROGRESS", "POST_SCALE_UP", 0.0, 0.0, 2, 2),
            t("IN_PROGRESS", "TEST_TRAFFIC_SHIFT", 0.0, 100.0, 2, 2),
            t("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", 0.0, 100.0, 2, 2),
            t(
                "IN_PROGRESS",
                "PRODUCTION_TRAFFIC_SHIFT",
                100.0,
                100.0,
                2,
                2
            ),
            t(
                "IN_PROGRESS",
                "POST_PRODUCTION_TRAFFIC_SHIFT",
                100.0,
                100.0,
                2,
                2
            ),
            t("IN_PROGRESS", "BAKE_TIME", 100.0, 100.0, 2, 2),
            t("IN_PROGRESS", "BAKE_TIME", 100.0, 100.0, 2, 2),
            t("IN_PROGRESS", "CLEAN_UP", 100.0, 100.0, 1, 2),
            t("SUCCESSFUL", "CLEAN_UP", 100.0, 100.0, 1, 2),
        ]
    );
    let service = poll(&mut state);
    assert_eq!(
        deployment_summary(&service),
        [(s("PRIMARY"), s("web:2"), Some(s("COMPLETED")), 2)]
    );
    let sd = newest(&state);
    assert_eq!(sd["sourceServiceRevisions"][0]["runningTaskCount"], 0);
    assert!(sd["finishedAt"].is_f64());
    assert_ne!(service["taskDefinition"], v1);
    let events = messages(&service).join("\n");
    for needle in [
        "shifted 100% of test traffic to the new service revision.",
        "shifted 100% of production traffic to the new service revision.",
        "bake time started.",
        "deployment completed.",
    ] {
        assert!(events.contains(needle), "{needle}: {events}");
    }
}

#[test]
fn before_clean_up_both_deployments_stay_and_the_new_one_runs_everything() {
    let (mut state, _, v2) = configured(json!({"strategy": "BLUE_GREEN"}));
    update(&mut state, &v2);
    poll(&mut state);
    let scaled = poll(&mut state);
    assert_eq!(
        deployment_summary(&scaled),
        [
            (s("PRIMARY"), s("web:2"), Some(s("IN_PROGRESS")), 2),
            (s("ACTIVE"), s("web:1"), Some(s("COMPLETED")), 2)
        ]
    );
}

/// The production weights of the target on each PRODUCTION_TRAFFIC_SHIFT poll.
fn production_shifts(config: Value) -> Vec<f64> {
    let (mut state, _, v2) = configured(config);
    update(&mut state, &v2);
    let mut weights = Vec::new();
    loop {
        let step = trace(&mut state);
        if step.stage == "PRODUCTION_TRAFFIC_SHIFT" {
            weights.push(step.production);
        }
        if step.status == "SUCCESSFUL" {
            return weights;
        }
    }
}

#[test]
fn linear_and_canary_shift_production_traffic_in_steps() {
    assert_eq!(
        production_shifts(
            json!({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}})
        ),
        [25.0, 50.0, 75.0, 100.0]
    );
    assert_eq!(
        production_shifts(json!({"strategy": "LINEAR"})),
        [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0]
    );
    assert_eq!(
        production_shifts(
            json!({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 33.3}})
        ),
        [33.3, 66.6, 99.9, 100.0]
    );
    assert_eq!(
        production_shifts(
            json!({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5}})
        ),
        [10.0, 100.0]
    );
    assert_eq!(
        production_shifts(json!({"strategy": "CANARY"})),
        [5.0, 100.0]
    );
    assert_eq!(
        production_shifts(json!({"strategy": "BLUE_GREEN"})),
        [100.0]
    );
}

const ALARMS: &str = "web-5xx";

#[test]
fn an_alarm_in_bake_time_rolls_back_to_the_previous_task_definition() {
    let (mut state, v1, v2) = configured(json!({
        "strategy": "BLUE_GREEN",
        "bakeTimeInMinutes": 10,
        "alarms": {"alarmNames": [ALARMS, "web-latency"], "enable": true, "rollback": true}
    }));
    state.set_rollout("prod", "web", Rollout::AlarmInBake { after_polls: 2 });
    let old_id = poll(&mut state)["deployments"][0]["id"].clone();
    update(&mut state, &v2);
    assert_eq!(newest(&state)["alarms"]["status"], "MONITORING");
    let stages: Vec<(String, String)> = (0..10)
        .map(|_| {
            poll(&mut state);
            status_and_stage(&newest(&state))
        })
        .collect();
    assert_eq!(
        stages[6],
        (s("IN_PROGRESS"), s("POST_PRODUCTION_TRAFFIC_SHIFT"))
    );
    assert_eq!(stages[7], (s("IN_PROGRESS"), s("BAKE_TIME")));
    assert_eq!(stages[8], (s("IN_PROGRESS"), s("BAKE_TIME")));
    assert_eq!(stages[9], (s("ROLLBACK_IN_PROGRESS"), s("BAKE_TIME")));
    let sd = newest(&state);
    assert_eq!(
        sd["alarms"],
        json!({"status": "TRIGGERED", "alarmNames": [ALARMS, "web-latency"], "triggeredAlarmNames": [ALARMS]})
    );
    assert_eq!(
        sd["rollback"]["reason"],
        "CloudWatch alarm web-5xx is in ALARM state."
    );
    assert_eq!(sd["statusReason"], sd["rollback"]["reason"]);
    assert_eq!(
        sd["rollback"]["serviceRevisionArn"],
        sd["sourceServiceRevisions"][0]["arn"]
    );
    let target = &sd["targetServiceRevision"];
    assert_eq!(
        (
            target["requestedProductionTrafficWeight"].as_f64(),
            target["requestedTestTrafficWeight"].as_f64()
        ),
        (Some(0.0), Some(0.0))
    );
    assert_eq!(
        sd["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"],
        100.0
    );
    let rolling_back = state.service_json("prod", "web");
    assert_eq!(rolling_back["taskDefinition"], v1);
    assert_eq!(
        deployment_summary(&rolling_back),
        [
            (s("PRIMARY"), s("web:1"), Some(s("IN_PROGRESS")), 2),
            (s("ACTIVE"), s("web:2"), Some(s("FAILED")), 2)
        ]
    );

    let back = poll(&mut state);
    let sd = newest(&state);
    assert_eq!(
        status_and_stage(&sd),
        (s("ROLLBACK_SUCCESSFUL"), s("CLEAN_UP"))
    );
    assert_eq!(back["taskDefinition"], v1);
    assert_eq!(
        deployment_summary(&back),
        [(s("PRIMARY"), s("web:1"), Some(s("COMPLETED")), 2)]
    );
    assert_eq!(back["deployments"][0]["id"], old_id);
    assert_eq!(sd["targetServiceRevision"]["runningTaskCount"], 0);
    let events = messages(&back);
    assert!(events
        .iter()
        .any(|m| m.contains("CloudWatch alarm web-5xx is in ALARM state. Rolling back.")));
    assert!(events.iter().any(|m| *m
        == format!(
            "(service web) rolling back to deployment {}.",
            old_id.as_str().unwrap()
        )));
    // Over: nothing moves any more.
    poll(&mut state);
    assert_eq!(newest(&state), sd);
}

#[test]
fn rollouts_that_do_not_fit_the_strategy_are_refused_at_update_service() {
    let cases = [
        (
            json!({"strategy": "BLUE_GREEN"}),
            Rollout::AlarmInBake { after_polls: 1 },
        ),
        (
            json!({"strategy": "CANARY"}),
            Rollout::Complete { polls: 1 },
        ),
        (
            json!({"strategy": "ROLLING"}),
            Rollout::Staged { bake_polls: 1 },
        ),
        (json!({}), Rollout::CircuitBreakerInScaleUp { threshold: 1 }),
    ];
    for (config, rollout) in cases {
        let (mut state, _, v2) = configured(config.clone());
        state.set_rollout("prod", "web", rollout.clone());
        let input =
            json!({"cluster": "prod", "service": "web", "taskDefinition": v2, "desiredCount": 5});
        let reply = state.handle(&signed("UpdateService", AUTH_OK, &input));
        assert_eq!(reply.status, 400, "{config} {rollout:?}");
        assert_eq!(body(&reply)["__type"], "FakeEcsScriptError");
        // Nothing changed, and the script is still there.
        let service = state.service_json("prod", "web");
        assert_eq!(service["desiredCount"], 2);
        assert_eq!(service["deployments"].as_array().unwrap().len(), 1);
        assert_eq!(state.services[0].next_rollouts.len(), 1);
    }
    let (mut state, _, _) = setup();
    assert_eq!(
        fails(
            &mut state,
            "UpdateService",
            json!({"cluster": "prod", "service": "web", "deploymentConfiguration": {"strategy": "PURPLE"}}),
            400
        ),
        "InvalidParameterException"
    );
}

#[test]
fn the_circuit_breaker_in_scale_up_rolls_back_at_its_threshold() {
    let (mut state, v1, v2) = configured(json!({"strategy": "LINEAR"}));
    state.set_rollout(
        "prod",
        "web",
        Rollout::CircuitBreakerInScaleUp { threshold: 3 },
    );
    update(&mut state, &v2);
    assert_eq!(
        status_and_stage(&{
            poll(&mut state);
            newest(&state)
        }),
        (s("IN_PROGRESS"), s("PRE_SCALE_UP"))
    );
    for n in 1..=2 {
        let service = poll(&mut state);
        let sd = newest(&state);
        assert_eq!(status_and_stage(&sd), (s("IN_PROGRESS"), s("SCALE_UP")));
        assert_eq!(
            sd["deploymentCircuitBreaker"],
            json!({"status": "MONITORING", "failureCount": n, "threshold": 3})
        );
        assert_eq!(service["deployments"][0]["failedTasks"], n);
    }
    let tripped = poll(&mut state);
    let sd = newest(&state);
    assert_eq!(sd["status"], "ROLLBACK_IN_PROGRESS");
    assert_eq!(
        sd["deploymentCircuitBreaker"],
        json!({"status": "TRIGGERED", "failureCount": 3, "threshold": 3})
    );
    assert_eq!(
        sd["rollback"]["reason"],
        "ECS deployment circuit breaker: tasks failed to start."
    );
    assert_eq!(tripped["taskDefinition"], v1);
    assert_eq!(tripped["deployments"][1]["rolloutState"], "FAILED");
    let stopped = ok(
        &mut state,
        "ListTasks",
        json!({"cluster": "prod", "desiredStatus": "STOPPED", "startedBy": tripped["deployments"][1]["id"]}),
    );
    let tasks = ok(
        &mut state,
        "DescribeTasks",
        json!({"cluster": "prod", "tasks": stopped["taskArns"]}),
    );
    assert_eq!(tasks["tasks"].as_array().unwrap().len(), 3);
    let task = &tasks["tasks"][0];
    assert_eq!(task["stoppedReason"], "Essential container in task exited");
    assert_eq!(task["containers"][0]["exitCode"], 1);

    let back = poll(&mut state);
    assert_eq!(newest(&state)["status"], "ROLLBACK_SUCCESSFUL");
    assert_eq!(
        deployment_summary(&back),
        [(s("PRIMARY"), s("web:1"), Some(s("COMPLETED")), 2)]
    );
}

/// The hook a paused deployment waits at: (hookId, the whole detail).
fn waiting_hook(state: &State) -> (String, Value) {
    let sd = newest(state);
    let hook = sd["lifecycleHookDetails"][0].clone();
    (hook["hookId"].as_str().unwrap().to_string(), hook)
}

/// `prod/web` BLUE_GREEN paused at POST_TEST_TRAFFIC_SHIFT (after 5 polls); its service
/// deployment ARN.
fn paused() -> (State, String, String, String) {
    let (mut state, v1, v2) = configured(json!({"strategy": "BLUE_GREEN"}));
    state.set_rollout(
        "prod",
        "web",
        Rollout::PauseAt {
            stage: "POST_TEST_TRAFFIC_SHIFT".into(),
            bake_polls: 1,
        },
    );
    update(&mut state, &v2);
    for _ in 0..5 {
        poll(&mut state);
    }
    let arn = newest(&state)["serviceDeploymentArn"]
        .as_str()
        .unwrap()
        .to_string();
    (state, v1, v2, arn)
}

#[test]
fn pause_at_waits_for_continue_service_deployment() {
    let (mut state, _, v2, arn) = paused();
    let (hook_id, hook) = waiting_hook(&state);
    assert_eq!(hook["targetType"], "PAUSE");
    assert_eq!(hook["status"], "AWAITING_ACTION");
    assert_eq!(hook["timeoutAction"], "ROLLBACK");
    assert!(hook["expiresAt"].as_f64() > newest(&state)["updatedAt"].as_f64());
    for _ in 0..3 {
        poll(&mut state);
        assert_eq!(
            status_and_stage(&newest(&state)),
            (s("IN_PROGRESS"), s("POST_TEST_TRAFFIC_SHIFT"))
        );
    }
    let reply = ok(
        &mut state,
        "ContinueServiceDeployment",
        json!({"serviceDeploymentArn": arn, "hookId": hook_id}),
    );
    assert_eq!(reply, json!({"serviceDeploymentArn": arn}));
    assert_eq!(waiting_hook(&state).1["status"], "SUCCEEDED");
    let rest: Vec<(String, String)> = (0..5)
        .map(|_| {
            poll(&mut state);
            status_and_stage(&newest(&state))
        })
        .collect();
    assert_eq!(
        rest,
        [
            (s("IN_PROGRESS"), s("PRODUCTION_TRAFFIC_SHIFT")),
            (s("IN_PROGRESS"), s("POST_PRODUCTION_TRAFFIC_SHIFT")),
            (s("IN_PROGRESS"), s("BAKE_TIME")),
            (s("IN_PROGRESS"), s("CLEAN_UP")),
            (s("SUCCESSFUL"), s("CLEAN_UP")),
        ]
    );
    assert_eq!(state.service_json("prod", "web")["taskDefinition"], v2);
    // The hook is no longer waiting.
    assert_eq!(
        fails(
            &mut state,
            "ContinueServiceDeployment",
            json!({"serviceDeploymentArn": arn, "hookId": hook_id}),
            400
        ),
        "InvalidParameterException"
    );
}

#[test]
fn continue_service_deployment_rollback_goes_back_to_the_previous_revision() {
    let (mut state, v1, _, arn) = paused();
    let (hook_id, _) = waiting_hook(&state);
    ok(
        &mut state,
        "ContinueServiceDeployment",
        json!({"serviceDeploymentArn": arn, "hookId": hook_id, "action": "ROLLBACK"}),
    );
    let sd = newest(&state);
    assert_eq!(sd["status"], "ROLLBACK_REQUESTED");
    assert_eq!(sd["lifecycleHookDetails"][0]["status"], "FAILED");
    assert!(sd["rollback"]["reason"]
        .as_str()
        .unwrap()
        .contains(&format!("lifecycle hook {hook_id}")));
    poll(&mut state);
    assert_eq!(newest(&state)["status"], "ROLLBACK_IN_PROGRESS");
    let back = poll(&mut state);
    assert_eq!(newest(&state)["status"], "ROLLBACK_SUCCESSFUL");
    assert_eq!(back["taskDefinition"], v1);
    assert_eq!(
        deployment_summary(&back),
        [(s("PRIMARY"), s("web:1"), Some(s("COMPLETED")), 2)]
    );
}

#[test]
#[should_panic(expected = "cannot pause at \"BAKE_TIME\"")]
fn pause_at_a_stage_without_hooks_panics() {
    let (mut state, _, _) = setup();
    state.set_rollout(
        "prod",
        "web",
        Rollout::PauseAt {
            stage: "BAKE_TIME".into(),
            bake_polls: 1,
        },
    );
}

#[test]
fn continue_service_deployment_validates_its_input() {
    let (mut state, _, _, arn) = paused();
    let (hook_id, _) = waiting_hook(&state);
    let unknown = arn.replace("/web/", "/api/");
    let cases = [
        (json!({"hookId": hook_id}), "InvalidParameterException"),
        (
            json!({"serviceDeploymentArn": arn}),
            "InvalidParameterException",
        ),
        (
            json!({"serviceDeploymentArn": unknown, "hookId": hook_id}),
            "ServiceDeploymentNotFoundException",
        ),
        (
            json!({"serviceDeploymentArn": arn, "hookId": "nope"}),
            "InvalidParameterException",
        ),
        (
            json!({"serviceDeploymentArn": arn, "hookId": hook_id, "action": "PAUSE"}),
            "InvalidParameterException",
        ),
        (
            json!({"serviceDeploymentArn": arn, "hookId": 7}),
            "SerializationException",
        ),
    ];
    for (input, code) in cases {
        assert_eq!(
            fails(&mut state, "ContinueServiceDeployment", input.clone(), 400),
            code,
            "{input}"
        );
    }
    assert_eq!(waiting_hook(&state).1["status"], "AWAITING_ACTION");
}

#[test]
fn stop_service_deployment_rolls_back_a_staged_deployment() {
    let (mut state, v1, v2) = configured(json!({"strategy": "CANARY"}));
    update(&mut state, &v2);
    for _ in 0..6 {
        poll(&mut state);
    }
    let sd = newest(&state);
    assert_eq!(sd["lifecycleStage"], "PRODUCTION_TRAFFIC_SHIFT");
    let arn = sd["serviceDeploymentArn"].as_str().unwrap();
    let reply = ok(
        &mut state,
        "StopServiceDeployment",
        json!({"serviceDeploymentArn": arn}),
    );
    assert_eq!(reply, json!({"serviceDeploymentArn": arn}));
    let requested = newest(&state);
    assert_eq!(requested["status"], "ROLLBACK_REQUESTED");
    assert_eq!(
        requested["rollback"]["reason"],
        "Service deployment rolled back because of a StopServiceDeployment request."
    );
    assert!(requested["rollback"]["startedAt"].is_f64());
    assert_eq!(
        requested["rollback"]["serviceRevisionArn"],
        requested["sourceServiceRevisions"][0]["arn"]
    );
    assert_eq!(state.service_json("prod", "web")["taskDefinition"], v2);
    let going_back = poll(&mut state);
    let sd = newest(&state);
    assert_eq!(sd["status"], "ROLLBACK_IN_PROGRESS");
    assert_eq!(
        sd["targetServiceRevision"]["requestedProductionTrafficWeight"],
        0.0
    );
    assert_eq!(going_back["taskDefinition"], v1);
    let back = poll(&mut state);
    assert_eq!(newest(&state)["status"], "ROLLBACK_SUCCESSFUL");
    assert_eq!(
        deployment_summary(&back),
        [(s("PRIMARY"), s("web:1"), Some(s("COMPLETED")), 2)]
    );
    // Over: a second stop conflicts.
    assert_eq!(
        fails(
            &mut state,
            "StopServiceDeployment",
            json!({"serviceDeploymentArn": arn}),
            400
        ),
        "ConflictException"
    );
}

#[test]
fn stop_service_deployment_rolls_back_a_rolling_deployment() {
    let (mut state, v1, v2) = setup();
    state.set_rollout("prod", "web", Rollout::Stuck);
    update(&mut state, &v2);
    poll(&mut state);
    let arn = newest(&state)["serviceDeploymentArn"].clone();
    ok(
        &mut state,
        "StopServiceDeployment",
        json!({"serviceDeploymentArn": arn, "stopType": "ROLLBACK"}),
    );
    assert_eq!(newest(&state)["status"], "ROLLBACK_REQUESTED");
    let going_back = poll(&mut state);
    assert_eq!(newest(&state)["status"], "ROLLBACK_IN_PROGRESS");
    assert_eq!(
        deployment_summary(&going_back),
        [
            (s("PRIMARY"), s("web:1"), Some(s("IN_PROGRESS")), 2),
            (s("ACTIVE"), s("web:2"), Some(s("FAILED")), 0)
        ]
    );
    let back = poll(&mut state);
    assert_eq!(newest(&state)["status"], "ROLLBACK_SUCCESSFUL");
    assert_eq!(back["taskDefinition"], v1);
    assert_eq!(
        deployment_summary(&back),
        [(s("PRIMARY"), s("web:1"), Some(s("COMPLETED")), 2)]
    );
}

#[test]
fn stop_service_deployment_abort_leaves_the_service_where_it_is() {
    let (mut state, _, v2) = configured(json!({"strategy": "BLUE_GREEN"}));
    update(&mut state, &v2);
    poll(&mut state);
    let scaled = poll(&mut state);
    let arn = newest(&state)["serviceDeploymentArn"].clone();
    ok(
        &mut state,
        "StopServiceDeployment",
        json!({"serviceDeploymentArn": arn, "stopType": "ABORT"}),
    );
    assert_eq!(newest(&state)["status"], "STOP_REQUESTED");
    poll(&mut state);
    let sd = newest(&state);
    assert_eq!(status_and_stage(&sd), (s("STOPPED"), s("SCALE_UP")));
    assert!(sd["stoppedAt"].is_f64() && sd.get("finishedAt").is_none());
    assert_eq!(
        sd["statusReason"],
        "Service deployment stopped because of a StopServiceDeployment request."
    );
    assert_eq!(
        deployment_summary(&poll(&mut state)),
        deployment_summary(&scaled)
    );
    assert_eq!(newest(&state), sd);
}

#[test]
fn stop_service_deployment_validates_its_input() {
    let (mut state, _, v2) = setup();
    state.set_rollout("prod", "web", Rollout::Stuck);
    update(&mut state, &v2);
    let arn = newest(&state)["serviceDeploymentArn"]
        .as_str()
        .unwrap()
        .to_string();
    let cases = [
        (json!({}), "InvalidParameterException"),
        (
            json!({"serviceDeploymentArn": arn, "stopType": "PAUSE"}),
            "InvalidParameterException",
        ),
        (
            json!({"serviceDeploymentArn": format!("{arn}0")}),
            "ServiceDeploymentNotFoundException",
        ),
        (json!({"serviceDeploymentArn": 1}), "SerializationException"),
    ];
    for (input, code) in cases {
        assert_eq!(
            fails(&mut state, "StopServiceDeployment", input.clone(), 400),
            code,
            "{input}"
        );
    }
    assert_eq!(newest(&state)["status"], "PENDING");
    ok(
        &mut state,
        "StopServiceDeployment",
        json!({"serviceDeploymentArn": arn, "stopType": "ABORT"}),
    );
    // Already being stopped.
    assert_eq!(
        fails(
            &mut state,
            "StopServiceDeployment",
            json!({"serviceDeploymentArn": arn}),
            400
        ),
        "ConflictException"
    );
}

/// `prod/web` after three deployments: the first two superseded, the last SUCCESSFUL.
fn three_deployments() -> (State, Vec<String>) {
    let (mut state, v1, v2) = setup();
    update(&mut state, &v2);
    update(&mut state, &v1);
    update(&mut state, &v2);
    poll(&mut state);
    poll(&mut state);
    let arns = state
        .service_deployments_json("prod", "web")
        .iter()
        .map(|sd| sd["serviceDeploymentArn"].as_str().unwrap().to_string())
        .collect();
    (state, arns)
}

fn listed_arns(reply: &Value) -> Vec<String> {
    reply["serviceDeployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["serviceDeploymentArn"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn list_service_deployments_filters_and_pages_newest_first() {
    let (mut state, arns) = three_deployments();
    let all = ok(
        &mut state,
        "ListServiceDeployments",
        json!({"cluster": "prod", "service": "web"}),
    );
    assert_eq!(listed_arns(&all), arns);
    assert!(all.get("nextToken").is_none());
    let brief = &all["serviceDeployments"][0];
    let full = newest(&state);
    for key in [
        "serviceDeploymentArn",
        "serviceArn",
        "clusterArn",
        "startedAt",
        "createdAt",
        "finishedAt",
        "status",
    ] {
        assert_eq!(brief[key], full[key], "{key}");
    }
    assert_eq!(
        brief["targetServiceRevisionArn"],
        full["targetServiceRevision"]["arn"]
    );
    assert_eq!(all["serviceDeployments"][1]["status"], "STOPPED");

    let first = ok(
        &mut state,
        "ListServiceDeployments",
        json!({"service": "arn:aws:ecs:us-east-1:123456789012:service/prod/web", "cluster": "prod", "maxResults": 2}),
    );
    assert_eq!(listed_arns(&first), arns[..2]);
    let token = first["nextToken"].clone();
    let second = ok(
        &mut state,
        "ListServiceDeployments",
        json!({"service": "web", "cluster": "prod", "maxResults": 2, "nextToken": token}),
    );
    assert_eq!(listed_arns(&second), arns[2..]);
    assert!(second.get("nextToken").is_none());

    let stopped = ok(
        &mut state,
        "ListServiceDeployments",
        json!({"service": "web", "cluster": "prod", "status": ["STOPPED", "ROLLBACK_SUCCESSFUL"]}),
    );
    assert_eq!(listed_arns(&stopped), arns[1..]);
    let created: Vec<f64> = all["serviceDeployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["createdAt"].as_f64().unwrap())
        .collect();
    let window = ok(
        &mut state,
        "ListServiceDeployments",
        json!({"service": "web", "cluster": "prod", "createdAt": {"after": created[1], "before": created[1] + 0.5}}),
    );
    assert_eq!(listed_arns(&window), arns[1..2]);

    let cases = [
        (json!({"cluster": "prod"}), "InvalidParameterException"),
        (
            json!({"cluster": "prod", "service": "api"}),
            "ServiceNotFoundException",
        ),
        (
            json!({"cluster": "nope", "service": "web"}),
            "ClusterNotFoundException",
        ),
        (
            json!({"cluster": "prod", "service": "web", "status": ["DONE"]}),
            "InvalidParameterException",
        ),
        (
            json!({"cluster": "prod", "service": "web", "status": "STOPPED"}),
            "SerializationException",
        ),
        (
            json!({"cluster": "prod", "service": "web", "createdAt": {"after": "yesterday"}}),
            "SerializationException",
        ),
        (
            json!({"cluster": "prod", "service": "web", "maxResults": 0}),
            "InvalidParameterException",
        ),
        (
            json!({"cluster": "prod", "service": "web", "nextToken": "bogus"}),
            "InvalidParameterException",
        ),
    ];
    for (input, code) in cases {
        assert_eq!(
            fails(&mut state, "ListServiceDeployments", input.clone(), 400),
            code,
            "{input}"
        );
    }
}

#[test]
fn list_service_deployments_pages_by_twenty_by_default() {
    let (mut state, v1, v2) = setup();
    for i in 0..21 {
        update(&mut state, if i % 2 == 0 { &v2 } else { &v1 });
    }
    let first = ok(
        &mut state,
        "ListServiceDeployments",
        json!({"cluster": "prod", "service": "web"}),
    );
    assert_eq!(first["serviceDeployments"].as_array().unwrap().len(), 20);
    assert!(first["nextToken"].is_string());
}

#[test]
fn describe_service_deployments_answers_records_and_missing_arns() {
    let (mut state, arns) = three_deployments();
    let missing = format!("{}9", arns[0]);
    let reply = ok(
        &mut state,
        "DescribeServiceDeployments",
        json!({"serviceDeploymentArns": [arns[2], missing, arns[0]]}),
    );
    let records = reply["serviceDeployments"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["serviceDeploymentArn"], arns[2]);
    assert_eq!(records[1], newest(&state));
    assert_eq!(
        reply["failures"],
        json!([{"arn": missing, "reason": "MISSING"}])
    );
    let too_many: Vec<String> = (0..21).map(|_| arns[0].clone()).collect();
    let cases = [
        (json!({}), "InvalidParameterException"),
        (
            json!({"serviceDeploymentArns": []}),
            "InvalidParameterException",
        ),
        (
            json!({"serviceDeploymentArns": too_many}),
            "InvalidParameterException",
        ),
        (
            json!({"serviceDeploymentArns": ["web"]}),
            "InvalidParameterException",
        ),
        (
            json!({"serviceDeploymentArns": arns[0]}),
            "SerializationException",
        ),
    ];
    for (input, code) in cases {
        assert_eq!(
            fails(&mut state, "DescribeServiceDeployments", input.clone(), 400),
            code,
            "{input}"
        );
    }
}

#[test]
fn omit_current_service_deployment_leaves_the_field_out() {
    let (mut state, _, v2) = setup();
    state.omit_current_service_deployment("prod", "web");
    let updated = update(&mut state, &v2);
    assert!(updated.get("currentServiceDeployment").is_none());
    assert!(poll(&mut state).get("currentServiceDeployment").is_none());
    assert_eq!(state.service_deployments_json("prod", "web").len(), 1);
}

#[test]
fn deny_answers_access_denied_without_touching_the_state() {
    let (mut state, _, v2) = setup();
    update(&mut state, &v2);
    state.deny("ListServiceDeployments");
    state.deny("DescribeServices");
    let reply = state.handle(&signed(
        "ListServiceDeployments",
        AUTH_OK,
        &json!({"cluster": "prod", "service": "web"}),
    ));
    assert_eq!(reply.status, 400);
    assert!(reply.fault);
    assert_eq!(
        header(&reply, "x-amzn-errortype"),
        Some("AccessDeniedException")
    );
    assert_eq!(
        body(&reply),
        json!({
            "__type": "AccessDeniedException",
            "message": "User: arn:aws:iam::123456789012:user/ecs-deploy-tests is not authorized to perform: ecs:ListServiceDeployments on resource: arn:aws:ecs:us-east-1:123456789012:service/prod/web because no identity-based policy allows the ecs:ListServiceDeployments action"
        })
    );
    // A denied DescribeServices does not advance the rollout.
    let reply = state.handle(&signed(
        "DescribeServices",
        AUTH_OK,
        &json!({"cluster": "prod", "services": ["web"]}),
    ));
    assert_eq!(body(&reply)["__type"], "AccessDeniedException");
    assert_eq!(newest(&state)["status"], "PENDING");
    let arn = newest(&state)["serviceDeploymentArn"].clone();
    ok(
        &mut state,
        "DescribeServiceDeployments",
        json!({"serviceDeploymentArns": [arn]}),
    );
}

#[tokio::test]
async fn the_transcript_has_one_json_line_per_answered_request() {
    let path = std::env::temp_dir().join(format!(
        "fake-ecs-transcript-{}-{:?}.jsonl",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_file(&path);
    let fake = FakeEcs::start().await;
    fake.set_transcript(&path);
    fake.add_cluster("prod");
    let td = fake.seed_task_definition(web("acct/repo:v1"), vec![]);
    fake.add_service("prod", "web", &td, 1);
    fake.inject_faults("DescribeServices", vec![Fault::Throttle]);
    fake.deny("ListServiceDeployments");
    let describe = json!({"cluster": "prod", "services": ["web"]});
    http_call(&fake, "DescribeServices", &describe).await;
    http_call(&fake, "DescribeServices", &describe).await;
    let list = json!({"cluster": "prod", "service": "web"});
    http_call(&fake, "ListServiceDeployments", &list).await;
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(text.ends_with('\n'));
    assert_eq!(
        lines[0],
        json!({"service": "ecs", "operation": "DescribeServices", "request": describe, "status": 400,
               "response": {"__type": "ThrottlingException", "message": "Rate exceeded"}, "fault": true})
    );
    assert_eq!(
        (lines[1]["status"].as_u64(), lines[1]["fault"].as_bool()),
        (Some(200), Some(false))
    );
    assert_eq!(
        lines[1]["response"],
        json!({"services": [fake.service("prod", "web")], "failures": []})
    );
    assert_eq!(lines[2]["request"], list);
    assert_eq!(lines[2]["fault"], true);
    assert_eq!(lines[2]["response"]["__type"], "AccessDeniedException");
}

/// One signed call over HTTP that must succeed; its JSON reply.
async fn http_ok(fake: &FakeEcs, operation: &str, body: Value) -> Value {
    http_body(&http_call(fake, operation, &body).await)
}

/// DescribeServices over HTTP naming `service` in `prod`, `n` times; the last description.
async fn http_polls(fake: &FakeEcs, service: &str, n: usize) -> Value {
    let input = json!({"cluster": "prod", "services": [service]});
    let mut last = Value::Null;
    for _ in 0..n {
        last = http_ok(fake, "DescribeServices", input.clone()).await["services"][0].clone();
    }
    last
}

/// Every new shape over real HTTP, so that a run with FAKE_ECS_TRANSCRIPT set puts each of
/// them in the transcript for scripts/model_check.py: staged strategies with a pause, an
/// alarm, a circuit breaker, both stop types, the four service-deployment operations, a
/// ROLLING circuit-breaker rollback and a CODE_DEPLOY service.
#[tokio::test]
async fn service_deployment_operations_over_http() {
    let fake = FakeEcs::start().await;
    fake.add_cluster("prod");
    let v1 = fake.seed_task_definition(web("acct/repo:v1"), vec![]);
    let v2 = fake.seed_task_definition(web("acct/repo:v2"), vec![]);
    fake.add_service("prod", "web", &v1, 2);
    fake.add_service("prod", "api", &v1, 1);
    fake.set_deployment_configuration(
        "prod",
        "web",
        json!({
            "strategy": "CANARY",
            "canaryConfiguration": {"canaryPercent": 20.0, "canaryBakeTimeInMinutes": 1},
            "bakeTimeInMinutes": 1,
            "alarms": {"alarmNames": ["web-5xx"], "enable": true, "rollback": true},
            "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}]
        }),
    );
    fake.set_rollouts(
        "prod",
        "web",
        vec![
            Rollout::PauseAt {
                stage: "POST_TEST_TRAFFIC_SHIFT".into(),
                bake_polls: 1,
            },
            Rollout::AlarmInBake { after_polls: 1 },
            Rollout::Staged { bake_polls: 1 },
            Rollout::Staged { bake_polls: 1 },
            Rollout::CircuitBreakerInScaleUp { threshold: 2 },
        ],
    );
    let update = |td: &str| json!({"cluster": "prod", "service": "web", "taskDefinition": td});
    let updated = http_ok(&fake, "UpdateService", update(&v2)).await;
    let arn = updated["service"]["currentServiceDeployment"].clone();
    http_polls(&fake, "web", 5).await;
    let described = http_ok(
        &fake,
        "DescribeServiceDeployments",
        json!({"serviceDeploymentArns": [arn, format!("{}1", arn.as_str().unwrap())]}),
    )
    .await;
    let hook_id = described["serviceDeployments"][0]["lifecycleHookDetails"][0]["hookId"].clone();
    assert_eq!(described["failures"][0]["reason"], "MISSING");
    http_ok(
        &fake,
        "ContinueServiceDeployment",
        json!({"serviceDeploymentArn": arn, "hookId": hook_id, "action": "CONTINUE"}),
    )
    .await;
    http_polls(&fake, "web", 7).await;
    assert_eq!(
        fake.service_deployments("prod", "web")[0]["status"],
        "SUCCESSFUL"
    );

    // The alarm in bake time: back on v2.
    http_ok(&fake, "UpdateService", update(&v1)).await;
    let back = http_polls(&fake, "web", 11).await;
    assert_eq!(back["taskDefinition"], v2);
    assert_eq!(
        fake.service_deployments("prod", "web")[0]["status"],
        "ROLLBACK_SUCCESSFUL"
    );

    // StopServiceDeployment: ROLLBACK, then ABORT.
    for (stop_type, polls, status) in [
        ("ROLLBACK", 2, "ROLLBACK_SUCCESSFUL"),
        ("ABORT", 1, "STOPPED"),
    ] {
        let arn = http_ok(&fake, "UpdateService", update(&v1)).await["service"]
            ["currentServiceDeployment"]
            .clone();
        http_polls(&fake, "web", 2).await;
        http_ok(
            &fake,
            "StopServiceDeployment",
            json!({"serviceDeploymentArn": arn, "stopType": stop_type}),
        )
        .await;
        http_polls(&fake, "web", polls).await;
        assert_eq!(fake.service_deployments("prod", "web")[0]["status"], status);
    }

    // The circuit breaker in SCALE_UP.
    http_ok(&fake, "UpdateService", update(&v2)).await;
    http_polls(&fake, "web", 4).await;
    assert_eq!(
        fake.service_deployments("prod", "web")[0]["status"],
        "ROLLBACK_SUCCESSFUL"
    );
    let listed = http_ok(
        &fake,
        "ListServiceDeployments",
        json!({"cluster": "prod", "service": "web", "status": ["SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "STOPPED"], "createdAt": {"after": 1_600_000_000.0}, "maxResults": 3}),
    )
    .await;
    assert_eq!(listed["serviceDeployments"].as_array().unwrap().len(), 3);
    http_ok(
        &fake,
        "ListServiceDeployments",
        json!({"cluster": "prod", "service": "web", "nextToken": listed["nextToken"]}),
    )
    .await;

    // A ROLLING circuit-breaker rollback, then a CODE_DEPLOY service.
    fake.set_rollout("prod", "api", Rollout::CircuitBreakerRollback { polls: 1 });
    http_ok(
        &fake,
        "UpdateService",
        json!({"cluster": "prod", "service": "api", "taskDefinition": v2}),
    )
    .await;
    http_polls(&fake, "api", 2).await;
    let api_arn = fake.service_deployments("prod", "api")[0]["serviceDeploymentArn"].clone();
    let api = http_ok(
        &fake,
        "DescribeServiceDeployments",
        json!({"serviceDeploymentArns": [api_arn]}),
    )
    .await;
    assert_eq!(
        api["serviceDeployments"][0]["status"],
        "ROLLBACK_SUCCESSFUL"
    );
    fake.set_deployment_controller("prod", "api", "CODE_DEPLOY");
    let code_deploy = http_polls(&fake, "api", 1).await;
    assert_eq!(code_deploy["taskSets"][0]["status"], "PRIMARY");
}

// ---------------------------------------------------------------------------------------------
// CodeDeploy
// ---------------------------------------------------------------------------------------------

/// AUTH_OK scoped to the service `codedeploy`.
const AUTH_CODEDEPLOY: &str = "AWS4-HMAC-SHA256 Credential=AKIAFAKEECSDEPLOY001/20250101/us-east-1/codedeploy/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn codedeploy_request(operation: &str, input: &Value) -> Request {
    signed_for(CODEDEPLOY_TARGET_PREFIX, operation, AUTH_CODEDEPLOY, input)
}

/// Call a CodeDeploy operation that must succeed; its JSON reply.
fn cd_ok(state: &mut State, operation: &str, input: Value) -> Value {
    succeeded(
        operation,
        state.handle(&codedeploy_request(operation, &input)),
    )
}

/// Call a CodeDeploy operation that must fail with HTTP 400; its error code.
fn cd_fails(state: &mut State, operation: &str, input: Value) -> String {
    failed(
        operation,
        state.handle(&codedeploy_request(operation, &input)),
        400,
    )
}

/// The load balancer and network fields of a CodeDeploy-deployed Fargate service.
fn code_deploy_fields() -> Value {
    json!({
        "loadBalancers": [{
            "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-blue/0123456789abcdef",
            "containerName": "app",
            "containerPort": 80
        }],
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}},
        "launchType": "FARGATE",
        "platformVersion": "LATEST"
    })
}

/// `setup()`, with service `web` deployed by CodeDeploy (application `web-app`, group
/// `web-dg` configured by `options`).
fn codedeploy_setup(options: DeploymentGroupOptions) -> (State, String, String) {
    let (mut state, v1, v2) = setup();
    state.set_deployment_controller("prod", "web", "CODE_DEPLOY");
    state.set_service_fields("prod", "web", code_deploy_fields());
    state.add_codedeploy_application("web-app");
    state.add_deployment_group("web-app", "web-dg", "prod", "web", options);
    (state, v1, v2)
}

/// An AppSpec deploying `task_definition`, with a hook after the test traffic.
fn appspec(task_definition: &str) -> String {
    json!({
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
            "TaskDefinition": task_definition,
            "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 80},
            "PlatformVersion": "LATEST"
        }}}],
        "Hooks": [{"AfterAllowTestTraffic": "web-smoke-test"}]
    })
    .to_string()
}

/// A CreateDeployment input for this AppSpec content, with its right sha256.
fn create_input(content: &str) -> Value {
    json!({
        "applicationName": "web-app",
        "deploymentGroupName": "web-dg",
        "revision": {"revisionType": "AppSpecContent", "appSpecContent": {
            "content": content,
            "sha256": crate::sha256::hex_digest(content.as_bytes())
        }},
        "description": "ship web:2"
    })
}

/// CreateDeployment of `task_definition`; the deployment id.
fn create(state: &mut State, task_definition: &str) -> String {
    let reply = cd_ok(
        state,
        "CreateDeployment",
        create_input(&appspec(task_definition)),
    );
    reply["deploymentId"].as_str().unwrap().to_string()
}

/// GetDeployment (one step of the script); the deploymentInfo.
fn get(state: &mut State, id: &str) -> Value {
    cd_ok(state, "GetDeployment", json!({"deploymentId": id}))["deploymentInfo"].clone()
}

/// GetDeploymentTarget of the deployment's service; the ecsTarget.
fn ecs_target(state: &mut State, id: &str) -> Value {
    let input = json!({"deploymentId": id, "targetId": "prod:web"});
    cd_ok(state, "GetDeploymentTarget", input)["deploymentTarget"]["ecsTarget"].clone()
}

/// The status of each lifecycle event, in order.
fn event_statuses(target: &Value) -> Vec<String> {
    target["lifecycleEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap().to_string())
        .collect()
}

/// Pending, InProgress, Succeeded, Failed, Skipped by their initials: "SSI....." is two
/// Succeeded, one InProgress, five Pending; "F" Failed, "K" Skipped.
fn events(pattern: &str) -> Vec<String> {
    pattern
        .chars()
        .map(|c| match c {
            'S' => "Succeeded",
            'I' => "InProgress",
            '.' => "Pending",
            'F' => "Failed",
            'K' => "Skipped",
            other => panic!("no event status {other}"),
        })
        .map(str::to_string)
        .collect()
}

/// The service's task sets: (status, task definition revision, running, pending, stability).
fn task_sets(service: &Value) -> Vec<(String, String, u64, u64, String)> {
    service["taskSets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["status"].as_str().unwrap().to_string(),
                t["taskDefinition"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
                t["runningCount"].as_u64().unwrap(),
                t["pendingCount"].as_u64().unwrap(),
                t["stabilityStatus"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn task_set(
    status: &str,
    revision: &str,
    running: u64,
    pending: u64,
    stable: bool,
) -> (String, String, u64, u64, String) {
    let stability = if stable {
        "STEADY_STATE"
    } else {
        "STABILIZING"
    };
    (s(status), s(revision), running, pending, s(stability))
}

/// The service without advancing anything.
fn web_service(state: &State) -> Value {
    state.service_json("prod", "web")
}

/// A deployment's status after one more GetDeployment, with its target's event statuses.
fn step(state: &mut State, id: &str) -> (String, Vec<String>) {
    let status = get(state, id)["status"].as_str().unwrap().to_string();
    (status, event_statuses(&ecs_target(state, id)))
}

#[test]
fn codedeploy_requests_are_told_apart_and_need_a_codedeploy_scope() {
    let (mut state, _, _) = codedeploy_setup(DeploymentGroupOptions::default());
    let list = json!({"applicationName": "web-app"});
    // Scoped to ecs: refused like a wrong region.
    let reply = state.handle(&signed_for(
        CODEDEPLOY_TARGET_PREFIX,
        "ListDeploymentGroups",
        AUTH_OK,
        &list,
    ));
    assert_eq!(reply.status, 403);
    assert_eq!(body(&reply)["__type"], "InvalidSignatureException");
    assert_eq!(
        body(&reply)["message"],
        "Credential should be scoped to correct service: 'codedeploy'. (got 'ecs')"
    );
    // And an ECS request scoped to codedeploy.
    let describe = json!({"cluster": "prod", "services": ["web"]});
    let reply = state.handle(&signed("DescribeServices", AUTH_CODEDEPLOY, &describe));
    assert_eq!(
        (reply.status, body(&reply)["message"].clone()),
        (
            403,
            json!("Credential should be scoped to correct service: 'ecs'. (got 'codedeploy')")
        )
    );
    let groups = cd_ok(&mut state, "ListDeploymentGroups", list.clone());
    assert_eq!(
        groups,
        json!({"applicationName": "web-app", "deploymentGroups": ["web-dg"]})
    );
    // Each API knows only its own operations.
    assert_eq!(
        cd_fails(&mut state, "DescribeServices", describe.clone()),
        "UnknownOperationException"
    );
    assert_eq!(
        fails(&mut state, "ListDeploymentGroups", list.clone(), 400),
        "UnknownOperationException"
    );
    let recorded: Vec<(String, String)> = state
        .requests
        .iter()
        .map(|r| (r.service.clone(), r.operation.clone()))
        .collect();
    assert_eq!(
        recorded,
        [
            (s("codedeploy"), s("ListDeploymentGroups")),
            (s("ecs"), s("DescribeServices")),
            (s("codedeploy"), s("ListDeploymentGroups")),
            (s("codedeploy"), s("DescribeServices")),
            (s("ecs"), s("ListDeploymentGroups")),
        ]
    );
}

#[tokio::test]
async fn count_and_count_of_tell_the_apis_apart() {
    let fake = FakeEcs::start().await;
    fake.add_codedeploy_application("web-app");
    let list = json!({});
    http_call_for(
        &fake,
        CODEDEPLOY_TARGET_PREFIX,
        AUTH_CODEDEPLOY,
        "ListApplications",
        &list,
    )
    .await;
    http_call_for(
        &fake,
        CODEDEPLOY_TARGET_PREFIX,
        AUTH_CODEDEPLOY,
        "TagResource",
        &list,
    )
    .await;
    http_call(&fake, "TagResource", &list).await;
    assert_eq!(fake.count("ListApplications"), 1);
    assert_eq!(fake.count("TagResource"), 2);
    assert_eq!(fake.count_of("codedeploy", "TagResource"), 1);
    assert_eq!(fake.count_of("ecs", "TagResource"), 1);
    assert_eq!(fake.count_of("ecs", "ListApplications"), 0);
    assert_eq!(fake.requests()[0].service, "codedeploy");
}

#[test]
fn applications_and_deployment_groups_list_and_describe_like_codedeploy() {
    let (mut state, _, _) = codedeploy_setup(DeploymentGroupOptions {
        wait_for_reroute: true,
        auto_rollback: true,
        deployment_config_name: Some("CodeDeployDefault.ECSCanary10Percent5Minutes".into()),
    });
    for i in 0..100 {
        state.add_codedeploy_application(&format!("app-{i:03}"));
    }
    state.add_codedeploy_application("web-app"); // already there: nothing happens
    let first = cd_ok(&mut state, "ListApplications", json!({}));
    let names = first["applications"].as_array().unwrap();
    assert_eq!((names.len(), &names[0]), (100, &json!("app-000")));
    let token = first["nextToken"].clone();
    let second = cd_ok(&mut state, "ListApplications", json!({"nextToken": token}));
    assert_eq!(second, json!({"applications": ["web-app"]}));
    assert_eq!(
        cd_fails(
            &mut state,
            "ListApplications",
            json!({"nextToken": "bogus"})
        ),
        "InvalidNextTokenException"
    );

    let cases = [
        (
            "ListDeploymentGroups",
            json!({}),
            "ApplicationNameRequiredException",
        ),
        (
            "ListDeploymentGroups",
            json!({"applicationName": ""}),
            "ApplicationNameRequiredException",
        ),
        (
            "ListDeploymentGroups",
            json!({"applicationName": "x".repeat(101)}),
            "InvalidApplicationNameException",
        ),
        (
            "ListDeploymentGroups",
            json!({"applicationName": "nope"}),
            "ApplicationDoesNotExistException",
        ),
        (
            "ListDeploymentGroups",
            json!({"applicationName": 7}),
            "SerializationException",
        ),
        (
            "BatchGetDeploymentGroups",
            json!({"applicationName": "web-app"}),
            "DeploymentGroupNameRequiredException",
        ),
        (
            "BatchGetDeploymentGroups",
            json!({"applicationName": "web-app", "deploymentGroupNames": []}),
            "DeploymentGroupNameRequiredException",
        ),
        (
            "BatchGetDeploymentGroups",
            json!({"applicationName": "web-app", "deploymentGroupNames": vec!["g"; 101]}),
            "BatchLimitExceededException",
        ),
        (
            "BatchGetDeploymentGroups",
            json!({"deploymentGroupNames": ["web-dg"]}),
            "ApplicationNameRequiredException",
        ),
        (
            "GetDeploymentGroup",
            json!({"applicationName": "web-app", "deploymentGroupName": "gone"}),
            "DeploymentGroupDoesNotExistException",
        ),
        (
            "GetDeploymentGroup",
            json!({"applicationName": "web-app"}),
            "DeploymentGroupNameRequiredException",
        ),
    ];
    let one = cd_ok(
        &mut state,
        "GetDeploymentGroup",
        json!({"applicationName": "web-app", "deploymentGroupName": "web-dg"}),
    );
    assert_eq!(one["deploymentGroupInfo"]["deploymentGroupName"], "web-dg");
    for (operation, input, code) in cases {
        assert_eq!(
            cd_fails(&mut state, operation, input.clone()),
            code,
            "{operation} {input}"
        );
    }

    let got = cd_ok(
        &mut state,
        "BatchGetDeploymentGroups",
        json!({"applicationName": "web-app", "deploymentGroupNames": ["web-dg", "gone"]}),
    );
    assert_eq!(
        got["errorMessage"],
        "The following deployment groups do not exist in application web-app: gone"
    );
    let infos = got["deploymentGroupsInfo"].as_array().unwrap();
    assert_eq!(infos.len(), 1);
    let group = &infos[0];
    let id = group["deploymentGroupId"].as_str().unwrap();
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(group["applicationName"], "web-app");
    assert_eq!(group["deploymentGroupName"], "web-dg");
    assert_eq!(
        group["deploymentConfigName"],
        "CodeDeployDefault.ECSCanary10Percent5Minutes"
    );
    assert_eq!(
        group["serviceRoleArn"],
        "arn:aws:iam::123456789012:role/CodeDeployServiceRoleForECS"
    );
    assert_eq!(
        group["deploymentStyle"],
        json!({"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"})
    );
    assert_eq!(group["computePlatform"], "ECS");
    assert_eq!(
        group["ecsServices"],
        json!([{"serviceName": "web", "clusterName": "prod"}])
    );
    assert_eq!(
        group["autoRollbackConfiguration"],
        json!({"enabled": true, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"]})
    );
    assert_eq!(
        group["blueGreenDeploymentConfiguration"]["deploymentReadyOption"],
        json!({"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 60})
    );
    let pair = &group["loadBalancerInfo"]["targetGroupPairInfoList"][0];
    assert_eq!(
        pair["targetGroups"],
        json!([{"name": "web-blue"}, {"name": "web-green"}])
    );
    for route in ["prodTrafficRoute", "testTrafficRoute"] {
        let listener = pair[route]["listenerArns"][0].as_str().unwrap();
        assert!(
            listener.starts_with(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web-alb/"
            ),
            "{listener}"
        );
    }
    assert!(group.get("lastAttemptedDeployment").is_none());

    // The defaults: no wait, no rollback, ECSAllAtOnce.
    let mut plain = State::new();
    let v1 = plain.seed_task_definition(web("acct/repo:v1"), vec![]);
    plain.add_service("prod", "api", &v1, 1);
    plain.set_deployment_controller("prod", "api", "CODE_DEPLOY");
    plain.add_codedeploy_application("api-app");
    plain.add_deployment_group(
        "api-app",
        "api-dg",
        "prod",
        "api",
        DeploymentGroupOptions::default(),
    );
    let got = cd_ok(
        &mut plain,
        "BatchGetDeploymentGroups",
        json!({"applicationName": "api-app", "deploymentGroupNames": ["api-dg"]}),
    );
    let group = &got["deploymentGroupsInfo"][0];
    assert!(got.get("errorMessage").is_none());
    assert_eq!(
        group["deploymentConfigName"],
        "CodeDeployDefault.ECSAllAtOnce"
    );
    assert_eq!(
        group["autoRollbackConfiguration"],
        json!({"enabled": false, "events": []})
    );
    assert_eq!(
        group["blueGreenDeploymentConfiguration"]["deploymentReadyOption"],
        json!({"actionOnTimeout": "CONTINUE_DEPLOYMENT", "waitTimeInMinutes": 0})
    );
}

#[test]
#[should_panic(expected = "is not deployed by CodeDeploy")]
fn a_deployment_group_needs_a_code_deploy_service() {
    let (mut state, _, _) = setup();
    state.add_codedeploy_application("web-app");
    state.add_deployment_group(
        "web-app",
        "web-dg",
        "prod",
        "web",
        DeploymentGroupOptions::default(),
    );
}

#[test]
fn set_service_fields_merges_raw_keys_into_the_description_and_task_sets() {
    let (mut state, _, v2) = codedeploy_setup(DeploymentGroupOptions::default());
    let service = web_service(&state);
    assert_eq!(service["loadBalancers"][0]["containerName"], "app");
    assert_eq!(service["launchType"], "FARGATE");
    assert_eq!(service["platformVersion"], "LATEST");
    assert_eq!(
        service["networkConfiguration"],
        code_deploy_fields()["networkConfiguration"]
    );
    let set = &service["taskSets"][0];
    for key in [
        "loadBalancers",
        "networkConfiguration",
        "launchType",
        "platformVersion",
    ] {
        assert_eq!(set[key], code_deploy_fields()[key], "{key}");
    }
    // A null removes a key; capacity providers make the tasks Fargate ones.
    state.set_service_fields(
        "prod",
        "web",
        json!({"launchType": null, "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]}),
    );
    let service = web_service(&state);
    assert!(service.get("launchType").is_none());
    assert!(service["taskSets"][0].get("launchType").is_none());
    assert_eq!(
        service["taskSets"][0]["capacityProviderStrategy"][0]["capacityProvider"],
        "FARGATE_SPOT"
    );
    let id = create(&mut state, &v2);
    get(&mut state, &id);
    let started = state.tasks_json("prod").last().cloned().unwrap();
    assert_eq!(started["launchType"], "FARGATE");
}

#[test]
#[should_panic(expected = "cannot set \"taskDefinition\"")]
fn set_service_fields_refuses_computed_keys() {
    let (mut state, _, v2) = setup();
    state.set_service_fields("prod", "web", json!({"taskDefinition": v2}));
}

#[test]
fn create_deployment_checks_group_revision_sha256_and_appspec() {
    let (mut state, v1, v2) = codedeploy_setup(DeploymentGroupOptions::default());
    let inactive = state.seed_task_definition(web("acct/repo:v3"), vec![]);
    ok(
        &mut state,
        "DeregisterTaskDefinition",
        json!({"taskDefinition": inactive}),
    );
    let good = create_input(&appspec(&v2));
    let with = |path: &[&str], value: Value| {
        let mut input = good.clone();
        let mut slot = &mut input;
        for key in &path[..path.len() - 1] {
            slot = &mut slot[*key];
        }
        match value {
            Value::Null => {
                slot.as_object_mut().unwrap().remove(path[path.len() - 1]);
            }
            value => slot[path[path.len() - 1]] = value,
        }
        input
    };
    let spec = |edit: &dyn Fn(&mut Value)| {
        let mut appspec: Value = serde_json::from_str(&appspec(&v2)).unwrap();
        edit(&mut appspec);
        create_input(&appspec.to_string())
    };
    let mut bad_hash = good.clone();
    bad_hash["revision"]["appSpecContent"]["sha256"] =
        json!(crate::sha256::hex_digest(b"something else"));
    let mut upper_hash = good.clone();
    let upper = good["revision"]["appSpecContent"]["sha256"]
        .as_str()
        .unwrap()
        .to_uppercase();
    upper_hash["revision"]["appSpecContent"]["sha256"] = json!(upper);
    let cases = [
        (
            with(&["applicationName"], Value::Null),
            "ApplicationNameRequiredException",
        ),
        (
            with(&["applicationName"], json!("nope")),
            "ApplicationDoesNotExistException",
        ),
        (
            with(&["deploymentGroupName"], Value::Null),
            "DeploymentGroupNameRequiredException",
        ),
        (
            with(&["deploymentGroupName"], json!("nope")),
            "DeploymentGroupDoesNotExistException",
        ),
        (
            with(&["revision"], Value::Null),
            "RevisionRequiredException",
        ),
        (
            with(&["revision"], json!("s3://bucket/key")),
            "SerializationException",
        ),
        (
            with(&["revision", "revisionType"], json!("S3")),
            "InvalidRevisionException",
        ),
        (
            with(&["revision", "appSpecContent"], Value::Null),
            "InvalidRevisionException",
        ),
        (
            with(&["revision", "appSpecContent", "content"], Value::Null),
            "InvalidRevisionException",
        ),
        (bad_hash, "InvalidRevisionException"),
        (upper_hash, "InvalidRevisionException"),
        (
            create_input("version: 0.0\nResources: []\n"),
            "InvalidRevisionException",
        ),
        (
            spec(&|a| a["Resources"] = json!([])),
            "InvalidRevisionException",
        ),
        (
            spec(&|a| a["Resources"][0]["TargetService"]["Type"] = json!("AWS::Lambda::Function")),
            "InvalidRevisionException",
        ),
        (
            spec(&|a| {
                a["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"] = json!("web:2")
            }),
            "InvalidRevisionException",
        ),
        (
            spec(&|a| {
                a["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"] =
                    json!(v2.replace(":2", ":9"))
            }),
            "InvalidRevisionException",
        ),
        (
            spec(&|a| {
                a["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"] = json!(inactive)
            }),
            "InvalidRevisionException",
        ),
        (
            spec(&|a| {
                a["Resources"][0]["TargetService"]["Properties"]["LoadBalancerInfo"]
                    ["ContainerName"] = json!("nginx")
            }),
            "InvalidRevisionException",
        ),
        (
            spec(&|a| {
                a["Resources"][0]["TargetService"]["Properties"]["LoadBalancerInfo"]
                    ["ContainerPort"] = json!("80")
            }),
            "InvalidRevisionException",
        ),
        (
            spec(&|a| {
                a["Resources"][0]["TargetService"]["Properties"]["LoadBalancerInfo"] = Value::Null
            }),
            "InvalidRevisionException",
        ),
        (
            spec(&|a| {
                a["Resources"][0]["TargetService"]["Properties"]["NetworkConfiguration"] = json!([])
            }),
            "InvalidRevisionException",
        ),
        (
            spec(&|a| a["Hooks"] = json!([{"Install": "f"}])),
            "InvalidRevisionException",
        ),
        (
            spec(&|a| a["Hooks"] = json!([{"BeforeInstall": "f", "AfterInstall": "g"}])),
            "InvalidRevisionException",
        ),
        (
            with(
                &["deploymentConfigName"],
                json!("CodeDeployDefault.OneAtATime"),
            ),
            "DeploymentConfigDoesNotExistException",
        ),
        (
            with(
                &["autoRollbackConfiguration"],
                json!({"enabled": true, "events": ["WHENEVER"]}),
            ),
            "InvalidAutoRollbackConfigException",
        ),
        (with(&["description"], json!(5)), "SerializationException"),
    ];
    for (input, code) in cases {
        assert_eq!(
            cd_fails(&mut state, "CreateDeployment", input.clone()),
            code,
            "{input}"
        );
    }
    let message = |state: &mut State, input: Value| {
        let reply = state.handle(&codedeploy_request("CreateDeployment", &input));
        body(&reply)["message"].as_str().unwrap().to_string()
    };
    let yaml = message(&mut state, create_input("version: 0.0\n"));
    assert!(
        yaml.contains("not JSON") && yaml.contains("not YAML"),
        "{yaml}"
    );
    let container = message(
        &mut state,
        spec(&|a| {
            a["Resources"][0]["TargetService"]["Properties"]["LoadBalancerInfo"]["ContainerName"] =
                json!("nginx")
        }),
    );
    assert!(
        container.contains("nginx is not a container of"),
        "{container}"
    );
    assert!(state.codedeploy.deployments.is_empty());

    // Without sha256 the fake computes it; GetDeployment shows only the hash.
    let mut no_hash = good.clone();
    no_hash["revision"]["appSpecContent"]
        .as_object_mut()
        .unwrap()
        .remove("sha256");
    let id = cd_ok(&mut state, "CreateDeployment", no_hash)["deploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(id.starts_with("d-") && id.len() == 11, "{id}");
    assert!(
        id[2..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(
        state.codedeploy_deployments_json()[0]["revision"],
        json!({"revisionType": "AppSpecContent", "appSpecContent": {"sha256": good["revision"]["appSpecContent"]["sha256"]}})
    );
    assert_eq!(
        state.codedeploy.expect(&id).appspec,
        serde_json::from_str::<Value>(&appspec(&v2)).unwrap()
    );
    // One active deployment per group.
    assert_eq!(
        cd_fails(&mut state, "CreateDeployment", good.clone()),
        "DeploymentLimitExceededException"
    );
    let reply = state.handle(&codedeploy_request("CreateDeployment", &good));
    assert!(body(&reply)["message"].as_str().unwrap().contains(&id));
    // Nothing happened to the service.
    assert_eq!(web_service(&state)["taskDefinition"], v1);
}

#[test]
fn create_deployment_takes_the_groups_config_unless_it_names_one() {
    let (mut state, _, v2) = codedeploy_setup(DeploymentGroupOptions {
        deployment_config_name: Some("web-custom-config".into()),
        ..DeploymentGroupOptions::default()
    });
    let id = create(&mut state, &v2);
    let info = get(&mut state, &id);
    assert_eq!(info["deploymentConfigName"], "web-custom-config");
    let stop = json!({"deploymentId": id, "autoRollbackEnabled": false});
    cd_ok(&mut state, "StopDeployment", stop);
    let mut input = create_input(&appspec(&v2));
    input["deploymentConfigName"] = json!("CodeDeployDefault.ECSLinear10PercentEvery1Minutes");
    input["autoRollbackConfiguration"] = json!({"enabled": true, "events": ["DEPLOYMENT_FAILURE"]});
    let id = cd_ok(&mut state, "CreateDeployment", input)["deploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    let info = get(&mut state, &id);
    assert_eq!(
        info["deploymentConfigName"],
        "CodeDeployDefault.ECSLinear10PercentEvery1Minutes"
    );
    assert_eq!(
        info["autoRollbackConfiguration"],
        json!({"enabled": true, "events": ["DEPLOYMENT_FAILURE"]})
    );
}

#[test]
fn succeed_walks_the_lifecycle_events_and_replaces_the_task_set() {
    let (mut state, v1, v2) = codedeploy_setup(DeploymentGroupOptions::default());
    let original = web_service(&state)["taskSets"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let id = create(&mut state, &v2);
    let created = state.codedeploy_deployments_json()[0].clone();
    assert_eq!(created["status"], "Created");
    assert_eq!(created["creator"], "user");
    assert_eq!(created["description"], "ship web:2");
    assert_eq!(created["computePlatform"], "ECS");
    assert_eq!(
        created["deploymentConfigName"],
        "CodeDeployDefault.ECSAllAtOnce"
    );
    assert_eq!(created["deploymentOverview"]["Pending"], 1);
    assert!(created.get("startTime").is_none() && created.get("errorInformation").is_none());
    let target = state.deployment_target_json(&id)["ecsTarget"].clone();
    assert_eq!(target["status"], "Pending");
    assert_eq!(event_statuses(&target), events("........"));
    assert_eq!(
        cd_fails(
            &mut state,
            "GetDeploymentTarget",
            json!({"deploymentId": id, "targetId": "prod:web"})
        ),
        "DeploymentNotStartedException"
    );

    // Call 1: InProgress, Install under way: the replacement task set, its tasks starting.
    assert_eq!(step(&mut state, &id), (s("InProgress"), events("SI......")));
    let service = web_service(&state);
    assert_eq!(
        task_sets(&service),
        [
            task_set("PRIMARY", "web:1", 2, 0, true),
            task_set("ACTIVE", "web:2", 0, 2, false)
        ]
    );
    let replacement = service["taskSets"][1]["id"].as_str().unwrap().to_string();
    assert!(replacement.starts_with("ecs-svc/") && replacement != original);
    assert_eq!(service["taskSets"][1]["startedBy"], "CodeDeploy");
    assert_eq!(service["taskDefinition"], v1);
    let started: Vec<Value> = state
        .tasks_json("prod")
        .into_iter()
        .filter(|t| t["startedBy"] == json!(replacement))
        .collect();
    assert_eq!(started.len(), 2);
    for task in &started {
        assert_eq!(task["group"], "service:web");
        assert_eq!(task["lastStatus"], "PROVISIONING");
        assert_eq!(task["taskDefinitionArn"], v2);
    }
    assert!(messages(&service)[0].starts_with("(service web) has started 2 tasks: (task "));
    let listed = ok(
        &mut state,
        "ListTasks",
        json!({"cluster": "prod", "serviceName": "web", "startedBy": replacement}),
    );
    assert_eq!(listed["taskArns"].as_array().unwrap().len(), 2);
    let info = get(&mut state, &id); // call 2
    assert!(info["startTime"].is_f64());
    assert_eq!(info["deploymentOverview"]["InProgress"], 1);

    // Call 2 made Install succeed: the replacement runs.
    let target = ecs_target(&mut state, &id);
    assert_eq!(event_statuses(&target), events("SSI....."));
    assert_eq!(
        task_sets(&web_service(&state)),
        [
            task_set("PRIMARY", "web:1", 2, 0, true),
            task_set("ACTIVE", "web:2", 2, 0, true)
        ]
    );
    assert!(messages(&web_service(&state))[0].starts_with("(service web) registered 2 targets in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-green/"));
    let infos: Vec<(Value, Value, Value, Value, Value)> = target["taskSetsInfo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["identifer"].clone(),
                t["status"].clone(),
                t["trafficWeight"].clone(),
                t["targetGroup"]["name"].clone(),
                t["taskSetLabel"].clone(),
            )
        })
        .collect();
    assert_eq!(
        infos,
        [
            (
                json!(original),
                json!("PRIMARY"),
                json!(100.0),
                json!("web-blue"),
                json!("Blue")
            ),
            (
                json!(replacement),
                json!("ACTIVE"),
                json!(0.0),
                json!("web-green"),
                json!("Green")
            ),
        ]
    );
    assert_eq!(target["taskSetsInfo"][1]["runningCount"], 2);
    assert_eq!(
        target["targetArn"],
        "arn:aws:ecs:us-east-1:123456789012:service/prod/web"
    );
    assert_eq!(target["targetId"], "prod:web");
    assert_eq!(target["deploymentId"], json!(id));
    let install = &target["lifecycleEvents"][1];
    assert_eq!(install["lifecycleEventName"], "Install");
    assert!(install["startTime"].as_f64() < install["endTime"].as_f64());

    assert_eq!(step(&mut state, &id), (s("InProgress"), events("SSSSI...")));
    assert_eq!(step(&mut state, &id), (s("InProgress"), events("SSSSSSI.")));
    assert_eq!(web_service(&state)["taskDefinition"], v1);
    // Call 5: AllowTraffic and AfterAllowTraffic succeed, the original drains and goes.
    assert_eq!(step(&mut state, &id), (s("Succeeded"), events("SSSSSSSS")));
    let service = web_service(&state);
    assert_eq!(service["taskDefinition"], v2);
    assert_eq!(
        task_sets(&service),
        [task_set("PRIMARY", "web:2", 2, 0, true)]
    );
    assert_eq!(service["taskSets"][0]["id"], json!(replacement));
    assert_eq!(service["runningCount"], 2);
    let texts = messages(&service);
    assert_eq!(texts[0], "(service web) has reached a steady state.");
    assert!(texts[1].starts_with("(service web) has stopped 2 running tasks: "));
    assert_eq!(
        texts[2],
        format!("(service web, taskSet {original}) has begun draining connections on 2 tasks.")
    );
    let old_tasks: Vec<Value> = state
        .tasks_json("prod")
        .into_iter()
        .filter(|t| t["startedBy"] == json!(original))
        .collect();
    assert!(old_tasks.iter().all(|t| t["lastStatus"] == "STOPPED"));
    let info = get(&mut state, &id);
    assert!(info["completeTime"].as_f64() > info["startTime"].as_f64());
    assert_eq!(info["deploymentOverview"]["Succeeded"], 1);
    let target = ecs_target(&mut state, &id);
    assert_eq!(target["status"], "Succeeded");
    assert_eq!(target["taskSetsInfo"].as_array().unwrap().len(), 1);
    assert_eq!(target["taskSetsInfo"][0]["trafficWeight"], 100.0);
    // Over: more calls change nothing, and the group takes the next deployment.
    assert_eq!(get(&mut state, &id), info);
    let next = create(&mut state, &v1);
    assert_ne!(next, id);
    let got = cd_ok(
        &mut state,
        "BatchGetDeploymentGroups",
        json!({"applicationName": "web-app", "deploymentGroupNames": ["web-dg"]}),
    );
    let group = &got["deploymentGroupsInfo"][0];
    assert_eq!(group["lastSuccessfulDeployment"]["deploymentId"], json!(id));
    assert_eq!(
        group["lastAttemptedDeployment"]["deploymentId"],
        json!(next)
    );
    assert_eq!(group["lastAttemptedDeployment"]["status"], "Created");
}

#[test]
fn succeed_spreads_the_events_over_its_polls() {
    let walk = |polls: u32| {
        let (mut state, _, v2) = codedeploy_setup(DeploymentGroupOptions::default());
        state
            .codedeploy
            .set_runs("web-app", "web-dg", vec![CodeDeployRun::Succeed { polls }]);
        let id = create(&mut state, &v2);
        let mut seen = Vec::new();
        loop {
            let (status, statuses) = step(&mut state, &id);
            let in_progress = statuses.iter().position(|e| e == "InProgress");
            seen.push(in_progress.map_or(status, |i| ECS_LIFECYCLE_EVENTS[i].to_string()));
            if seen.last().is_some_and(|s| s == "Succeeded") {
                return seen;
            }
        }
    };
    assert_eq!(walk(1), ["Install", "Succeeded"]);
    assert_eq!(walk(0), ["Install", "Succeeded"]);
    assert_eq!(walk(2), ["Install", "AfterAllowTestTraffic", "Succeeded"]);
    assert_eq!(
        walk(7),
        [
            "Install",
            "AfterInstall",
            "AllowTestTraffic",
            "AfterAllowTestTraffic",
            "BeforeAllowTraffic",
            "AllowTraffic",
            "AfterAllowTraffic",
            "Succeeded"
        ]
    );
}

#[test]
fn wait_for_reroute_stops_in_ready_until_continue_deployment() {
    let (mut state, v1, v2) = codedeploy_setup(DeploymentGroupOptions {
        wait_for_reroute: true,
        ..DeploymentGroupOptions::default()
    });
    let id = create(&mut state, &v2);
    let continue_input = json!({"deploymentId": id, "deploymentWaitType": "READY_WAIT"});
    assert_eq!(
        cd_fails(&mut state, "ContinueDeployment", continue_input.clone()),
        "DeploymentIsNotInReadyStateException"
    );
    assert_eq!(step(&mut state, &id), (s("InProgress"), events("SI......")));
    assert_eq!(step(&mut state, &id), (s("InProgress"), events("SSI.....")));
    assert_eq!(step(&mut state, &id), (s("InProgress"), events("SSSSI...")));
    assert_eq!(step(&mut state, &id), (s("Ready"), events("SSSSS...")));
    for _ in 0..3 {
        assert_eq!(step(&mut state, &id), (s("Ready"), events("SSSSS...")));
    }
    let target = ecs_target(&mut state, &id);
    assert_eq!(target["status"], "Ready");
    assert_eq!(get(&mut state, &id)["deploymentOverview"]["Ready"], 1);
    // Test traffic only: the original still serves production.
    let service = web_service(&state);
    assert_eq!(service["taskDefinition"], v1);
    assert_eq!(
        task_sets(&service),
        [
            task_set("PRIMARY", "web:1", 2, 0, true),
            task_set("ACTIVE", "web:2", 2, 0, true)
        ]
    );
    assert_eq!(
        cd_fails(
            &mut state,
            "ContinueDeployment",
            json!({"deploymentId": id, "deploymentWaitType": "TERMINATION_WAIT"})
        ),
        "DeploymentIsNotInReadyStateException"
    );
    assert_eq!(
        cd_fails(
            &mut state,
            "ContinueDeployment",
            json!({"deploymentId": id, "deploymentWaitType": "SOON"})
        ),
        "InvalidDeploymentWaitTypeException"
    );
    assert_eq!(
        cd_fails(&mut state, "ContinueDeployment", json!({})),
        "DeploymentIdRequiredException"
    );
    assert_eq!(
        cd_ok(&mut state, "ContinueDeployment", continue_input.clone()),
        json!({})
    );
    assert_eq!(
        state.codedeploy_deployments_json()[0]["status"],
        "InProgress"
    );
    assert_eq!(step(&mut state, &id), (s("InProgress"), events("SSSSSSI.")));
    assert_eq!(step(&mut state, &id), (s("Succeeded"), events("SSSSSSSS")));
    assert_eq!(web_service(&state)["taskDefinition"], v2);
    assert_eq!(
        cd_fails(&mut state, "ContinueDeployment", continue_input),
        "DeploymentAlreadyCompletedException"
    );
}

#[test]
fn fail_at_a_hook_fails_with_diagnostics_and_rolls_back() {
    let (mut state, v1, v2) = codedeploy_setup(DeploymentGroupOptions {
        auto_rollback: true,
        ..DeploymentGroupOptions::default()
    });
    state.codedeploy.set_runs(
        "web-app",
        "web-dg",
        vec![CodeDeployRun::FailAt {
            event: "AfterAllowTestTraffic".into(),
            message: "smoke test: GET /health answered 503".into(),
        }],
    );
    let id = create(&mut state, &v2);
    assert_eq!(step(&mut state, &id), (s("InProgress"), events("SI......")));
    assert_eq!(step(&mut state, &id), (s("InProgress"), events("SSI.....")));
    assert_eq!(step(&mut state, &id), (s("InProgress"), events("SSSSI...")));
    let info = get(&mut state, &id);
    assert_eq!(info["status"], "Failed");
    assert_eq!(
        info["errorInformation"],
        json!({"code": "HOOK_EXECUTION_FAILURE", "message": "The deployment failed because the AfterAllowTestTraffic lifecycle event failed: smoke test: GET /health answered 503"})
    );
    assert!(info["completeTime"].is_f64());
    assert_eq!(info["deploymentOverview"]["Failed"], 1);
    let rollback_id = info["rollbackInfo"]["rollbackDeploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(rollback_id, id);
    assert_eq!(
        info["rollbackInfo"]["rollbackMessage"],
        format!("Deployment {id} failed and was rolled back by deployment {rollback_id}.")
    );
    let target = ecs_target(&mut state, &id);
    assert_eq!(target["status"], "Failed");
    assert_eq!(event_statuses(&target), events("SSSSFKKK"));
    assert_eq!(
        target["lifecycleEvents"][4]["diagnostics"],
        json!({"errorCode": "ScriptFailed", "scriptName": "web-smoke-test", "message": "smoke test: GET /health answered 503", "logTail": "smoke test: GET /health answered 503"})
    );
    assert!(target["lifecycleEvents"][3].get("diagnostics").is_none());
    // The replacement waits for the rollback.
    assert_eq!(task_sets(&web_service(&state)).len(), 2);

    let rollback = state.codedeploy_deployments_json()[0].clone();
    assert_eq!(rollback["deploymentId"], json!(rollback_id));
    assert_eq!(rollback["status"], "Created");
    assert_eq!(rollback["creator"], "codeDeployRollback");
    assert_eq!(
        rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"],
        json!(id)
    );
    assert_eq!(
        rollback["rollbackInfo"]["rollbackMessage"],
        format!("Rollback of deployment {id}, which failed.")
    );
    assert!(rollback.get("revision").is_none());
    // The rollback keeps the group busy until it is over.
    assert_eq!(
        cd_fails(&mut state, "CreateDeployment", create_input(&appspec(&v2))),
        "DeploymentLimitExceededException"
    );
    // Polling the failed deployment does not move its rollback.
    get(&mut state, &id);
    assert_eq!(state.codedeploy_deployments_json()[0]["status"], "Created");
    assert_eq!(
        step(&mut state, &rollback_id),
        (s("InProgress"), events("KKKKKKI."))
    );
    assert_eq!(web_service(&state)["taskDefinition"], v1);
    assert_eq!(
        step(&mut state, &rollback_id),
        (s("Succeeded"), events("KKKKKKSK"))
    );
    let service = web_service(&state);
    assert_eq!(service["taskDefinition"], v1);
    assert_eq!(
        task_sets(&service),
        [task_set("PRIMARY", "web:1", 2, 0, true)]
    );
    assert!(state
        .tasks_json("prod")
        .iter()
        .filter(|t| t["taskDefinitionArn"] == json!(v2))
        .all(|t| t["lastStatus"] == "STOPPED"));
    assert_eq!(ecs_target(&mut state, &rollback_id)["status"], "Succeeded");
    // Now the group is free again.
    create(&mut state, &v2);
}

#[test]
fn fail_at_after_the_traffic_shift_without_rollback_puts_the_original_back() {
    let (mut state, v1, v2) = codedeploy_setup(DeploymentGroupOptions::default());
    state.codedeploy.set_runs(
        "web-app",
        "web-dg",
        vec![
            CodeDeployRun::FailAt {
                event: "AfterAllowTraffic".into(),
                message: "late check failed".into(),
            },
            CodeDeployRun::FailAt {
                event: "BeforeInstall".into(),
                message: "no".into(),
            },
        ],
    );
    let id = create(&mut state, &v2);
    for _ in 0..4 {
        get(&mut state, &id);
    }
    let info = get(&mut state, &id);
    assert_eq!(info["status"], "Failed");
    assert!(info.get("rollbackInfo").is_none());
    let target = ecs_target(&mut state, &id);
    assert_eq!(event_statuses(&target), events("SSSSSSSF"));
    assert_eq!(
        target["lifecycleEvents"][7]["diagnostics"]["scriptName"],
        "N/A"
    );
    let service = web_service(&state);
    assert_eq!(service["taskDefinition"], v1);
    assert_eq!(
        task_sets(&service),
        [task_set("PRIMARY", "web:1", 2, 0, true)]
    );
    assert_eq!(state.codedeploy.deployments.len(), 1);

    // Failing at BeforeInstall: no replacement ever.
    let id = create(&mut state, &v2);
    assert_eq!(step(&mut state, &id), (s("Failed"), events("FKKKKKKK")));
    assert_eq!(task_sets(&web_service(&state)).len(), 1);
    assert_eq!(
        get(&mut state, &id)["errorInformation"]["code"],
        "HOOK_EXECUTION_FAILURE"
    );
}

#[test]
fn fail_at_picks_the_error_code_of_the_event_and_waits_for_continue_after_ready() {
    for (event, code) in [
        ("Install", "ECS_UPDATE_ERROR"),
        ("AllowTestTraffic", "ELASTIC_LOAD_BALANCING_INVALID"),
        ("AllowTraffic", "ELASTIC_LOAD_BALANCING_INVALID"),
        ("BeforeAllowTraffic", "HOOK_EXECUTION_FAILURE"),
    ] {
        let (mut state, _, v2) = codedeploy_setup(DeploymentGroupOptions {
            wait_for_reroute: true,
            ..DeploymentGroupOptions::default()
        });
        let run = CodeDeployRun::FailAt {
            event: event.into(),
            message: "boom".into(),
        };
        state.codedeploy.set_runs("web-app", "web-dg", vec![run]);
        let id = create(&mut state, &v2);
        let mut status = String::new();
        for _ in 0..6 {
            status = get(&mut state, &id)["status"].as_str().unwrap().to_string();
            if status == "Ready" {
                cd_ok(
                    &mut state,
                    "ContinueDeployment",
                    json!({"deploymentId": id}),
                );
            }
            if status == "Failed" {
                break;
            }
        }
        assert_eq!(status, "Failed", "{event}");
        let info = get(&mut state, &id);
        assert_eq!(info["errorInformation"]["code"], code, "{event}");
        let target = ecs_target(&mut state, &id);
        let failed = ECS_LIFECYCLE_EVENTS
            .iter()
            .position(|e| *e == event)
            .unwrap();
        assert_eq!(
            target["lifecycleEvents"][failed]["status"], "Failed",
            "{event}"
        );
    }
}

#[test]
#[should_panic(expected = "CodeDeployRun::FailAt names \"Deploy\"")]
fn fail_at_an_unknown_event_panics() {
    let (mut state, _, _) = codedeploy_setup(DeploymentGroupOptions::default());
    let run = CodeDeployRun::FailAt {
        event: "Deploy".into(),
        message: "x".into(),
    };
    state.codedeploy.set_runs("web-app", "web-dg", vec![run]);
}

#[test]
fn tasks_fail_stops_the_replacements_tasks_and_fails_with_ecs_update_error() {
    let (mut state, v1, v2) = codedeploy_setup(DeploymentGroupOptions::default());
    let reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s)";
    state.codedeploy.set_runs(
        "web-app",
        "web-dg",
        vec![CodeDeployRun::TasksFail {
            reason: reason.into(),
        }],
    );
    let id = create(&mut state, &v2);
    assert_eq!(step(&mut state, &id), (s("InProgress"), events("SI......")));
    let service = web_service(&state);
    let replacement = service["taskSets"][1]["id"].clone();
    assert_eq!(
        task_sets(&service),
        [
            task_set("PRIMARY", "web:1", 2, 0, true),
            task_set("ACTIVE", "web:2", 0, 2, false)
        ]
    );
    let failed = |state: &State| -> Vec<Value> {
        state
            .tasks_json("prod")
            .into_iter()
            .filter(|t| t["startedBy"] == replacement)
            .collect()
    };
    assert_eq!(failed(&state).len(), 2);
    for task in failed(&state) {
        assert_eq!(task["lastStatus"], "STOPPED");
        assert_eq!(task["stoppedReason"], reason);
        assert_eq!(task["stopCode"], "EssentialContainerExited");
        assert_eq!(task["group"], "service:web");
        assert_eq!(task["containers"][0]["exitCode"], 1);
        assert_eq!(task["containers"][0]["reason"], reason);
    }
    assert_eq!(step(&mut state, &id), (s("InProgress"), events("SI......")));
    assert_eq!(failed(&state).len(), 4);
    assert_eq!(step(&mut state, &id), (s("Failed"), events("SFKKKKKK")));
    let info = get(&mut state, &id);
    assert_eq!(info["errorInformation"]["code"], "ECS_UPDATE_ERROR");
    assert_eq!(
        info["errorInformation"]["message"],
        format!("The ECS service cannot reach a steady state. Error information: (service web, taskSet {}) tasks failed to start: {reason}", replacement.as_str().unwrap())
    );
    let target = ecs_target(&mut state, &id);
    assert_eq!(
        target["lifecycleEvents"][1]["diagnostics"]["errorCode"],
        "UnknownError"
    );
    let service = web_service(&state);
    assert_eq!(service["taskDefinition"], v1);
    assert_eq!(
        task_sets(&service),
        [task_set("PRIMARY", "web:1", 2, 0, true)]
    );
}

#[test]
fn tasks_fail_with_auto_rollback_leaves_the_cleanup_to_the_rollback() {
    let (mut state, v1, v2) = codedeploy_setup(DeploymentGroupOptions {
        auto_rollback: true,
        ..DeploymentGroupOptions::default()
    });
    state.codedeploy.set_runs(
        "web-app",
        "web-dg",
        vec![CodeDeployRun::TasksFail {
            reason: "exit 1".into(),
        }],
    );
    let id = create(&mut state, &v2);
    for _ in 0..3 {
        get(&mut state, &id);
    }
    let info = get(&mut state, &id);
    assert_eq!(info["status"], "Failed");
    let rollback_id = info["rollbackInfo"]["rollbackDeploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(task_sets(&web_service(&state)).len(), 2);
    get(&mut state, &rollback_id);
    assert_eq!(get(&mut state, &rollback_id)["status"], "Succeeded");
    let service = web_service(&state);
    assert_eq!(service["taskDefinition"], v1);
    assert_eq!(task_sets(&service).len(), 1);
}

#[test]
fn stuck_stays_in_install_until_stop_deployment() {
    let (mut state, v1, v2) = codedeploy_setup(DeploymentGroupOptions::default());
    state
        .codedeploy
        .set_runs("web-app", "web-dg", vec![CodeDeployRun::Stuck]);
    let id = create(&mut state, &v2);
    for _ in 0..5 {
        assert_eq!(step(&mut state, &id), (s("InProgress"), events("SI......")));
    }
    assert_eq!(
        task_sets(&web_service(&state)),
        [
            task_set("PRIMARY", "web:1", 2, 0, true),
            task_set("ACTIVE", "web:2", 0, 2, false)
        ]
    );
    let stopped = cd_ok(&mut state, "StopDeployment", json!({"deploymentId": id}));
    assert_eq!(
        stopped,
        json!({"status": "Succeeded", "statusMessage": format!("Deployment {id} was stopped.")})
    );
    let info = get(&mut state, &id);
    assert_eq!(info["status"], "Stopped");
    assert_eq!(
        info["errorInformation"],
        json!({"code": "MANUAL_STOP", "message": format!("The deployment {id} was stopped by a StopDeployment request.")})
    );
    assert!(info.get("rollbackInfo").is_none());
    let target = ecs_target(&mut state, &id);
    assert_eq!(event_statuses(&target), events("SFKKKKKK"));
    assert_eq!(target["status"], "Failed");
    let service = web_service(&state);
    assert_eq!(service["taskDefinition"], v1);
    assert_eq!(
        task_sets(&service),
        [task_set("PRIMARY", "web:1", 2, 0, true)]
    );
    let never_ran: Vec<Value> = state
        .tasks_json("prod")
        .into_iter()
        .filter(|t| t["taskDefinitionArn"] == json!(v2))
        .collect();
    assert_eq!(never_ran.len(), 2);
    for task in never_ran {
        assert_eq!(task["lastStatus"], "STOPPED");
        assert!(task["containers"][0].get("exitCode").is_none());
    }
    assert_eq!(
        cd_fails(&mut state, "StopDeployment", json!({"deploymentId": id})),
        "DeploymentAlreadyCompletedException"
    );
}

#[test]
fn stop_deployment_with_rollback_starts_a_rollback_deployment() {
    let (mut state, v1, v2) = codedeploy_setup(DeploymentGroupOptions {
        wait_for_reroute: true,
        ..DeploymentGroupOptions::default()
    });
    let id = create(&mut state, &v2);
    for _ in 0..4 {
        get(&mut state, &id);
    }
    assert_eq!(state.codedeploy_deployments_json()[0]["status"], "Ready");
    let stopped = cd_ok(
        &mut state,
        "StopDeployment",
        json!({"deploymentId": id, "autoRollbackEnabled": true}),
    );
    assert_eq!(stopped["status"], "Pending");
    let info = get(&mut state, &id);
    assert_eq!(info["status"], "Stopped");
    assert_eq!(info["errorInformation"]["code"], "MANUAL_STOP");
    let rollback_id = info["rollbackInfo"]["rollbackDeploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        stopped["statusMessage"],
        format!("Deployment {id} was stopped; rollback deployment {rollback_id} is pending.")
    );
    assert_eq!(
        event_statuses(&ecs_target(&mut state, &id)),
        events("SSSSSKKK")
    );
    assert_eq!(task_sets(&web_service(&state)).len(), 2);
    let rollback = get(&mut state, &rollback_id);
    assert_eq!(rollback["status"], "InProgress");
    assert_eq!(
        rollback["rollbackInfo"]["rollbackMessage"],
        format!("Rollback of deployment {id}, which was stopped.")
    );
    // A rollback is not rolled back: stopping it just ends it.
    let stopped = cd_ok(
        &mut state,
        "StopDeployment",
        json!({"deploymentId": rollback_id, "autoRollbackEnabled": true}),
    );
    assert_eq!(stopped["status"], "Succeeded");
    let service = web_service(&state);
    assert_eq!(service["taskDefinition"], v1);
    assert_eq!(task_sets(&service).len(), 1);
    assert_eq!(state.codedeploy.deployments.len(), 2);
}

#[test]
fn stop_deployment_follows_the_groups_auto_rollback_unless_told() {
    for (auto_rollback, asked, rolls_back) in [
        (true, None, true),
        (true, Some(false), false),
        (false, None, false),
        (false, Some(true), true),
    ] {
        let (mut state, _, v2) = codedeploy_setup(DeploymentGroupOptions {
            auto_rollback,
            ..DeploymentGroupOptions::default()
        });
        let id = create(&mut state, &v2);
        get(&mut state, &id);
        let mut input = json!({"deploymentId": id});
        if let Some(asked) = asked {
            input["autoRollbackEnabled"] = json!(asked);
        }
        cd_ok(&mut state, "StopDeployment", input);
        let info = state.codedeploy_deployments_json();
        assert_eq!(
            info.len(),
            1 + usize::from(rolls_back),
            "{auto_rollback} {asked:?}"
        );
        assert_eq!(
            info.last().unwrap()["rollbackInfo"].is_object(),
            rolls_back,
            "{auto_rollback} {asked:?}"
        );
    }
}

#[test]
fn deployment_operations_validate_ids_and_targets() {
    let (mut state, _, v2) = codedeploy_setup(DeploymentGroupOptions::default());
    let id = create(&mut state, &v2);
    let cases = [
        ("GetDeployment", json!({}), "DeploymentIdRequiredException"),
        (
            "GetDeployment",
            json!({"deploymentId": ""}),
            "DeploymentIdRequiredException",
        ),
        (
            "GetDeployment",
            json!({"deploymentId": "deploy-1"}),
            "InvalidDeploymentIdException",
        ),
        (
            "GetDeployment",
            json!({"deploymentId": "d-abcdefghi"}),
            "InvalidDeploymentIdException",
        ),
        (
            "GetDeployment",
            json!({"deploymentId": "d-AAAAAAAAA"}),
            "DeploymentDoesNotExistException",
        ),
        (
            "GetDeployment",
            json!({"deploymentId": 12}),
            "SerializationException",
        ),
        (
            "StopDeployment",
            json!({"deploymentId": "d-AAAAAAAAA"}),
            "DeploymentDoesNotExistException",
        ),
        (
            "StopDeployment",
            json!({"deploymentId": id, "autoRollbackEnabled": "yes"}),
            "SerializationException",
        ),
        (
            "ContinueDeployment",
            json!({"deploymentId": "d-AAAAAAAAA"}),
            "DeploymentDoesNotExistException",
        ),
        (
            "ListDeploymentTargets",
            json!({}),
            "DeploymentIdRequiredException",
        ),
        (
            "ListDeploymentTargets",
            json!({"deploymentId": id}),
            "DeploymentNotStartedException",
        ),
        (
            "GetDeploymentTarget",
            json!({"deploymentId": id}),
            "DeploymentTargetIdRequiredException",
        ),
        (
            "GetDeploymentTarget",
            json!({"targetId": "prod:web"}),
            "DeploymentIdRequiredException",
        ),
    ];
    for (operation, input, code) in cases {
        assert_eq!(
            cd_fails(&mut state, operation, input.clone()),
            code,
            "{operation} {input}"
        );
    }
    get(&mut state, &id);
    assert_eq!(
        cd_fails(
            &mut state,
            "GetDeploymentTarget",
            json!({"deploymentId": id, "targetId": "prod:api"})
        ),
        "DeploymentTargetDoesNotExistException"
    );
    let list = |filters: Value| json!({"deploymentId": id, "targetFilters": filters});
    assert_eq!(
        cd_ok(
            &mut state,
            "ListDeploymentTargets",
            json!({"deploymentId": id})
        ),
        json!({"targetIds": ["prod:web"]})
    );
    assert_eq!(
        cd_ok(
            &mut state,
            "ListDeploymentTargets",
            list(json!({"TargetStatus": ["InProgress"], "ServerInstanceLabel": ["Blue"]}))
        ),
        json!({"targetIds": ["prod:web"]})
    );
    assert_eq!(
        cd_ok(
            &mut state,
            "ListDeploymentTargets",
            list(json!({"TargetStatus": ["Failed"]}))
        ),
        json!({"targetIds": []})
    );
    assert_eq!(
        cd_fails(
            &mut state,
            "ListDeploymentTargets",
            list(json!({"Color": ["Blue"]}))
        ),
        "InvalidTargetFilterNameException"
    );
}

#[test]
fn list_deployments_filters_and_answers_newest_first() {
    let (mut state, v1, v2) = codedeploy_setup(DeploymentGroupOptions::default());
    state.codedeploy.set_runs(
        "web-app",
        "web-dg",
        vec![CodeDeployRun::Succeed { polls: 1 }, CodeDeployRun::Stuck],
    );
    let first = create(&mut state, &v2);
    let first_time = state.codedeploy_deployments_json()[0]["createTime"]
        .as_f64()
        .unwrap();
    get(&mut state, &first);
    get(&mut state, &first);
    let second = create(&mut state, &v1);
    get(&mut state, &second);
    let ids = |state: &mut State, input: Value| {
        cd_ok(state, "ListDeployments", input)["deployments"].clone()
    };
    let group = json!({"applicationName": "web-app", "deploymentGroupName": "web-dg"});
    assert_eq!(ids(&mut state, json!({})), json!([second, first]));
    assert_eq!(ids(&mut state, group.clone()), json!([second, first]));
    let mut only = group.clone();
    only["includeOnlyStatuses"] = json!(["Succeeded"]);
    assert_eq!(ids(&mut state, only), json!([first]));
    let mut active = group.clone();
    active["includeOnlyStatuses"] = json!(["Created", "Queued", "InProgress", "Ready", "Baking"]);
    assert_eq!(ids(&mut state, active), json!([second]));
    let mut since = group.clone();
    since["createTimeRange"] = json!({"start": first_time + 0.5});
    assert_eq!(ids(&mut state, since), json!([second]));
    let mut until = group.clone();
    until["createTimeRange"] = json!({"start": first_time - 10.0, "end": first_time});
    assert_eq!(ids(&mut state, until), json!([first]));
    let cases = [
        (
            json!({"applicationName": "web-app"}),
            "DeploymentGroupNameRequiredException",
        ),
        (
            json!({"deploymentGroupName": "web-dg"}),
            "ApplicationNameRequiredException",
        ),
        (
            json!({"applicationName": "nope", "deploymentGroupName": "web-dg"}),
            "ApplicationDoesNotExistException",
        ),
        (
            json!({"applicationName": "web-app", "deploymentGroupName": "nope"}),
            "DeploymentGroupDoesNotExistException",
        ),
        (
            json!({"includeOnlyStatuses": ["Done"]}),
            "InvalidDeploymentStatusException",
        ),
        (
            json!({"createTimeRange": {"start": 2.0, "end": 1.0}}),
            "InvalidTimeRangeException",
        ),
        (
            json!({"createTimeRange": {"start": "yesterday"}}),
            "InvalidTimeRangeException",
        ),
        (json!({"nextToken": "x"}), "InvalidNextTokenException"),
    ];
    for (input, code) in cases {
        assert_eq!(
            cd_fails(&mut state, "ListDeployments", input.clone()),
            code,
            "{input}"
        );
    }
}

#[test]
fn a_deleted_service_fails_its_deployment() {
    let (mut state, _, v2) = codedeploy_setup(DeploymentGroupOptions::default());
    let id = create(&mut state, &v2);
    state.deactivate_service("prod", "web");
    let info = get(&mut state, &id);
    assert_eq!(info["status"], "Failed");
    assert_eq!(info["errorInformation"]["code"], "INVALID_ECS_SERVICE");
}

#[test]
fn deny_and_faults_work_for_codedeploy_operations() {
    let (mut state, _, v2) = codedeploy_setup(DeploymentGroupOptions::default());
    let id = create(&mut state, &v2);
    state.inject_faults("GetDeployment", vec![Fault::Throttle]);
    state.deny("ListDeployments");
    state.deny("GetDeploymentTarget");
    let reply = state.handle(&codedeploy_request(
        "GetDeployment",
        &json!({"deploymentId": id}),
    ));
    assert_eq!((reply.status, reply.fault), (400, true));
    assert_eq!(body(&reply)["__type"], "ThrottlingException");
    // The throttled call did not advance it.
    assert_eq!(state.codedeploy_deployments_json()[0]["status"], "Created");
    assert_eq!(get(&mut state, &id)["status"], "InProgress");
    let group = json!({"applicationName": "web-app", "deploymentGroupName": "web-dg"});
    let reply = state.handle(&codedeploy_request("ListDeployments", &group));
    assert!(reply.fault);
    assert_eq!(
        body(&reply),
        json!({
            "__type": "AccessDeniedException",
            "message": "User: arn:aws:iam::123456789012:user/ecs-deploy-tests is not authorized to perform: codedeploy:ListDeployments on resource: arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:web-app/web-dg because no identity-based policy allows the codedeploy:ListDeployments action"
        })
    );
    let reply = state.handle(&codedeploy_request(
        "GetDeploymentTarget",
        &json!({"deploymentId": id, "targetId": "prod:web"}),
    ));
    assert!(body(&reply)["message"].as_str().unwrap().contains("codedeploy:GetDeploymentTarget on resource: arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:web-app/web-dg "));
    let reply = state.handle(&codedeploy_request("ListDeployments", &json!({})));
    assert!(body(&reply)["message"]
        .as_str()
        .unwrap()
        .contains(" on resource: * "));
    // ECS operations are not affected.
    poll(&mut state);
}

#[test]
fn codedeploy_deployments_are_deterministic() {
    let run = || {
        let (mut state, _, v2) = codedeploy_setup(DeploymentGroupOptions::default());
        let id = create(&mut state, &v2);
        (
            get(&mut state, &id),
            get(&mut state, &id),
            ecs_target(&mut state, &id),
        )
    };
    assert_eq!(run(), run());
}

/// The CodeDeploy shapes over real HTTP, so that a run with FAKE_ECS_TRANSCRIPT set puts each
/// of them in the transcript for scripts/model_check.py: every operation, a wait for rerouting,
/// a hook failure with its rollback, a stop with a rollback.
#[tokio::test]
async fn codedeploy_operations_over_http() {
    let fake = FakeEcs::start().await;
    fake.add_cluster("prod");
    let v1 = fake.seed_task_definition(web("acct/repo:v1"), vec![]);
    let v2 = fake.seed_task_definition(web("acct/repo:v2"), vec![]);
    fake.add_service("prod", "web", &v1, 2);
    fake.set_deployment_controller("prod", "web", "CODE_DEPLOY");
    fake.set_service_fields("prod", "web", code_deploy_fields());
    fake.add_codedeploy_application("web-app");
    fake.add_deployment_group(
        "web-app",
        "web-dg",
        "prod",
        "web",
        DeploymentGroupOptions {
            wait_for_reroute: true,
            auto_rollback: true,
            deployment_config_name: None,
        },
    );
    fake.set_codedeploy_runs(
        "web-app",
        "web-dg",
        vec![
            CodeDeployRun::Succeed { polls: 4 },
            CodeDeployRun::FailAt {
                event: "AfterAllowTestTraffic".into(),
                message: "503".into(),
            },
            CodeDeployRun::Stuck,
        ],
    );
    let call = |operation: &'static str, body: Value| {
        let fake = &fake;
        async move {
            http_body(
                &http_call_for(
                    fake,
                    CODEDEPLOY_TARGET_PREFIX,
                    AUTH_CODEDEPLOY,
                    operation,
                    &body,
                )
                .await,
            )
        }
    };
    call("ListApplications", json!({})).await;
    call(
        "ListDeploymentGroups",
        json!({"applicationName": "web-app"}),
    )
    .await;
    call(
        "BatchGetDeploymentGroups",
        json!({"applicationName": "web-app", "deploymentGroupNames": ["web-dg", "other"]}),
    )
    .await;
    let mut ids = Vec::new();
    for td in [&v2, &v1, &v1] {
        let id = call("CreateDeployment", create_input(&appspec(td))).await["deploymentId"].clone();
        let get = json!({"deploymentId": id});
        let target = json!({"deploymentId": id, "targetId": "prod:web"});
        for _ in 0..6 {
            let info = call("GetDeployment", get.clone()).await["deploymentInfo"].clone();
            call("GetDeploymentTarget", target.clone()).await;
            if info["status"] == "Ready" {
                call(
                    "ContinueDeployment",
                    json!({"deploymentId": id, "deploymentWaitType": "READY_WAIT"}),
                )
                .await;
            }
        }
        call("ListDeploymentTargets", json!({"deploymentId": id, "targetFilters": {"TargetStatus": ["InProgress", "Failed", "Succeeded"]}})).await;
        let info = call("GetDeployment", get.clone()).await["deploymentInfo"].clone();
        if info["status"] == "InProgress" {
            call(
                "StopDeployment",
                json!({"deploymentId": id, "autoRollbackEnabled": true}),
            )
            .await;
        }
        let info = call("GetDeployment", get.clone()).await["deploymentInfo"].clone();
        if let Some(rollback) = info["rollbackInfo"]["rollbackDeploymentId"].as_str() {
            for _ in 0..2 {
                call("GetDeployment", json!({"deploymentId": rollback})).await;
                call(
                    "GetDeploymentTarget",
                    json!({"deploymentId": rollback, "targetId": "prod:web"}),
                )
                .await;
            }
        }
        ids.push(id);
    }
    let statuses: Vec<Value> = fake
        .codedeploy_deployments()
        .iter()
        .map(|d| d["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        json!(["Succeeded", "Stopped", "Succeeded", "Failed", "Succeeded"])
            .as_array()
            .unwrap()
            .clone()
    );
    let listed = call("ListDeployments", json!({"applicationName": "web-app", "deploymentGroupName": "web-dg", "includeOnlyStatuses": ["Succeeded", "Failed", "Stopped"], "createTimeRange": {"start": 1_600_000_000.0, "end": 1_900_000_000.0}})).await;
    assert_eq!(listed["deployments"].as_array().unwrap().len(), 5);
    assert_eq!(
        fake.appspec_of(ids[0].as_str().unwrap())["Resources"][0]["TargetService"]["Properties"]
            ["TaskDefinition"],
        json!(v2)
    );
    assert_eq!(
        fake.codedeploy_target(ids[0].as_str().unwrap())["ecsTarget"]["status"],
        "Succeeded"
    );
    assert_eq!(fake.service("prod", "web")["taskDefinition"], v2);
}

#[tokio::test]
async fn the_transcript_records_codedeploy_lines_with_their_service() {
    let path = std::env::temp_dir().join(format!(
        "fake-ecs-codedeploy-transcript-{}-{:?}.jsonl",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_file(&path);
    let fake = FakeEcs::start().await;
    fake.set_transcript(&path);
    fake.add_codedeploy_application("web-app");
    fake.inject_faults("ListApplications", vec![Fault::Pass, Fault::Throttle]);
    let call = |operation: &'static str, body: Value| {
        let fake = &fake;
        async move {
            http_call_for(
                fake,
                CODEDEPLOY_TARGET_PREFIX,
                AUTH_CODEDEPLOY,
                operation,
                &body,
            )
            .await
        }
    };
    call("ListApplications", json!({})).await;
    call("ListApplications", json!({})).await;
    call("GetDeployment", json!({})).await;
    http_call(&fake, "ListClusters", &json!({})).await;
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0],
        json!({"service": "codedeploy", "operation": "ListApplications", "request": {},
               "status": 200, "response": {"applications": ["web-app"]}, "fault": false})
    );
    assert_eq!(
        lines[1],
        json!({"service": "codedeploy", "operation": "ListApplications", "request": {},
               "status": 400, "response": {"__type": "ThrottlingException", "message": "Rate exceeded"}, "fault": true})
    );
    assert_eq!(
        lines[2],
        json!({"service": "codedeploy", "operation": "GetDeployment", "request": {},
               "status": 400, "response": {"__type": "DeploymentIdRequiredException", "message": "At least one deployment ID must be specified."}, "fault": false})
    );
    assert_eq!(
        (lines[3]["service"].clone(), lines[3]["operation"].clone()),
        (json!("ecs"), json!("ListClusters"))
    );
    assert_eq!(lines.len(), 4);
}
