//! CloudWatch Logs.

use super::*;
use crate::dispatch::LOGS_TARGET_PREFIX;

/// AUTH_OK scoped to the service `signing_name`.
fn auth(signing_name: &str) -> String {
    AUTH_OK.replace("/ecs/", &format!("/{signing_name}/"))
}

fn logs_request(operation: &str, input: &Value) -> Request {
    signed_for(LOGS_TARGET_PREFIX, operation, &auth("logs"), input)
}

/// Call a CloudWatch Logs operation that must succeed; its JSON reply.
fn logs_ok(state: &mut State, operation: &str, input: Value) -> Value {
    succeeded(operation, state.handle(&logs_request(operation, &input)))
}

/// Call a CloudWatch Logs operation that must fail with HTTP 400; its error code and message.
fn logs_fails(state: &mut State, operation: &str, input: Value) -> (String, String) {
    let reply = state.handle(&logs_request(operation, &input));
    let message = body(&reply)["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (failed(operation, reply, 400), message)
}

/// The messages of a GetLogEvents reply.
fn event_messages(reply: &Value) -> Vec<String> {
    reply["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

/// A stream `ecs/app/1` of the group `/ecs/web` with the events `l1` … `l5`, a second apart.
fn five_lines() -> State {
    let mut state = State::new();
    for n in 1..=5 {
        state.world.tick();
        state.put_log_lines("/ecs/web", "ecs/app/1", &[&format!("l{n}")]);
    }
    state
}

/// GetLogEvents of `ecs/app/1` in `/ecs/web` with these further members.
fn get_events(state: &mut State, more: Value) -> Value {
    let mut input = json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/app/1"});
    if let (Value::Object(input), Value::Object(more)) = (&mut input, more) {
        input.extend(more);
    }
    logs_ok(state, "GetLogEvents", input)
}

#[test]
fn get_log_events_reads_the_newest_events_unless_asked_for_the_oldest() {
    let mut state = five_lines();
    let all = get_events(&mut state, json!({}));
    assert_eq!(event_messages(&all), ["l1", "l2", "l3", "l4", "l5"]);
    let first = &all["events"][0];
    let t1 = first["timestamp"].as_i64().unwrap();
    assert_eq!(first["ingestionTime"], first["timestamp"]);
    assert_eq!(all["events"][1]["timestamp"].as_i64().unwrap(), t1 + 1000);
    // The fake clock, in milliseconds: it started at 1700000000.125 s and ticked once.
    assert_eq!(t1, 1_700_000_001_125);

    // startFromHead false (the default): the newest `limit`, oldest first; then backward.
    let newest = get_events(&mut state, json!({"limit": 2}));
    assert_eq!(event_messages(&newest), ["l4", "l5"]);
    let older = get_events(
        &mut state,
        json!({"limit": 2, "nextToken": newest["nextBackwardToken"]}),
    );
    assert_eq!(event_messages(&older), ["l2", "l3"]);
    let oldest = get_events(
        &mut state,
        json!({"limit": 2, "nextToken": older["nextBackwardToken"]}),
    );
    assert_eq!(event_messages(&oldest), ["l1"]);
    let nothing = get_events(
        &mut state,
        json!({"limit": 2, "nextToken": oldest["nextBackwardToken"]}),
    );
    assert_eq!(event_messages(&nothing), Vec::<String>::new());
    assert_eq!(nothing["nextBackwardToken"], oldest["nextBackwardToken"]);
    let token = newest["nextForwardToken"].as_str().unwrap();
    assert!(token.starts_with("f/") && token.ends_with("/s") && token.len() == 60);
    assert!(event_messages(&get_events(&mut state, json!({"nextToken": token}))).is_empty());

    // startFromHead true: the oldest `limit`; then forward, until what arrives later.
    let head = get_events(&mut state, json!({"limit": 2, "startFromHead": true}));
    assert_eq!(event_messages(&head), ["l1", "l2"]);
    let next = get_events(
        &mut state,
        json!({"limit": 2, "nextToken": head["nextForwardToken"]}),
    );
    assert_eq!(event_messages(&next), ["l3", "l4"]);
    let last = get_events(
        &mut state,
        json!({"limit": 2, "nextToken": next["nextForwardToken"]}),
    );
    assert_eq!(event_messages(&last), ["l5"]);
    let end = get_events(&mut state, json!({"nextToken": last["nextForwardToken"]}));
    assert!(event_messages(&end).is_empty());
    assert_eq!(end["nextForwardToken"], last["nextForwardToken"]);
    state.put_log_lines("/ecs/web", "ecs/app/1", &["l6"]);
    let later = get_events(&mut state, json!({"nextToken": end["nextForwardToken"]}));
    assert_eq!(event_messages(&later), ["l6"]);

    // startTime is inclusive, endTime exclusive; the window is taken within them.
    let between = get_events(
        &mut state,
        json!({"startTime": t1 + 1000, "endTime": t1 + 4000}),
    );
    assert_eq!(event_messages(&between), ["l2", "l3", "l4"]);
    let newest_between = get_events(
        &mut state,
        json!({"startTime": t1 + 1000, "endTime": t1 + 4000, "limit": 1}),
    );
    assert_eq!(event_messages(&newest_between), ["l4"]);

    // The group may be named by logGroupIdentifier, its name or its ARN.
    for identifier in [
        "/ecs/web",
        "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/web",
    ] {
        let input =
            json!({"logGroupIdentifier": identifier, "logStreamName": "ecs/app/1", "limit": 1});
        let reply = logs_ok(&mut state, "GetLogEvents", input);
        assert_eq!(event_messages(&reply), ["l6"], "{identifier}");
    }
    assert_eq!(
        state.world.logs.lines("/ecs/web", "ecs/app/1"),
        ["l1", "l2", "l3", "l4", "l5", "l6"]
    );
    assert!(state.world.logs.lines("/ecs/web", "ecs/app/2").is_empty());
    assert!(state.world.logs.lines("/ecs/api", "ecs/app/1").is_empty());
}

#[test]
fn get_log_events_refuses_what_cloudwatch_refuses() {
    let mut state = five_lines();
    state.add_log_group("/ecs/empty");
    let not_found = |message: &str| (s("ResourceNotFoundException"), s(message));
    assert_eq!(
        logs_fails(
            &mut state,
            "GetLogEvents",
            json!({"logGroupName": "/ecs/api", "logStreamName": "ecs/app/1"})
        ),
        not_found("The specified log group does not exist.")
    );
    assert_eq!(
        logs_fails(
            &mut state,
            "GetLogEvents",
            json!({"logGroupName": "/ecs/empty", "logStreamName": "ecs/app/1"})
        ),
        not_found("The specified log stream does not exist.")
    );
    let invalid = |message: &str| (s("InvalidParameterException"), s(message));
    let cases = [
        (
            json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/app/1", "limit": 0}),
            invalid("1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"),
        ),
        (
            json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/app/1", "limit": 10001}),
            invalid("1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000"),
        ),
        (
            json!({"logGroupName": "/ecs/web"}),
            invalid("1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint: Member must not be null"),
        ),
        (
            json!({"logGroupName": "/ecs/web", "logStreamName": ""}),
            invalid("1 validation error detected: Value '' at 'logStreamName' failed to satisfy constraint: Member must have length greater than or equal to 1"),
        ),
        (
            json!({"logGroupName": "/ecs/web", "logStreamName": "ecs:app"}),
            invalid("1 validation error detected: Value 'ecs:app' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*"),
        ),
        (
            json!({"logGroupName": "ecs web", "logStreamName": "ecs/app/1"}),
            invalid(r"1 validation error detected: Value 'ecs web' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+"),
        ),
        (
            json!({"logGroupIdentifier": "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/web:*", "logStreamName": "ecs/app/1"}),
            invalid(r"1 validation error detected: Value 'arn:aws:logs:us-east-1:123456789012:log-group:/ecs/web:*' at 'logGroupIdentifier' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w#+=/:,.@-]*"),
        ),
        (
            json!({"logStreamName": "ecs/app/1"}),
            invalid("Either LogGroupName or LogGroupIdentifier must be specified."),
        ),
        (
            json!({"logGroupName": "/ecs/web", "logGroupIdentifier": "/ecs/web", "logStreamName": "ecs/app/1"}),
            invalid("LogGroupName and LogGroupIdentifier are mutually exclusive parameters."),
        ),
        (
            json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/app/1", "startTime": -1}),
            invalid("1 validation error detected: Value '-1' at 'startTime' failed to satisfy constraint: Member must have value greater than or equal to 0"),
        ),
        (
            json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/app/1", "nextToken": "f/12/s"}),
            invalid("The specified nextToken is invalid."),
        ),
        (
            json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/app/1", "limit": "2"}),
            (s("SerializationException"), s("'limit' must be an integer.")),
        ),
        (
            json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/app/1", "startFromHead": "true"}),
            (s("SerializationException"), s("'startFromHead' must be a boolean.")),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            logs_fails(&mut state, "GetLogEvents", input.clone()),
            expected,
            "{input}"
        );
    }
    assert_eq!(
        logs_fails(&mut state, "PutLogEvents", json!({})).0,
        "UnknownOperationException"
    );
    // A request signed for another service is refused before anything else.
    let reply = state.handle(&signed_for(
        LOGS_TARGET_PREFIX,
        "GetLogEvents",
        AUTH_OK,
        &json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/app/1"}),
    ));
    assert_eq!(
        (reply.status, body(&reply)["__type"].as_str()),
        (403, Some("InvalidSignatureException"))
    );
    assert!(state.requests.iter().all(|r| r.service == "logs"));
}

#[test]
fn describe_log_groups_matches_a_prefix_and_pages() {
    let mut state = State::new();
    for name in ["/ecs/web", "/aws/lambda/report", "/ecs/worker", "/ecs/api"] {
        state.add_log_group(name);
    }
    state.put_log_lines("/ecs/web", "ecs/app/1", &["hello", "world!"]);
    let names = |reply: &Value| -> Vec<String> {
        reply["logGroups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["logGroupName"].as_str().unwrap().to_string())
            .collect()
    };
    let all = logs_ok(&mut state, "DescribeLogGroups", json!({}));
    assert_eq!(
        names(&all),
        ["/aws/lambda/report", "/ecs/api", "/ecs/web", "/ecs/worker"]
    );
    assert_eq!(all.get("nextToken"), None);
    assert_eq!(
        all["logGroups"][2],
        json!({
            "logGroupName": "/ecs/web",
            "creationTime": 1_700_000_000_125_i64,
            "metricFilterCount": 0,
            "arn": "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/web:*",
            "storedBytes": 11,
            "logGroupClass": "STANDARD",
            "logGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/web",
        })
    );
    let ecs = json!({"logGroupNamePrefix": "/ecs/"});
    assert_eq!(
        names(&logs_ok(&mut state, "DescribeLogGroups", ecs)),
        ["/ecs/api", "/ecs/web", "/ecs/worker"]
    );
    let missing = json!({"logGroupNamePrefix": "/ecs/web-"});
    assert!(names(&logs_ok(&mut state, "DescribeLogGroups", missing)).is_empty());

    let page = logs_ok(
        &mut state,
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "/ecs/", "limit": 2}),
    );
    assert_eq!(names(&page), ["/ecs/api", "/ecs/web"]);
    let rest = logs_ok(
        &mut state,
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "/ecs/", "limit": 2, "nextToken": page["nextToken"]}),
    );
    assert_eq!(names(&rest), ["/ecs/worker"]);
    assert_eq!(rest.get("nextToken"), None);

    let pattern = json!({"logGroupNamePattern": "WEB"});
    assert_eq!(
        names(&logs_ok(&mut state, "DescribeLogGroups", pattern)),
        ["/ecs/web"]
    );
    let identified = json!({"logGroupIdentifiers": ["/ecs/api", "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/worker"]});
    assert_eq!(
        names(&logs_ok(&mut state, "DescribeLogGroups", identified)),
        ["/ecs/api", "/ecs/worker"]
    );
    let infrequent = json!({"logGroupClass": "INFREQUENT_ACCESS"});
    assert!(names(&logs_ok(&mut state, "DescribeLogGroups", infrequent)).is_empty());

    let invalid = |message: &str| (s("InvalidParameterException"), s(message));
    let cases = [
        (
            json!({"limit": 51}),
            invalid("1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50"),
        ),
        (
            json!({"limit": 0}),
            invalid("1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"),
        ),
        (
            json!({"logGroupNamePrefix": ""}),
            invalid("1 validation error detected: Value '' at 'logGroupNamePrefix' failed to satisfy constraint: Member must have length greater than or equal to 1"),
        ),
        (
            json!({"logGroupNamePrefix": "/ecs", "logGroupNamePattern": "web"}),
            invalid("LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive parameters."),
        ),
        (
            json!({"logGroupIdentifiers": []}),
            invalid("1 validation error detected: Value '[]' at 'logGroupIdentifiers' failed to satisfy constraint: Member must have length greater than or equal to 1"),
        ),
        (
            json!({"logGroupClass": "COLD"}),
            invalid("Invalid logGroupClass 'COLD': use one of STANDARD, INFREQUENT_ACCESS, DELIVERY."),
        ),
        (
            json!({"nextToken": "page-2"}),
            invalid("The specified nextToken is invalid."),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            logs_fails(&mut state, "DescribeLogGroups", input.clone()),
            expected,
            "{input}"
        );
    }
}

