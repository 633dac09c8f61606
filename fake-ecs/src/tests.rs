//! Unit tests: request checks, operations and the rollout state machine, driven through
//! `State::handle` with hand-made requests (plus one smoke test over real HTTP).

use serde_json::{json, Value};
use wiremock::http::{HeaderMap, HeaderName, HeaderValue, Method};
use wiremock::Request;

use crate::model::{Reply, State, TARGET_PREFIX};
use crate::{FakeEcs, Fault, Rollout, TaskRun, ACCESS_KEY};

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
    let target = format!("{TARGET_PREFIX}{operation}");
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
    let reply = state.handle(&signed(operation, AUTH_OK, &input));
    assert_eq!(reply.status, 200, "{operation}: {}", reply.body);
    body(&reply)
}

/// Call an operation that must fail with HTTP `status`; its error code.
fn fails(state: &mut State, operation: &str, input: Value, status: u16) -> String {
    let reply = state.handle(&signed(operation, AUTH_OK, &input));
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

    let first = poll(&mut state);
    assert_eq!(
        deployment_summary(&first),
        [
            (s("PRIMARY"), s("web:2"), Some(s("IN_PROGRESS")), 1),
            (s("ACTIVE"), s("web:1"), Some(s("COMPLETED")), 1)
        ]
    );
    assert_eq!(first["deployments"][0]["pendingCount"], 1);
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
    use std::io::{Read, Write};

    let addr = fake.uri().trim_start_matches("http://").to_string();
    let body = body.to_string();
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: {TARGET_PREFIX}{operation}\r\nX-Amz-Date: 20250101T120000Z\r\nAuthorization: {AUTH_OK}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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
