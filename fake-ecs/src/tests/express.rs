//! Express Mode services: seeding, DescribeExpressGatewayService, UpdateExpressGatewayService
//! and the deployments it starts, and UpdateService refusing to fight the management.

use super::*;

const REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web";
const SHOP: &str = "arn:aws:ecs:us-east-1:123456789012:service/prod/shop";
const EXECUTION_ROLE: &str = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole";
const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db";

/// A primary container of `REPO:tag`, with every member the model has.
fn primary(tag: &str) -> Value {
    json!({
        "image": format!("{REPO}:{tag}"),
        "containerPort": 8080,
        "command": ["serve", "--port", "8080"],
        "environment": [{"name": "MODE", "value": "prod"}],
        "secrets": [{"name": "DB", "valueFrom": SECRET}],
        "awsLogsConfiguration": {"logGroup": "/ecs/shop", "logStreamPrefix": "shop"},
        "repositoryCredentials": {"credentialsParameter": SECRET}
    })
}

fn configuration() -> Value {
    json!({
        "primaryContainer": primary("1.0.0"),
        "cpu": "256",
        "memory": "1024",
        "executionRoleArn": EXECUTION_ROLE,
        "healthCheckPath": "/health"
    })
}

/// `setup()` (prod/web, a service ECS does not manage) plus the Express service `prod/shop`
/// with 2 tasks of `configuration()`.
fn express() -> State {
    let (mut state, _, _) = setup();
    let arn = state.add_express_service("prod", "shop", configuration(), 2);
    assert_eq!(arn, SHOP);
    state
}

fn describe(state: &mut State) -> Value {
    ok(
        state,
        "DescribeExpressGatewayService",
        json!({"serviceArn": SHOP}),
    )["service"]
        .clone()
}

fn update_express(state: &mut State, input: Value) -> Value {
    let mut input = input;
    input["serviceArn"] = json!(SHOP);
    ok(state, "UpdateExpressGatewayService", input)["service"].clone()
}

fn poll_shop(state: &mut State) -> Value {
    let reply = ok(
        state,
        "DescribeServices",
        json!({"cluster": "prod", "services": ["shop"]}),
    );
    reply["services"][0].clone()
}

/// The newest service deployment of `prod/shop`.
fn newest_of_shop(state: &State) -> Value {
    state.service_deployments_json("prod", "shop")[0].clone()
}

/// The task definition (short `family:revision`) of each active configuration.
fn active(described: &Value) -> Vec<String> {
    described["activeConfigurations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let arn = c["taskDefinitionArn"].as_str().unwrap();
            arn.rsplit('/').next().unwrap().to_string()
        })
        .collect()
}

/// A customer task definition that fits Express Mode: container `Main` with one named TCP
/// port mapping, FARGATE.
fn customer(image: &str) -> Value {
    json!({
        "family": "shop-own",
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "512",
        "memory": "1024",
        "containerDefinitions": [
            {"name": "Main", "image": image, "essential": true,
             "portMappings": [{"name": "http", "containerPort": 8080, "protocol": "tcp"}]},
            {"name": "envoy", "image": "envoyproxy/envoy:v1", "essential": false}
        ]
    })
}