#[test]
fn deny_and_faults_work_for_logs_operations() {
    let mut state = five_lines();
    state.inject_faults("GetLogEvents", vec![Fault::Throttle]);
    state.deny("DescribeLogGroups");
    let input = json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/app/1"});
    let reply = state.handle(&logs_request("GetLogEvents", &input));
    assert_eq!((reply.status, reply.fault), (400, true));
    assert_eq!(body(&reply)["__type"], "ThrottlingException");
    assert_eq!(event_messages(&get_events(&mut state, json!({}))).len(), 5);
    let reply = state.handle(&logs_request(
        "DescribeLogGroups",
        &json!({"logGroupNamePrefix": "/ecs/"}),
    ));
    assert!(reply.fault);
    assert_eq!(
        body(&reply),
        json!({
            "__type": "AccessDeniedException",
            "message": "User: arn:aws:iam::123456789012:user/ecs-deploy-tests is not authorized to perform: logs:DescribeLogGroups on resource: arn:aws:logs:us-east-1:123456789012:log-group::log-stream: because no identity-based policy allows the logs:DescribeLogGroups action"
        })
    );
    state.deny("GetLogEvents");
    let reply = state.handle(&logs_request("GetLogEvents", &input));
    assert!(body(&reply)["message"].as_str().unwrap().contains(
        "logs:GetLogEvents on resource: arn:aws:logs:us-east-1:123456789012:log-group:/ecs/web:log-stream:ecs/app/1 "
    ));
}

