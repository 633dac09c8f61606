//! CloudWatch Logs and ECR, and the log lines failing tasks write.

use super::*;
use crate::dispatch::{ECR_TARGET_PREFIX, LOGS_TARGET_PREFIX};

/// AUTH_OK scoped to the service `signing_name`.
fn auth(signing_name: &str) -> String {
    AUTH_OK.replace("/ecs/", &format!("/{signing_name}/"))
}

fn logs_request(operation: &str, input: &Value) -> Request {
    signed_for(LOGS_TARGET_PREFIX, operation, &auth("logs"), input)
}

fn ecr_request(operation: &str, input: &Value) -> Request {
    signed_for(ECR_TARGET_PREFIX, operation, &auth("ecr"), input)
}

/// Call a CloudWatch Logs operation that must succeed; its JSON reply.
fn logs_ok(state: &mut State, operation: &str, input: Value) -> Value {
    succeeded(operation, state.handle(&logs_request(operation, &input)))
}

/// Call a CloudWatch Logs operation that must fail with HTTP 400; its error code and message.
fn logs_fails(state: &mut State, operation: &str, input: Value) -> (String, String) {
    code_and_message(operation, state.handle(&logs_request(operation, &input)))
}

/// DescribeImages, which must succeed; its JSON reply.
fn describe_images(state: &mut State, input: Value) -> Value {
    let operation = "DescribeImages";
    succeeded(operation, state.handle(&ecr_request(operation, &input)))
}

/// DescribeImages, which must fail with HTTP 400; its error code and message.
fn describe_images_fails(state: &mut State, input: Value) -> (String, String) {
    let operation = "DescribeImages";
    code_and_message(operation, state.handle(&ecr_request(operation, &input)))
}