#[test]
fn an_express_service_is_an_ecs_service_with_a_managed_task_definition() {
    let mut state = express();
    let service = poll_shop(&mut state);
    assert_eq!(service["resourceManagementType"], "ECS");
    assert_eq!(service["status"], "ACTIVE");
    assert_eq!(service["deploymentController"], json!({"type": "ECS"}));
    assert!(service["deploymentConfiguration"].get("strategy").is_none());
    assert_eq!(service["launchType"], Value::Null);
    assert_eq!(
        service["capacityProviderStrategy"][0]["capacityProvider"],
        "FARGATE"
    );
    let family = "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-shop";
    assert_eq!(service["taskDefinition"], format!("{family}:1"));
    assert_eq!(
        deployment_summary(&service),
        [(s("PRIMARY"), s("prod-shop:1"), Some(s("COMPLETED")), 2)]
    );
    assert!(poll(&mut state).get("resourceManagementType").is_none());
    assert!(state
        .tasks_json("prod")
        .iter()
        .filter(|t| t["group"] == "service:shop")
        .all(|t| t["launchType"] == "FARGATE"));

    // The task definition ECS registered from the primary container.
    let td = state.task_definition_json("prod-shop:1");
    assert_eq!(td["requiresCompatibilities"], json!(["FARGATE"]));
    assert_eq!(
        (&td["networkMode"], &td["cpu"], &td["memory"]),
        (&json!("awsvpc"), &json!("256"), &json!("1024"))
    );
    assert_eq!(td["executionRoleArn"], EXECUTION_ROLE);
    assert_eq!(
        td["containerDefinitions"],
        json!([{
            "name": "Main",
            "image": format!("{REPO}:1.0.0"),
            "essential": true,
            "portMappings": [{"name": "main", "containerPort": 8080, "protocol": "tcp"}],
            "command": ["serve", "--port", "8080"],
            "environment": [{"name": "MODE", "value": "prod"}],
            "secrets": [{"name": "DB", "valueFrom": SECRET}],
            "repositoryCredentials": {"credentialsParameter": SECRET},
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/shop", "awslogs-region": "us-east-1",
                "awslogs-stream-prefix": "shop", "awslogs-create-group": "true"}}
        }])
    );

    let described = describe(&mut state);
    let revision = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/shop/2";
    let mut expected_configuration = configuration();
    expected_configuration["serviceRevisionArn"] = json!(revision);
    expected_configuration["taskDefinitionArn"] = json!(format!("{family}:1"));
    expected_configuration["ingressPaths"] =
        json!([{"accessType": "PUBLIC", "endpoint": "https://shop.ecs.us-east-1.on.aws"}]);
    expected_configuration["createdAt"] = service["createdAt"].clone();
    assert_eq!(
        described,
        json!({
            "cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
            "serviceName": "shop",
            "serviceArn": SHOP,
            "infrastructureRoleArn": "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForExpressServices",
            "status": {"statusCode": "ACTIVE"},
            "activeConfigurations": [expected_configuration],
            "createdAt": service["createdAt"],
            "updatedAt": service["createdAt"]
        })
    );
    assert_eq!(
        state.express_configuration("prod", "shop"),
        described["activeConfigurations"][0]
    );
    let tagged = ok(
        &mut state,
        "DescribeExpressGatewayService",
        json!({"serviceArn": SHOP, "include": ["TAGS"]}),
    );
    assert_eq!(tagged["service"]["tags"], json!([]));
}

#[test]
fn the_configuration_gets_the_default_cpu_and_memory() {
    let (mut state, _, _) = setup();
    state.add_express_service(
        "prod",
        "shop",
        json!({"primaryContainer": {"image": "nginx:1.27"}}),
        1,
    );
    let active = state.express_configuration("prod", "shop");
    assert_eq!(
        (&active["cpu"], &active["memory"]),
        (&json!("256"), &json!("512"))
    );
    assert_eq!(active["primaryContainer"], json!({"image": "nginx:1.27"}));
    let td = state.task_definition_json("prod-shop:1");
    assert_eq!(
        td["containerDefinitions"],
        json!([{"name": "Main", "image": "nginx:1.27", "essential": true,
                "portMappings": [{"name": "main", "containerPort": 80, "protocol": "tcp"}]}])
    );
    assert!(td.get("executionRoleArn").is_none() && td.get("runtimePlatform").is_none());
}