#[tokio::test]
async fn logs_are_served_over_http_and_transcribed_with_their_service() {
    let fake = FakeEcs::start().await;
    fake.add_log_group("/ecs/api");
    fake.put_log_lines("/ecs/web", "ecs/app/1", &["booting", "ready"]);
    let authorization = auth("logs");
    let call = |operation: &'static str, body: Value| {
        let (fake, authorization) = (&fake, &authorization);
        async move { http_call_for(fake, LOGS_TARGET_PREFIX, authorization, operation, &body).await }
    };
    let input = json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/app/1", "limit": 1, "startFromHead": false});
    let newest = http_body(&call("GetLogEvents", input).await);
    assert_eq!(event_messages(&newest), ["ready"]);
    let input = json!({"logGroupNamePrefix": "/ecs/", "limit": 1});
    let groups = http_body(&call("DescribeLogGroups", input).await);
    assert_eq!(groups["logGroups"][0]["logGroupName"], "/ecs/api");
    assert_eq!(groups["nextToken"], "fake-ecs-page-1");
    let input = json!({"logGroupName": "/ecs/api", "logStreamName": "ecs/app/1"});
    let missing = call("GetLogEvents", input).await;
    assert!(missing.starts_with("HTTP/1.1 400"), "{missing}");
    assert!(missing.contains("ResourceNotFoundException"), "{missing}");
    assert_eq!(
        fake.log_lines("/ecs/web", "ecs/app/1"),
        ["booting", "ready"]
    );
    assert_eq!(fake.count_of("logs", "GetLogEvents"), 2);
    assert_eq!(fake.count_of("ecs", "GetLogEvents"), 0);

    let path = std::env::temp_dir().join(format!(
        "fake-ecs-logs-transcript-{}-{:?}.jsonl",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_file(&path);
    fake.set_transcript(&path);
    call(
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "/ecs/api"}),
    )
    .await;
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let line: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(
        (&line["service"], &line["operation"], &line["status"]),
        (&json!("logs"), &json!("DescribeLogGroups"), &json!(200))
    );
    assert_eq!(line["response"]["logGroups"][0]["logGroupName"], "/ecs/api");
}
