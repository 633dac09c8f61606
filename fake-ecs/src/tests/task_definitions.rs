//! Task definitions: RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions,
//! DeregisterTaskDefinition, TagResource.

use super::*;

#[test]
fn register_refuses_read_only_keys_nulls_and_bad_tags() {
    let (mut state, _, _) = setup();
    let full: Value =
        serde_json::from_str(include_str!("../../../fixtures/taskdef-full.json")).unwrap();
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
fn tag_resource_adds_tags_to_a_revision() {
    let (mut state, _, v2) = setup();
    ok(
        &mut state,
        "TagResource",
        json!({"resourceArn": v2, "tags": [{"key": "k", "value": "v"}]}),
    );
    assert_eq!(state.task_definition_tags("web:2"), [(s("k"), s("v"))]);
}
