//! What every request goes through: the signature check, the recording, unknown operations
//! and bodies, injected faults.

use super::*;

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
