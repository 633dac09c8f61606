//! CodeDeploy.

use super::*;

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
