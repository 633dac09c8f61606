//! ECS's request throttling: off by default; when on, a burst per category of actions, then
//! its sustained rate by the wall clock, each category on its own. The buckets' arithmetic is
//! tested on a clock of its own in `throttle.rs`; here requests meet the real one, so the
//! counts allow for the tokens that came back while the test ran.

use std::time::Instant;

use super::*;
use crate::throttle::Buckets;

/// `setup()` with ECS's buckets full.
fn throttled_setup() -> (State, String, String) {
    let (mut state, v1, v2) = setup();
    state.throttle = Some(Buckets::full(Instant::now()));
    (state, v1, v2)
}

/// Whether a reply is ECS's ThrottlingException, checked whole.
fn is_throttling(reply: &Reply) -> bool {
    if reply.status == 200 {
        return false;
    }
    assert_eq!(
        (reply.status, body(reply)),
        (
            400,
            json!({"__type": "ThrottlingException", "message": "Rate exceeded"})
        )
    );
    assert_eq!(
        header(reply, "x-amzn-errortype"),
        Some("ThrottlingException")
    );
    true
}

/// Calls `operation` with `input` until it is throttled; how many calls were answered first.
fn answered_until_throttled(state: &mut State, operation: &str, input: &Value) -> usize {
    (0..)
        .take_while(|_| !is_throttling(&state.handle(&signed(operation, AUTH_OK, input))))
        .count()
}

/// The most tokens a bucket of `per_second` can have gained since `since`.
fn refilled_since(since: Instant, per_second: f64) -> usize {
    (since.elapsed().as_secs_f64() * per_second).ceil() as usize
}

fn describe_web() -> Value {
    json!({"cluster": "prod", "services": ["web"]})
}

#[test]
fn throttling_is_off_by_default() {
    let (mut state, _, _) = setup();
    // More than any bucket holds: Service read actions 100, Task definition modify 20.
    for _ in 0..150 {
        ok(&mut state, "DescribeServices", describe_web());
    }
    for _ in 0..30 {
        ok(&mut state, "RegisterTaskDefinition", web("acct/repo:v3"));
    }
    assert!(state.requests.iter().all(|r| !r.throttled));
}

#[test]
fn a_burst_is_answered_then_calls_are_throttled_without_acting() {
    let (mut state, v1, _) = throttled_setup();
    let start = Instant::now();
    // Task definition modify actions: 20, then 1 a second.
    let answered = answered_until_throttled(&mut state, "RegisterTaskDefinition", &web("a:b"));
    assert!(
        (20..=20 + refilled_since(start, 1.0)).contains(&answered),
        "{answered}"
    );
    assert_eq!(state.active_revisions("web").len(), 2 + answered);
    // The throttled call registered nothing and is marked; the others are not.
    let throttled: Vec<bool> = state.requests.iter().map(|r| r.throttled).collect();
    assert_eq!(throttled.iter().filter(|t| **t).count(), 1);
    assert_eq!(throttled.last(), Some(&true));
    // Service modify actions: 50, then 5 a second.
    let input = json!({"cluster": "prod", "service": "web", "taskDefinition": v1});
    let start = Instant::now();
    let answered = answered_until_throttled(&mut state, "UpdateService", &input);
    assert!(
        (50..=50 + refilled_since(start, 5.0)).contains(&answered),
        "{answered}"
    );
}

#[test]
fn tokens_come_back_at_the_sustained_rate() {
    let (mut state, _, _) = throttled_setup();
    // Service read actions: 100, then 20 a second.
    answered_until_throttled(&mut state, "DescribeServices", &describe_web());
    let emptied = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    let answered = answered_until_throttled(&mut state, "DescribeServices", &describe_web());
    // 300 ms at 20 a second is 6 tokens; less than one was left when the bucket said empty.
    assert!(
        (6..=refilled_since(emptied, 20.0) + 1).contains(&answered),
        "{answered}"
    );
}

#[test]
fn each_category_has_its_own_bucket_and_only_ecs_is_throttled() {
    let (mut state, v1, _) = throttled_setup();
    // Tag modify actions (20, then 10 a second) emptied. CodeDeploy, whose TagResource is
    // another API's, is not throttled: the fake's CodeDeploy answers that it does not tag.
    let tag = json!({"resourceArn": v1, "tags": [{"key": "k", "value": "v"}]});
    answered_until_throttled(&mut state, "TagResource", &tag);
    let codedeploy_tag = json!({
        "ResourceArn": "arn:aws:codedeploy:us-east-1:123456789012:application:web-app",
        "Tags": [{"Key": "k", "Value": "v"}]
    });
    let codedeploy_auth = AUTH_OK.replace("/ecs/", "/codedeploy/");
    let request = signed_for(
        CODEDEPLOY_TARGET_PREFIX,
        "TagResource",
        &codedeploy_auth,
        &codedeploy_tag,
    );
    assert_eq!(
        failed("TagResource", state.handle(&request), 400),
        "UnknownOperationException"
    );
    // The Task definition and Service buckets are untouched.
    ok(
        &mut state,
        "DescribeTaskDefinition",
        json!({"taskDefinition": v1}),
    );
    ok(&mut state, "RegisterTaskDefinition", web("acct/repo:v3"));
    poll(&mut state);
    // Operations ECS does not have are never throttled; an injected fault is no throttling.
    for _ in 0..30 {
        fails(&mut state, "FlyToTheMoon", json!({}), 400);
    }
    state.inject_faults("DescribeServices", vec![Fault::Throttle]);
    fails(&mut state, "DescribeServices", describe_web(), 400);
    let throttled: Vec<&str> = state
        .requests
        .iter()
        .filter(|r| r.throttled)
        .map(|r| r.operation.as_str())
        .collect();
    assert_eq!(throttled, ["TagResource"]);
}

#[tokio::test]
async fn throttle_like_ecs_throttles_over_http() {
    let fake = FakeEcs::start().await;
    fake.add_cluster("prod");
    fake.throttle_like_ecs();
    let start = Instant::now();
    let input = json!({"familyPrefix": "web"});
    let mut answered = 0;
    let reply = loop {
        let reply = http_call(&fake, "ListTaskDefinitions", &input).await;
        if !reply.starts_with("HTTP/1.1 200") {
            break reply;
        }
        answered += 1;
    };
    // Task definition read actions: 50, then 20 a second.
    assert!(
        (50..=50 + refilled_since(start, 20.0)).contains(&answered),
        "{answered}"
    );
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(
        reply
            .to_ascii_lowercase()
            .contains("x-amzn-errortype: throttlingexception"),
        "{reply}"
    );
    assert!(
        reply.ends_with(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
        "{reply}"
    );
    let recorded = fake.requests();
    assert_eq!(recorded.iter().filter(|r| r.throttled).count(), 1);
    assert!(recorded.last().unwrap().throttled);
}