#[test]
fn an_update_registers_the_primary_container_as_sent_and_rolls_it_out() {
    let mut state = express();
    let mut sent = primary("1.1.0");
    sent["environment"] =
        json!([{"name": "MODE", "value": "prod"}, {"name": "FEATURE", "value": "on"}]);
    sent.as_object_mut().unwrap().remove("command");
    sent["futureMember"] = json!(1);
    let updated = update_express(&mut state, json!({"primaryContainer": sent}));
    sent.as_object_mut().unwrap().remove("futureMember");

    // A new revision of the family, of the whole container sent: no command any more.
    assert_eq!(state.active_revisions("prod-shop"), [1, 2]);
    let td = state.task_definition_json("prod-shop:2");
    let main = &td["containerDefinitions"][0];
    assert_eq!(main["image"], format!("{REPO}:1.1.0"));
    assert_eq!(main["environment"], sent["environment"]);
    assert!(main.get("command").is_none());
    assert_eq!((&td["cpu"], &td["memory"]), (&json!("256"), &json!("1024")));

    // The deployment UpdateService would have started, and its service deployment.
    let service = state.service_json("prod", "shop");
    assert_eq!(
        deployment_summary(&service),
        [
            (s("PRIMARY"), s("prod-shop:2"), Some(s("IN_PROGRESS")), 0),
            (s("ACTIVE"), s("prod-shop:1"), Some(s("COMPLETED")), 2)
        ]
    );
    let sd = newest_of_shop(&state);
    assert_eq!(sd["status"], "PENDING");
    assert_eq!(
        service["currentServiceDeployment"],
        sd["serviceDeploymentArn"]
    );
    let target = &updated["targetConfiguration"];
    assert_eq!(
        target["serviceRevisionArn"],
        sd["targetServiceRevision"]["arn"]
    );
    assert_eq!(
        target["taskDefinitionArn"],
        "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-shop:2"
    );
    assert_eq!(target["primaryContainer"], sent);
    // The rest of the configuration is kept.
    for key in ["cpu", "memory", "executionRoleArn", "healthCheckPath"] {
        assert_eq!(target[key], configuration()[key], "{key}");
    }
    assert_eq!(
        (&updated["serviceArn"], &updated["serviceName"]),
        (&json!(SHOP), &json!("shop"))
    );
    assert_eq!(updated["status"], json!({"statusCode": "ACTIVE"}));
    assert!(updated["updatedAt"].as_f64() > updated["createdAt"].as_f64());

    // While it rolls out both configurations are active, the running one first.
    let during = describe(&mut state);
    assert_eq!(active(&during), [s("prod-shop:1"), s("prod-shop:2")]);
    assert_eq!(during["currentDeployment"], sd["serviceDeploymentArn"]);
    assert_eq!(during["activeConfigurations"][1], *target);
    assert_eq!(state.express_configuration("prod", "shop"), *target);
    poll_shop(&mut state);
    let done = poll_shop(&mut state);
    assert_eq!(
        deployment_summary(&done),
        [(s("PRIMARY"), s("prod-shop:2"), Some(s("COMPLETED")), 2)]
    );
    assert_eq!(
        messages(&done)[0],
        "(service shop) has reached a steady state."
    );
    assert_eq!(newest_of_shop(&state)["status"], "SUCCESSFUL");
    let after = describe(&mut state);
    assert_eq!(active(&after), [s("prod-shop:2")]);
    assert_eq!(after["updatedAt"], updated["updatedAt"]);

    // Another member alone: a new revision of the same container.
    let cpu = update_express(&mut state, json!({"cpu": "512", "memory": "2048"}));
    assert_eq!(cpu["targetConfiguration"]["primaryContainer"], sent);
    let td = state.task_definition_json("prod-shop:3");
    assert_eq!((&td["cpu"], &td["memory"]), (&json!("512"), &json!("2048")));
    assert_eq!(
        td["containerDefinitions"][0]["image"],
        format!("{REPO}:1.1.0")
    );
}

#[test]
fn an_express_deployment_follows_the_scripted_rollout_and_rolls_back() {
    // The circuit breaker rolls back: the first configuration is the one that runs again.
    let mut state = express();
    state.set_rollouts(
        "prod",
        "shop",
        vec![Rollout::CircuitBreakerRollback { polls: 1 }],
    );
    let first = state.express_configuration("prod", "shop");
    update_express(&mut state, json!({"primaryContainer": primary("broken")}));
    poll_shop(&mut state);
    assert_eq!(newest_of_shop(&state)["status"], "ROLLBACK_IN_PROGRESS");
    assert_eq!(
        active(&describe(&mut state)),
        [s("prod-shop:1"), s("prod-shop:2")]
    );
    assert_eq!(state.express_configuration("prod", "shop"), first);
    poll_shop(&mut state);
    assert_eq!(newest_of_shop(&state)["status"], "ROLLBACK_SUCCESSFUL");
    assert_eq!(active(&describe(&mut state)), [s("prod-shop:1")]);

    // StopServiceDeployment ROLLBACK works on an Express deployment as on any.
    let mut state = express();
    state.set_rollouts("prod", "shop", vec![Rollout::Stuck]);
    update_express(&mut state, json!({"primaryContainer": primary("1.1.0")}));
    poll_shop(&mut state);
    let arn = newest_of_shop(&state)["serviceDeploymentArn"].clone();
    ok(
        &mut state,
        "StopServiceDeployment",
        json!({"serviceDeploymentArn": arn, "stopType": "ROLLBACK"}),
    );
    assert_eq!(newest_of_shop(&state)["status"], "ROLLBACK_REQUESTED");
    poll_shop(&mut state);
    assert_eq!(newest_of_shop(&state)["status"], "ROLLBACK_IN_PROGRESS");
    let back = poll_shop(&mut state);
    assert_eq!(newest_of_shop(&state)["status"], "ROLLBACK_SUCCESSFUL");
    assert_eq!(
        deployment_summary(&back),
        [(s("PRIMARY"), s("prod-shop:1"), Some(s("COMPLETED")), 2)]
    );
    assert_eq!(active(&describe(&mut state)), [s("prod-shop:1")]);
    assert_eq!(
        state.express_configuration("prod", "shop")["primaryContainer"],
        primary("1.0.0")
    );

    // A rollout that does not fit the strategy is refused before anything is registered.
    let mut state = express();
    state.set_rollouts("prod", "shop", vec![Rollout::Staged { bake_polls: 1 }]);
    let input = json!({"serviceArn": SHOP, "primaryContainer": primary("1.1.0")});
    assert_eq!(
        fails(&mut state, "UpdateExpressGatewayService", input, 400),
        "FakeEcsScriptError"
    );
    assert_eq!(state.active_revisions("prod-shop"), [1]);
    assert!(state.service_deployments_json("prod", "shop").is_empty());
}