/// The error code and message of a reply that must be an HTTP 400.
fn code_and_message(operation: &str, reply: Reply) -> (String, String) {
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

/// The repository `acct/repo` with the images `v1` and `v2`, and the empty `acct/empty`;
/// the digests of `v1` and `v2`.
fn two_images() -> (State, String, String) {
    let mut state = State::new();
    let v1 = state.add_ecr_image("acct/repo", "v1");
    state.world.tick();
    let v2 = state.add_ecr_image("acct/repo", "v2");
    state.add_ecr_repository("acct/empty");
    (state, v1, v2)
}

/// The tags of a DescribeImages reply's images, in order.
fn image_tags(reply: &Value) -> Vec<String> {
    reply["imageDetails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["imageTags"][0].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn describe_images_finds_images_by_tag_and_digest() {
    let (mut state, v1, v2) = two_images();
    assert_eq!(
        v1,
        format!("sha256:{}", crate::sha256::hex_digest(b"acct/repo:v1"))
    );
    assert_ne!(v1, v2);
    // The same repository and tag push nothing new.
    assert_eq!(state.add_ecr_image("acct/repo", "v1"), v1);

    let all = describe_images(&mut state, json!({"repositoryName": "acct/repo"}));
    assert_eq!(image_tags(&all), ["v1", "v2"]);
    assert_eq!(all.get("nextToken"), None);
    let size = all["imageDetails"][0]["imageSizeInBytes"].as_u64().unwrap();
    assert!((20_000_000..100_000_000).contains(&size), "{size}");
    assert_eq!(
        all["imageDetails"][0],
        json!({
            "registryId": "123456789012",
            "repositoryName": "acct/repo",
            "imageDigest": v1,
            "imageTags": ["v1"],
            "imageSizeInBytes": size,
            "imagePushedAt": 1_700_000_000.125,
            "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "artifactMediaType": "application/vnd.docker.container.image.v1+json",
        })
    );
    assert_eq!(all["imageDetails"][1]["imagePushedAt"], 1_700_000_001.125);

    let by_tag = json!({"repositoryName": "acct/repo", "imageIds": [{"imageTag": "v2"}]});
    let reply = describe_images(&mut state, by_tag);
    assert_eq!(image_tags(&reply), ["v2"]);
    assert_eq!(reply["imageDetails"][0]["imageDigest"], v2);
    let by_digest = json!({"registryId": "123456789012", "repositoryName": "acct/repo",
                           "imageIds": [{"imageDigest": v1}, {"imageTag": "v1", "imageDigest": v1}]});
    assert_eq!(image_tags(&describe_images(&mut state, by_digest)), ["v1"]);
    let both = json!({"repositoryName": "acct/repo", "imageIds": [{"imageTag": "v2"}, {"imageTag": "v1"}]});
    assert_eq!(image_tags(&describe_images(&mut state, both)), ["v2", "v1"]);

    let page = describe_images(
        &mut state,
        json!({"repositoryName": "acct/repo", "maxResults": 1}),
    );
    assert_eq!(image_tags(&page), ["v1"]);
    let rest = describe_images(
        &mut state,
        json!({"repositoryName": "acct/repo", "maxResults": 1, "nextToken": page["nextToken"]}),
    );
    assert_eq!(image_tags(&rest), ["v2"]);
    assert_eq!(rest.get("nextToken"), None);

    let tagged = json!({"repositoryName": "acct/repo", "filter": {"tagStatus": "TAGGED", "imageStatus": "ACTIVE"}});
    assert_eq!(
        image_tags(&describe_images(&mut state, tagged)),
        ["v1", "v2"]
    );
    let untagged = json!({"repositoryName": "acct/repo", "filter": {"tagStatus": "UNTAGGED"}});
    assert!(image_tags(&describe_images(&mut state, untagged)).is_empty());
    let archived = json!({"repositoryName": "acct/repo", "filter": {"imageStatus": "ARCHIVED"}});
    assert!(image_tags(&describe_images(&mut state, archived)).is_empty());
    let empty = json!({"repositoryName": "acct/empty"});
    assert!(image_tags(&describe_images(&mut state, empty)).is_empty());
}

#[test]
fn describe_images_refuses_what_ecr_refuses() {
    let (mut state, v1, _) = two_images();
    let missing_digest = format!("sha256:{}", "0".repeat(64));
    let cases = [
        (
            json!({"repositoryName": "acct/other"}),
            ("RepositoryNotFoundException", s("The repository with name 'acct/other' does not exist in the registry with id '123456789012'")),
        ),
        (
            json!({"registryId": "999999999999", "repositoryName": "acct/repo"}),
            ("RepositoryNotFoundException", s("The repository with name 'acct/repo' does not exist in the registry with id '999999999999'")),
        ),
        (
            json!({"repositoryName": "acct/repo", "imageIds": [{"imageTag": "v1"}, {"imageTag": "v9"}]}),
            ("ImageNotFoundException", s("The image with imageId {imageDigest:'null', imageTag:'v9'} does not exist within the repository with name 'acct/repo' in the registry with id '123456789012'")),
        ),
        (
            json!({"repositoryName": "acct/repo", "imageIds": [{"imageDigest": missing_digest}]}),
            ("ImageNotFoundException", format!("The image with imageId {{imageDigest:'{missing_digest}', imageTag:'null'}} does not exist within the repository with name 'acct/repo' in the registry with id '123456789012'")),
        ),
        (
            json!({"repositoryName": "acct/repo", "imageIds": [{"imageTag": "v2", "imageDigest": v1}]}),
            ("ImageNotFoundException", format!("The image with imageId {{imageDigest:'{v1}', imageTag:'v2'}} does not exist within the repository with name 'acct/repo' in the registry with id '123456789012'")),
        ),
        (
            json!({}),
            ("InvalidParameterException", s("1 validation error detected: Value null at 'repositoryName' failed to satisfy constraint: Member must not be null")),
        ),
        (
            json!({"repositoryName": "a"}),
            ("InvalidParameterException", s("1 validation error detected: Value 'a' at 'repositoryName' failed to satisfy constraint: Member must have length greater than or equal to 2")),
        ),
        (
            json!({"repositoryName": "Acct/Repo"}),
            ("InvalidParameterException", s(r"1 validation error detected: Value 'Acct/Repo' at 'repositoryName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*")),
        ),
        (
            json!({"registryId": "12345", "repositoryName": "acct/repo"}),
            ("InvalidParameterException", s("1 validation error detected: Value '12345' at 'registryId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]{12}")),
        ),
        (
            json!({"repositoryName": "acct/repo", "imageIds": []}),
            ("InvalidParameterException", s("1 validation error detected: Value '[]' at 'imageIds' failed to satisfy constraint: Member must have length greater than or equal to 1")),
        ),
        (
            json!({"repositoryName": "acct/repo", "imageIds": [{}]}),
            ("InvalidParameterException", s("Invalid parameter at 'imageIds': an image identifier needs an imageTag or an imageDigest.")),
        ),
        (
            json!({"repositoryName": "acct/repo", "imageIds": [{"imageDigest": "v1"}]}),
            ("InvalidParameterException", s("1 validation error detected: Value 'v1' at 'imageDigest' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_+.]+:[a-fA-F0-9]+")),
        ),
        (
            json!({"repositoryName": "acct/repo", "imageIds": [{"imageTag": ""}]}),
            ("InvalidParameterException", s("1 validation error detected: Value '' at 'imageTag' failed to satisfy constraint: Member must have length greater than or equal to 1")),
        ),
        (
            json!({"repositoryName": "acct/repo", "imageIds": [{"imageTag": "v1"}], "maxResults": 5}),
            ("InvalidParameterException", s("maxResults and nextToken cannot be used together with imageIds.")),
        ),
        (
            json!({"repositoryName": "acct/repo", "maxResults": 1001}),
            ("InvalidParameterException", s("1 validation error detected: Value '1001' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000")),
        ),
        (
            json!({"repositoryName": "acct/repo", "filter": {"tagStatus": "SOME"}}),
            ("InvalidParameterException", s("Invalid tagStatus 'SOME': use one of TAGGED, UNTAGGED, ANY.")),
        ),
        (
            json!({"repositoryName": "acct/repo", "nextToken": "next"}),
            ("InvalidParameterException", s("Invalid NextToken.")),
        ),
        (
            json!({"repositoryName": "acct/repo", "imageIds": {"imageTag": "v1"}}),
            ("SerializationException", s("'imageIds' must be a list of image identifiers.")),
        ),
    ];
    for (input, (code, message)) in cases {
        assert_eq!(
            describe_images_fails(&mut state, input.clone()),
            (s(code), message),
            "{input}"
        );
    }
    assert!(state.requests.iter().all(|r| r.service == "ecr"));
}

#[test]
fn repository_names_follow_the_pattern_of_the_ecr_model() {
    for name in ["acct/repo", "a1", "my.repo_x__y---z/sub-dir/x9"] {
        assert!(crate::ecr::is_repository_name(name), "{name}");
    }
    for name in [
        "Acct", "-ab", "ab-", "a._b", "a___b", "a//b", "/ab", "ab/", "a b", "\u{e4}b",
    ] {
        assert!(!crate::ecr::is_repository_name(name), "{name}");
    }
}

#[test]
#[should_panic(expected = "is no ECR repository name")]
fn add_ecr_image_refuses_a_name_ecr_refuses() {
    State::new().add_ecr_image("Acct/Repo", "v1");
}

#[test]
fn deny_and_faults_work_for_ecr_operations() {
    let (mut state, _, _) = two_images();
    state.inject_faults("DescribeImages", vec![Fault::Throttle]);
    let input = json!({"repositoryName": "acct/repo"});
    let reply = state.handle(&ecr_request("DescribeImages", &input));
    assert_eq!((reply.status, reply.fault), (400, true));
    assert_eq!(body(&reply)["__type"], "ThrottlingException");
    assert_eq!(
        image_tags(&describe_images(&mut state, input.clone())).len(),
        2
    );
    state.deny("DescribeImages");
    let reply = state.handle(&ecr_request("DescribeImages", &input));
    assert!(reply.fault);
    assert_eq!(
        body(&reply),
        json!({
            "__type": "AccessDeniedException",
            "message": "User: arn:aws:iam::123456789012:user/ecs-deploy-tests is not authorized to perform: ecr:DescribeImages on resource: arn:aws:ecr:us-east-1:123456789012:repository/acct/repo because no identity-based policy allows the ecr:DescribeImages action"
        })
    );
    // Other APIs are not affected.
    state.add_log_group("/ecs/web");
    logs_ok(&mut state, "DescribeLogGroups", json!({}));
}

#[tokio::test]
async fn ecr_is_served_over_http() {
    let fake = FakeEcs::start().await;
    let digest = fake.add_ecr_image("acct/repo", "v1");
    fake.add_ecr_repository("acct/empty");
    let authorization = auth("ecr");
    let call = |body: Value| {
        let (fake, authorization) = (&fake, &authorization);
        async move {
            http_call_for(
                fake,
                ECR_TARGET_PREFIX,
                authorization,
                "DescribeImages",
                &body,
            )
            .await
        }
    };
    let input = json!({"registryId": "123456789012", "repositoryName": "acct/repo", "imageIds": [{"imageTag": "v1"}]});
    let found = http_body(&call(input).await);
    assert_eq!(found["imageDetails"][0]["imageDigest"], digest);
    let input = json!({"repositoryName": "acct/repo", "imageIds": [{"imageDigest": digest}]});
    assert_eq!(image_tags(&http_body(&call(input).await)), ["v1"]);
    let empty = http_body(&call(json!({"repositoryName": "acct/empty", "maxResults": 10})).await);
    assert_eq!(empty, json!({"imageDetails": []}));
    let input = json!({"repositoryName": "acct/repo", "imageIds": [{"imageTag": "v2"}]});
    let missing = call(input).await;
    assert!(missing.contains("ImageNotFoundException"), "{missing}");
    let missing = call(json!({"repositoryName": "acct/gone"})).await;
    assert!(missing.contains("RepositoryNotFoundException"), "{missing}");
    assert_eq!(fake.count_of("ecr", "DescribeImages"), 5);
}

/// `web(image)` whose containers log with `awslogs` with these options.
fn logged_web(image: &str, options: Value) -> Value {
    let mut td = web(image);
    for container in td["containerDefinitions"].as_array_mut().unwrap() {
        container["logConfiguration"] = json!({"logDriver": "awslogs", "options": options});
    }
    td
}

/// The usual awslogs options: group `group`, stream prefix `ecs`, this region.
fn awslogs(group: &str) -> Value {
    json!({"awslogs-group": group, "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs"})
}

/// The ids of the tasks of `prod` that run this task definition.
fn task_ids(state: &State, task_definition: &str) -> Vec<String> {
    state
        .tasks_json("prod")
        .iter()
        .filter(|t| t["taskDefinitionArn"] == task_definition)
        .map(|t| {
            t["taskArn"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The names of the log groups, as DescribeLogGroups lists them.
fn group_names(state: &mut State) -> Vec<String> {
    let reply = logs_ok(state, "DescribeLogGroups", json!({}));
    reply["logGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["logGroupName"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_failing_rollout_writes_the_log_of_each_failed_task() {
    let (mut state, _, v2) = setup();
    let logged =
        state.seed_task_definition(logged_web("acct/repo:v3", awslogs("/ecs/web")), vec![]);
    state.add_log_group("/ecs/web");
    let rollouts = vec![
        Rollout::TasksFail {
            polls: 1,
            tasks_per_poll: 2,
            reason: "CannotStartContainerError: exec: app: not found".into(),
        },
        Rollout::TasksFail {
            polls: 1,
            tasks_per_poll: 1,
            reason: "boom".into(),
        },
    ];
    state.set_rollouts("prod", "web", rollouts);
    update(&mut state, &logged);
    poll(&mut state);
    let failed = task_ids(&state, &logged);
    assert_eq!(failed.len(), 2);
    for id in &failed {
        let stream = format!("ecs/app/{id}");
        assert_eq!(
            state.world.logs.lines("/ecs/web", &stream),
            [
                "Starting the application",
                "FATAL: CannotStartContainerError: exec: app: not found"
            ]
        );
        // The sidecar exited 0: it wrote nothing.
        assert!(state
            .world
            .logs
            .lines("/ecs/web", &format!("ecs/sidecar/{id}"))
            .is_empty());
        let input = json!({"logGroupName": "/ecs/web", "logStreamName": stream});
        let events = logs_ok(&mut state, "GetLogEvents", input);
        let stopped_at = state
            .tasks_json("prod")
            .iter()
            .find(|t| t["taskArn"].as_str().unwrap().ends_with(id.as_str()))
            .unwrap()["stoppedAt"]
            .as_f64()
            .unwrap();
        assert_eq!(
            events["events"][1]["timestamp"].as_f64().unwrap(),
            (stopped_at * 1000.0).round()
        );
    }

    // The same rollout of a revision without logConfiguration writes nothing.
    let stored = logs_ok(&mut state, "DescribeLogGroups", json!({}))["logGroups"].clone();
    update(&mut state, &v2);
    poll(&mut state);
    assert_eq!(task_ids(&state, &v2).len(), 1);
    assert_eq!(
        logs_ok(&mut state, "DescribeLogGroups", json!({}))["logGroups"],
        stored
    );
}

#[test]
fn a_circuit_breaker_rollback_logs_why_its_tasks_fail() {
    let (mut state, v1, _) = setup();
    let mut options = awslogs("/ecs/new");
    options["awslogs-create-group"] = json!("true");
    let logged = state.seed_task_definition(logged_web("acct/repo:v3", options), vec![]);
    state.set_rollouts(
        "prod",
        "web",
        vec![Rollout::CircuitBreakerRollback { polls: 1 }],
    );
    update(&mut state, &logged);
    poll(&mut state);
    let [id] = &task_ids(&state, &logged)[..] else {
        panic!("one failed task");
    };
    assert_eq!(
        state.world.logs.lines("/ecs/new", &format!("ecs/app/{id}")),
        [
            "Starting the application",
            "FATAL: CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref: not found"
        ]
    );
    // The rollback's tasks run v1, which logs nowhere.
    poll(&mut state);
    assert_eq!(poll(&mut state)["taskDefinition"], v1);
    assert_eq!(group_names(&mut state), ["/ecs/new"]);
}

#[test]
fn a_task_run_exit_logs_only_where_awslogs_may_write() {
    let (mut state, _, _) = setup();
    state.add_log_group("/ecs/web");
    let mut created = awslogs("/ecs/created");
    created["awslogs-create-group"] = json!("true");
    let mut elsewhere = awslogs("/ecs/web");
    elsewhere["awslogs-region"] = json!("eu-west-1");
    let mut no_prefix = awslogs("/ecs/web");
    no_prefix
        .as_object_mut()
        .unwrap()
        .remove("awslogs-stream-prefix");
    // (options, the group the failing container's lines go to)
    let cases = [
        (awslogs("/ecs/web"), Some("/ecs/web")),
        (created, Some("/ecs/created")),
        (awslogs("/ecs/missing"), None),
        (elsewhere, None),
        (no_prefix, None),
    ];
    state.set_failing_task_log(vec![s("panic: config missing"), s("exit status 2")]);
    for (options, group) in cases {
        let td = state.seed_task_definition(logged_web("acct/repo:v4", options.clone()), vec![]);
        state.set_task_runs(vec![TaskRun::Exit {
            container: "app".into(),
            exit_code: 2,
            reason: "exit status 2".into(),
        }]);
        let reply = ok(
            &mut state,
            "RunTask",
            json!({"cluster": "prod", "taskDefinition": td}),
        );
        let arn = reply["tasks"][0]["taskArn"].as_str().unwrap().to_string();
        let id = arn.rsplit('/').next().unwrap();
        let describe = json!({"cluster": "prod", "tasks": [arn]});
        ok(&mut state, "DescribeTasks", describe.clone());
        let stream = format!("ecs/app/{id}");
        assert!(
            state.world.logs.lines("/ecs/web", &stream).is_empty(),
            "{options}: not before it stops"
        );
        ok(&mut state, "DescribeTasks", describe);
        let written: Vec<(String, Vec<String>)> = ["/ecs/web", "/ecs/created", "/ecs/missing"]
            .into_iter()
            .map(|g| (s(g), state.world.logs.lines(g, &stream)))
            .filter(|(_, lines)| !lines.is_empty())
            .collect();
        let expected: Vec<(String, Vec<String>)> = group
            .map(|g| (s(g), vec![s("panic: config missing"), s("exit status 2")]))
            .into_iter()
            .collect();
        assert_eq!(written, expected, "{options}");
    }
    assert_eq!(group_names(&mut state), ["/ecs/created", "/ecs/web"]);

    // A non-essential container that fails, or tasks that succeed, write nothing.
    let before = logs_ok(&mut state, "DescribeLogGroups", json!({}));
    let td = state.seed_task_definition(logged_web("acct/repo:v5", awslogs("/ecs/web")), vec![]);
    state.set_task_runs(vec![
        TaskRun::Exit {
            container: "sidecar".into(),
            exit_code: 1,
            reason: "sidecar crashed".into(),
        },
        TaskRun::Succeed,
    ]);
    for _ in 0..2 {
        let reply = ok(
            &mut state,
            "RunTask",
            json!({"cluster": "prod", "taskDefinition": td}),
        );
        let describe = json!({"cluster": "prod", "tasks": [reply["tasks"][0]["taskArn"]]});
        ok(&mut state, "DescribeTasks", describe.clone());
        ok(&mut state, "DescribeTasks", describe);
    }
    assert_eq!(logs_ok(&mut state, "DescribeLogGroups", json!({})), before);
}