#[test]
fn a_service_on_a_customer_task_definition_is_updated_with_a_new_revision() {
    let (mut state, _, _) = setup();
    let own1 = state.seed_task_definition(customer(&format!("{REPO}:1.0.0")), vec![]);
    let own2 = state.seed_task_definition(customer(&format!("{REPO}:1.1.0")), vec![]);
    state.add_express_service(
        "prod",
        "shop",
        json!({"taskDefinitionArn": "shop-own:1", "healthCheckPath": "/health"}),
        2,
    );
    let described = describe(&mut state);
    let active_one = &described["activeConfigurations"][0];
    assert_eq!(active_one["taskDefinitionArn"], own1);
    assert_eq!(active_one["healthCheckPath"], "/health");
    for key in ["primaryContainer", "cpu", "memory"] {
        assert!(active_one.get(key).is_none(), "{key}");
    }
    // The service's own members and the task definition's may not be mixed up.
    let refused = [
        (
            json!({"primaryContainer": primary("1.1.0")}),
            "InvalidParameterException",
        ),
        (json!({"cpu": "1024"}), "InvalidParameterException"),
        (
            json!({"taskDefinitionArn": own2, "memory": "2048"}),
            "InvalidParameterException",
        ),
        (
            json!({"taskDefinitionArn": own2, "primaryContainer": primary("1.1.0")}),
            "InvalidParameterException",
        ),
        (
            json!({"taskDefinitionArn": "shop-own:9"}),
            "ClientException",
        ),
        (
            json!({"taskDefinitionArn": "web:2"}),
            "InvalidParameterException",
        ),
    ];
    for (input, code) in refused {
        let mut input = input;
        input["serviceArn"] = json!(SHOP);
        assert_eq!(
            fails(
                &mut state,
                "UpdateExpressGatewayService",
                input.clone(),
                400
            ),
            code,
            "{input}"
        );
    }
    assert!(state.service_deployments_json("prod", "shop").is_empty());
    let updated = update_express(&mut state, json!({"taskDefinitionArn": own2}));
    let target = &updated["targetConfiguration"];
    assert_eq!(target["taskDefinitionArn"], own2);
    assert_eq!(target["healthCheckPath"], "/health");
    assert_eq!(
        deployment_summary(&state.service_json("prod", "shop")),
        [
            (s("PRIMARY"), s("shop-own:2"), Some(s("IN_PROGRESS")), 0),
            (s("ACTIVE"), s("shop-own:1"), Some(s("COMPLETED")), 2)
        ]
    );
    // A member of the service's own: the same task definition, deployed again.
    poll_shop(&mut state);
    poll_shop(&mut state);
    let path = update_express(&mut state, json!({"healthCheckPath": "/ready"}));
    assert_eq!(path["targetConfiguration"]["taskDefinitionArn"], own2);
    assert_eq!(state.service_deployments_json("prod", "shop").len(), 2);
    // An inactive revision is refused.
    ok(
        &mut state,
        "DeregisterTaskDefinition",
        json!({"taskDefinition": "shop-own:1"}),
    );
    let input = json!({"serviceArn": SHOP, "taskDefinitionArn": own1});
    assert_eq!(
        fails(&mut state, "UpdateExpressGatewayService", input, 400),
        "ClientException"
    );
}

#[test]
fn a_customer_task_definition_can_replace_the_primary_container() {
    let mut state = express();
    let own = state.seed_task_definition(customer(&format!("{REPO}:2.0.0")), vec![]);
    let updated = update_express(&mut state, json!({"taskDefinitionArn": own}));
    let target = &updated["targetConfiguration"];
    assert_eq!(target["taskDefinitionArn"], own);
    assert_eq!(target["healthCheckPath"], "/health");
    for key in ["primaryContainer", "cpu", "memory", "executionRoleArn"] {
        assert!(target.get(key).is_none(), "{key}");
    }
    assert_eq!(state.active_revisions("prod-shop"), [1]);
}

#[test]
fn express_operations_check_their_input_as_ecs_does() {
    let mut state = express();
    let unknown = "arn:aws:ecs:us-east-1:123456789012:service/prod/nope";
    let web = "arn:aws:ecs:us-east-1:123456789012:service/prod/web";
    let with = |members: Value| {
        let mut input = json!({"serviceArn": SHOP});
        input
            .as_object_mut()
            .unwrap()
            .extend(members.as_object().unwrap().clone());
        input
    };
    let mut no_image = primary("1.1.0");
    no_image.as_object_mut().unwrap().remove("image");
    let mut no_value_from = primary("1.1.0");
    no_value_from["secrets"] = json!([{"name": "DB"}]);
    let mut no_prefix = primary("1.1.0");
    no_prefix["awsLogsConfiguration"] = json!({"logGroup": "/ecs/shop"});
    let mut port_text = primary("1.1.0");
    port_text["containerPort"] = json!("8080");
    let cases = [
        (json!({}), "InvalidParameterException", "1 validation error detected: Value null at 'serviceArn' failed to satisfy constraint: Member must not be null"),
        (json!({"serviceArn": "shop"}), "InvalidParameterException", "Invalid service ARN: shop"),
        (json!({"serviceArn": unknown}), "ServiceNotFoundException", "Service not found."),
        (json!({"serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/nocluster/shop"}), "ClusterNotFoundException", "Cluster not found."),
        (json!({"serviceArn": web}), "InvalidParameterException", "The service web is not an Express service: update it with UpdateService."),
        (with(json!({"primaryContainer": no_image})), "InvalidParameterException", "1 validation error detected: Value null at 'primaryContainer.image' failed to satisfy constraint: Member must not be null"),
        (with(json!({"primaryContainer": {"image": 5}})), "SerializationException", "'primaryContainer.image' must be a string."),
        (with(json!({"primaryContainer": no_value_from})), "InvalidParameterException", "1 validation error detected: Value null at 'primaryContainer.secrets[0].valueFrom' failed to satisfy constraint: Member must not be null"),
        (with(json!({"primaryContainer": no_prefix})), "InvalidParameterException", "1 validation error detected: Value null at 'primaryContainer.awsLogsConfiguration.logStreamPrefix' failed to satisfy constraint: Member must not be null"),
        (with(json!({"primaryContainer": port_text})), "SerializationException", "'primaryContainer.containerPort' must be an integer."),
        (with(json!({"primaryContainer": primary("1.1.0"), "taskDefinitionArn": "web:1"})), "InvalidParameterException", "If you provide a task definition ARN, you cannot also specify primaryContainer, executionRoleArn, taskRoleArn, cpu, memory, or cpuArchitecture."),
        (with(json!({"healthCheckPath": "health"})), "InvalidParameterException", "Invalid healthCheckPath 'health': it must start with a forward slash."),
        (with(json!({"cpuArchitecture": "X86"})), "InvalidParameterException", "1 validation error detected: Value 'X86' at 'cpuArchitecture' failed to satisfy constraint: Member must satisfy enum value set: [X86_64, ARM64]"),
        (with(json!({"scalingTarget": {"autoScalingMetric": "CPU"}})), "InvalidParameterException", "1 validation error detected: Value 'CPU' at 'scalingTarget.autoScalingMetric' failed to satisfy constraint: Member must satisfy enum value set: [AVERAGE_CPU, AVERAGE_MEMORY, REQUEST_COUNT_PER_TARGET]"),
        (with(json!({"networkConfiguration": {"subnets": "subnet-1"}})), "SerializationException", "'networkConfiguration.subnets' must be a list of strings."),
    ];
    for (input, code, message) in cases {
        let reply = state.handle(&signed("UpdateExpressGatewayService", AUTH_OK, &input));
        assert_eq!(body(&reply)["message"], message, "{input}");
        assert_eq!(
            failed("UpdateExpressGatewayService", reply, 400),
            code,
            "{input}"
        );
    }
    // Nothing was registered or deployed.
    assert_eq!(state.active_revisions("prod-shop"), [1]);
    assert!(state.service_deployments_json("prod", "shop").is_empty());

    let describes = [
        (json!({}), "InvalidParameterException"),
        (json!({"serviceArn": unknown}), "ResourceNotFoundException"),
        (json!({"serviceArn": web}), "ResourceNotFoundException"),
        (
            json!({"serviceArn": SHOP, "include": ["SECRETS"]}),
            "InvalidParameterException",
        ),
    ];
    for (input, code) in describes {
        assert_eq!(
            fails(
                &mut state,
                "DescribeExpressGatewayService",
                input.clone(),
                400
            ),
            code,
            "{input}"
        );
    }

    // A deleted Express service is described INACTIVE and cannot be updated.
    state.deactivate_service("prod", "shop");
    let gone = describe(&mut state);
    assert_eq!(gone["status"], json!({"statusCode": "INACTIVE"}));
    assert_eq!(gone["activeConfigurations"], json!([]));
    assert_eq!(
        fails(
            &mut state,
            "UpdateExpressGatewayService",
            with(json!({"cpu": "512"})),
            400
        ),
        "ServiceNotActiveException"
    );
}

#[test]
fn update_service_refuses_to_change_the_task_definition_of_an_express_service() {
    let mut state = express();
    for task_definition in ["web:2", "prod-shop:1"] {
        let input =
            json!({"cluster": "prod", "service": "shop", "taskDefinition": task_definition});
        let reply = state.handle(&signed("UpdateService", AUTH_OK, &input));
        assert_eq!(
            body(&reply)["message"],
            "The service shop is managed by Amazon ECS Express Mode (resourceManagementType ECS): its task definition cannot be changed with UpdateService. Use UpdateExpressGatewayService."
        );
        assert_eq!(
            failed("UpdateService", reply, 400),
            "InvalidParameterException"
        );
    }
    assert!(state.service_deployments_json("prod", "shop").is_empty());
    // What ECS does not manage through the configuration still goes through UpdateService.
    ok(
        &mut state,
        "UpdateService",
        json!({"cluster": "prod", "service": "shop", "desiredCount": 3}),
    );
    assert_eq!(poll_shop(&mut state)["runningCount"], 3);
    // A forced deployment runs the same configuration in a new service revision.
    let before = state.express_configuration("prod", "shop");
    ok(
        &mut state,
        "UpdateService",
        json!({"cluster": "prod", "service": "shop", "forceNewDeployment": true}),
    );
    let again = state.express_configuration("prod", "shop");
    assert_ne!(again["serviceRevisionArn"], before["serviceRevisionArn"]);
    assert_eq!(
        again["serviceRevisionArn"],
        newest_of_shop(&state)["targetServiceRevision"]["arn"]
    );
    assert_eq!(again["primaryContainer"], before["primaryContainer"]);
    assert_eq!(again["taskDefinitionArn"], before["taskDefinitionArn"]);
    assert_eq!(active(&describe(&mut state)).len(), 2);
    let updated = update_express(&mut state, json!({"healthCheckPath": "/ready"}));
    assert_eq!(
        updated["targetConfiguration"]["primaryContainer"],
        before["primaryContainer"]
    );
}

#[test]
#[should_panic(expected = "has a primaryContainer or a taskDefinitionArn")]
fn a_configuration_without_a_container_or_task_definition_panics() {
    let (mut state, _, _) = setup();
    state.add_express_service("prod", "shop", json!({"cpu": "256"}), 1);
}

#[test]
#[should_panic(expected = "If you provide a task definition ARN, you cannot also specify")]
fn a_configuration_with_a_container_and_a_task_definition_panics() {
    let (mut state, v1, _) = setup();
    let configuration = json!({"primaryContainer": primary("1.0.0"), "taskDefinitionArn": v1});
    state.add_express_service("prod", "shop", configuration, 1);
}

#[test]
#[should_panic(expected = "must have a container named Main")]
fn a_customer_task_definition_without_main_panics() {
    let (mut state, v1, _) = setup();
    state.add_express_service("prod", "shop", json!({"taskDefinitionArn": v1}), 1);
}

#[test]
#[should_panic(
    expected = "\"serviceRevisionArn\" is not a member an express configuration is given"
)]
fn a_configuration_with_generated_members_panics() {
    let (mut state, _, _) = setup();
    let mut configuration = configuration();
    configuration["serviceRevisionArn"] =
        json!("arn:aws:ecs:us-east-1:123456789012:service-revision/prod/shop/1");
    state.add_express_service("prod", "shop", configuration, 1);
}

/// The Express operations over real HTTP, so that a run with FAKE_ECS_TRANSCRIPT set puts
/// their requests and answers, and an Express service's description, in the transcript for
/// scripts/model_check.py.
#[tokio::test]
async fn express_operations_over_http() {
    let fake = FakeEcs::start().await;
    fake.add_cluster("prod");
    let arn = fake.add_express_service("prod", "shop", configuration(), 2);
    let own = fake.seed_task_definition(customer(&format!("{REPO}:2.0.0")), vec![]);
    let described = http_ok(
        &fake,
        "DescribeExpressGatewayService",
        json!({"serviceArn": arn, "include": ["TAGS"]}),
    )
    .await;
    assert_eq!(described["service"]["serviceArn"], arn);
    let mut update = configuration();
    update["serviceArn"] = json!(arn);
    update["primaryContainer"] = primary("1.1.0");
    update["cpuArchitecture"] = json!("ARM64");
    update["taskRoleArn"] = json!("arn:aws:iam::123456789012:role/shop");
    update["networkConfiguration"] = json!({"subnets": ["subnet-1"], "securityGroups": ["sg-1"]});
    update["scalingTarget"] = json!({"minTaskCount": 1, "maxTaskCount": 4,
                                     "autoScalingMetric": "AVERAGE_CPU", "autoScalingTargetValue": 60});
    let updated = http_ok(&fake, "UpdateExpressGatewayService", update).await;
    assert_eq!(
        updated["service"]["targetConfiguration"]["primaryContainer"],
        primary("1.1.0")
    );
    assert_eq!(
        fake.task_definition("prod-shop:2")["runtimePlatform"],
        json!({"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"})
    );
    let input = json!({"cluster": "prod", "services": ["shop"]});
    let polled = http_ok(&fake, "DescribeServices", input.clone()).await;
    assert_eq!(polled["services"][0]["resourceManagementType"], "ECS");
    let during = http_ok(
        &fake,
        "DescribeExpressGatewayService",
        json!({"serviceArn": arn}),
    )
    .await;
    assert_eq!(
        during["service"]["activeConfigurations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    http_ok(&fake, "DescribeServices", input.clone()).await;
    let sd = &fake.service_deployments("prod", "shop")[0];
    assert_eq!(sd["status"], "SUCCESSFUL");
    http_ok(
        &fake,
        "DescribeServiceDeployments",
        json!({"serviceDeploymentArns": [sd["serviceDeploymentArn"]]}),
    )
    .await;
    let switched = http_ok(
        &fake,
        "UpdateExpressGatewayService",
        json!({"serviceArn": arn, "taskDefinitionArn": own}),
    )
    .await;
    assert_eq!(
        switched["service"]["targetConfiguration"]["taskDefinitionArn"],
        own
    );
    assert_eq!(
        fake.express_configuration("prod", "shop"),
        switched["service"]["targetConfiguration"]
    );
}

#[test]
fn a_denied_express_operation_names_the_service() {
    let mut state = express();
    state.deny("UpdateExpressGatewayService");
    let input = json!({"serviceArn": SHOP, "primaryContainer": primary("1.1.0")});
    let reply = state.handle(&signed("UpdateExpressGatewayService", AUTH_OK, &input));
    assert_eq!(
        body(&reply)["message"],
        format!("User: arn:aws:iam::123456789012:user/ecs-deploy-tests is not authorized to perform: ecs:UpdateExpressGatewayService on resource: {SHOP} because no identity-based policy allows the ecs:UpdateExpressGatewayService action")
    );
    assert_eq!(
        failed("UpdateExpressGatewayService", reply, 400),
        "AccessDeniedException"
    );
    assert_eq!(state.active_revisions("prod-shop"), [1]);
}
