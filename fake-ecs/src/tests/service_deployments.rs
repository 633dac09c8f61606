//! Deployment controllers, strategies and service deployments.

use super::*;

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

/// Deploy `task_definition` to `prod/web` with `desiredCount` `desired` and this
/// deploymentConfiguration (merged into the service's); the new service deployment.
fn deploy_with(state: &mut State, task_definition: &str, desired: u32, config: Value) -> Value {
    let input = json!({"cluster": "prod", "service": "web", "taskDefinition": task_definition,
                       "desiredCount": desired, "deploymentConfiguration": config});
    ok(state, "UpdateService", input);
    newest(state)
}

/// A deploymentCircuitBreaker with this thresholdConfiguration (and resetOnHealthyTask and
/// rollback as given).
fn breaker(kind: &str, value: i64, reset: bool, rollback: bool) -> Value {
    json!({"deploymentCircuitBreaker": {"enable": true, "rollback": rollback,
           "resetOnHealthyTask": reset, "thresholdConfiguration": {"type": kind, "value": value}}})
}

#[test]
fn the_circuit_breaker_threshold_follows_the_threshold_configuration() {
    let (mut state, v1, v2) = setup();
    let default = json!({"deploymentCircuitBreaker": {"enable": true, "rollback": true}});
    let cases = [
        (default.clone(), 2, 3),
        (default, 9, 5),
        (breaker("BOUNDED_PERCENT", 50, true, true), 10, 5),
        (breaker("BOUNDED_PERCENT", 10, true, true), 10, 3),
        (breaker("BOUNDED_PERCENT", 100, true, true), 500, 200),
        (breaker("UNBOUNDED_PERCENT", 10, true, true), 10, 1),
        (breaker("UNBOUNDED_PERCENT", 25, true, true), 9, 3),
        (breaker("UNBOUNDED_PERCENT", 100, true, true), 500, 500),
        (breaker("COUNT", 7, true, true), 500, 7),
        (breaker("COUNT", 1, true, true), 2, 1),
    ];
    for (i, (config, desired, threshold)) in cases.into_iter().enumerate() {
        let td = if i % 2 == 0 { &v2 } else { &v1 };
        let sd = deploy_with(&mut state, td, desired, config.clone());
        assert_eq!(
            sd["deploymentCircuitBreaker"],
            json!({"status": "MONITORING", "failureCount": 0, "threshold": threshold}),
            "{config} with {desired} desired"
        );
        assert_eq!(
            sd["deploymentConfiguration"]["deploymentCircuitBreaker"],
            config["deploymentCircuitBreaker"]
        );
    }
}

#[test]
fn a_threshold_configuration_decides_when_failing_tasks_trip_the_circuit_breaker() {
    let (mut state, v1, v2) = setup();
    state.set_rollout(
        "prod",
        "web",
        Rollout::TasksFail {
            polls: 1,
            tasks_per_poll: 2,
            reason: "CannotPullContainerError: not found".into(),
        },
    );
    deploy_with(&mut state, &v2, 2, breaker("COUNT", 5, true, false));
    let mut counts = Vec::new();
    for _ in 0..3 {
        let service = poll(&mut state);
        let sd = newest(&state);
        counts.push((
            sd["status"].as_str().unwrap().to_string(),
            sd["deploymentCircuitBreaker"]["failureCount"]
                .as_u64()
                .unwrap(),
            service["deployments"][0]["rolloutState"]
                .as_str()
                .unwrap()
                .to_string(),
        ));
    }
    assert_eq!(
        counts,
        [
            (s("IN_PROGRESS"), 2, s("IN_PROGRESS")),
            (s("IN_PROGRESS"), 4, s("IN_PROGRESS")),
            (s("STOPPED"), 6, s("FAILED"))
        ]
    );
    assert_eq!(
        newest(&state)["deploymentCircuitBreaker"],
        json!({"status": "TRIGGERED", "failureCount": 6, "threshold": 5})
    );

    // One task a poll, 100 % of 2 desired: the rollback starts on the second failure.
    let (mut state, _, _) = setup();
    state.set_rollout("prod", "web", Rollout::CircuitBreakerRollback { polls: 1 });
    deploy_with(
        &mut state,
        &v2,
        2,
        breaker("UNBOUNDED_PERCENT", 100, true, true),
    );
    poll(&mut state);
    assert_eq!(
        status_and_stage(&newest(&state)),
        (s("IN_PROGRESS"), s("SCALE_UP"))
    );
    let rolled = poll(&mut state);
    let sd = newest(&state);
    assert_eq!(sd["status"], "ROLLBACK_IN_PROGRESS");
    assert_eq!(
        sd["deploymentCircuitBreaker"],
        json!({"status": "TRIGGERED", "failureCount": 2, "threshold": 2})
    );
    assert_eq!(rolled["taskDefinition"], v1);
    let back = poll(&mut state);
    assert_eq!(newest(&state)["status"], "ROLLBACK_SUCCESSFUL");
    assert_eq!(
        deployment_summary(&back),
        [(s("PRIMARY"), s("web:1"), Some(s("COMPLETED")), 2)]
    );
}

/// Poll `prod/web` `n` times: the newest service deployment's (status, failureCount) after
/// each poll.
fn failure_counts(state: &mut State, n: usize) -> Vec<(String, u64)> {
    (0..n)
        .map(|_| {
            poll(state);
            let sd = newest(state);
            (
                sd["status"].as_str().unwrap().to_string(),
                sd["deploymentCircuitBreaker"]["failureCount"]
                    .as_u64()
                    .unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_healthy_task_resets_the_failure_count_unless_told_otherwise() {
    let flaky = Rollout::FlakyTasks {
        reason: "Essential container in task exited".into(),
    };
    // By default a healthy task resets the count: a threshold of 2 is never reached.
    let (mut state, _, v2) = setup();
    state.set_rollout("prod", "web", flaky.clone());
    let config = json!({"deploymentCircuitBreaker": {"enable": true, "rollback": false,
                        "thresholdConfiguration": {"type": "COUNT", "value": 2}}});
    deploy_with(&mut state, &v2, 3, config);
    let in_progress = |n| (s("IN_PROGRESS"), n);
    assert_eq!(
        failure_counts(&mut state, 6),
        [
            in_progress(1),
            in_progress(0),
            in_progress(1),
            in_progress(0),
            in_progress(1),
            (s("SUCCESSFUL"), 0)
        ]
    );
    let done = poll(&mut state);
    assert_eq!(
        deployment_summary(&done),
        [(s("PRIMARY"), s("web:2"), Some(s("COMPLETED")), 3)]
    );
    assert_eq!(done["deployments"][0]["failedTasks"], 3);
    assert_eq!(
        newest(&state)["deploymentCircuitBreaker"]["status"],
        "MONITORING_COMPLETE"
    );

    // Without the reset the second failure trips it; rollback: false fails the deployment.
    let (mut state, _, v2) = setup();
    state.set_rollout("prod", "web", flaky.clone());
    deploy_with(&mut state, &v2, 3, breaker("COUNT", 2, false, false));
    assert_eq!(
        failure_counts(&mut state, 3),
        [in_progress(1), in_progress(1), (s("STOPPED"), 2)]
    );
    let failed = poll(&mut state);
    assert_eq!(
        deployment_summary(&failed),
        [
            (s("PRIMARY"), s("web:2"), Some(s("FAILED")), 1),
            (s("ACTIVE"), s("web:1"), Some(s("COMPLETED")), 1)
        ]
    );
    assert_eq!(
        newest(&state)["deploymentCircuitBreaker"]["status"],
        "TRIGGERED"
    );

    // rollback: true rolls back to the previous revision.
    let (mut state, v1, v2) = setup();
    state.set_rollout("prod", "web", flaky);
    deploy_with(&mut state, &v2, 3, breaker("COUNT", 2, false, true));
    assert_eq!(
        failure_counts(&mut state, 4),
        [
            in_progress(1),
            in_progress(1),
            (s("ROLLBACK_IN_PROGRESS"), 2),
            (s("ROLLBACK_SUCCESSFUL"), 2)
        ]
    );
    let back = poll(&mut state);
    assert_eq!(back["taskDefinition"], v1);
    assert_eq!(
        deployment_summary(&back),
        [(s("PRIMARY"), s("web:1"), Some(s("COMPLETED")), 3)]
    );
}

#[test]
fn update_service_checks_the_circuit_breaker_and_early_success_criteria() {
    let (mut state, _, v2) = setup();
    let refused = |config: Value| {
        json!({"cluster": "prod", "service": "web", "taskDefinition": v2,
               "deploymentConfiguration": config})
    };
    let cases = [
        (
            json!({"deploymentCircuitBreaker": {"enable": true}}),
            "InvalidParameterException",
            "1 validation error detected: Value null at 'deploymentConfiguration.deploymentCircuitBreaker.rollback' failed to satisfy constraint: Member must not be null",
        ),
        (
            json!({"deploymentCircuitBreaker": {"enable": true, "rollback": "yes"}}),
            "SerializationException",
            "'deploymentConfiguration.deploymentCircuitBreaker.rollback' must be a boolean.",
        ),
        (
            breaker("PERCENT", 5, true, true),
            "InvalidParameterException",
            "1 validation error detected: Value 'PERCENT' at 'deploymentConfiguration.deploymentCircuitBreaker.thresholdConfiguration.type' failed to satisfy constraint: Member must satisfy enum value set: [COUNT, BOUNDED_PERCENT, UNBOUNDED_PERCENT]",
        ),
        (
            breaker("COUNT", -1, true, true),
            "InvalidParameterException",
            "Invalid deploymentConfiguration.deploymentCircuitBreaker.thresholdConfiguration.value -1: the failure threshold cannot be negative.",
        ),
        (
            json!({"deploymentCircuitBreaker": {"enable": true, "rollback": true,
                   "thresholdConfiguration": {"type": "COUNT"}}}),
            "InvalidParameterException",
            "1 validation error detected: Value null at 'deploymentConfiguration.deploymentCircuitBreaker.thresholdConfiguration.value' failed to satisfy constraint: Member must not be null",
        ),
        (
            json!({"earlySuccessCriteria": {"healthyPercent": 50}}),
            "InvalidParameterException",
            "1 validation error detected: Value null at 'deploymentConfiguration.earlySuccessCriteria.enable' failed to satisfy constraint: Member must not be null",
        ),
        (
            json!({"earlySuccessCriteria": {"enable": true, "healthyPercent": 101,
                   "sourceServiceRevisionCleanup": "DEFERRED"}}),
            "InvalidParameterException",
            "1 validation error detected: Value '101' at 'deploymentConfiguration.earlySuccessCriteria.healthyPercent' failed to satisfy constraint: Member must have value less than or equal to 100",
        ),
        (
            json!({"earlySuccessCriteria": {"enable": true, "healthyPercent": 100,
                   "sourceServiceRevisionCleanup": "LATER"}}),
            "InvalidParameterException",
            "1 validation error detected: Value 'LATER' at 'deploymentConfiguration.earlySuccessCriteria.sourceServiceRevisionCleanup' failed to satisfy constraint: Member must satisfy enum value set: [BLOCKING, DEFERRED]",
        ),
        (
            json!({"earlySuccessCriteria": {"enable": true, "healthyPercent": 100}}),
            "InvalidParameterException",
            "earlySuccessCriteria needs healthyPercent and sourceServiceRevisionCleanup when enable is true.",
        ),
        (
            json!({"earlySuccessCriteria": {"enable": true, "healthyPercent": 50,
                   "sourceServiceRevisionCleanup": "BLOCKING"}}),
            "InvalidParameterException",
            "earlySuccessCriteria.healthyPercent (50) must be greater than or equal to minimumHealthyPercent (100).",
        ),
        (
            json!({"strategy": "BLUE_GREEN", "earlySuccessCriteria": {"enable": true,
                   "healthyPercent": 100, "sourceServiceRevisionCleanup": "BLOCKING"}}),
            "InvalidParameterException",
            "earlySuccessCriteria can only be enabled for the ROLLING deployment strategy.",
        ),
    ];
    for (config, code, message) in cases {
        let reply = state.handle(&signed("UpdateService", AUTH_OK, &refused(config.clone())));
        assert_eq!(body(&reply)["message"], message, "{config}");
        assert_eq!(failed("UpdateService", reply, 400), code, "{config}");
    }
    // Nothing was deployed; a disabled criteria needs nothing else, and a lower
    // minimumHealthyPercent lets 50 % through.
    assert!(state.service_deployments_json("prod", "web").is_empty());
    ok(
        &mut state,
        "UpdateService",
        json!({"cluster": "prod", "service": "web",
               "deploymentConfiguration": {"earlySuccessCriteria": {"enable": false}}}),
    );
    let config = json!({"minimumHealthyPercent": 50, "earlySuccessCriteria": {"enable": true,
                        "healthyPercent": 50, "sourceServiceRevisionCleanup": "DEFERRED"}});
    let sd = deploy_with(&mut state, &v2, 2, config);
    assert_eq!(
        sd["deploymentConfiguration"]["earlySuccessCriteria"]["healthyPercent"],
        50
    );
}

/// Early success and a tunable circuit breaker over real HTTP, for the transcript that
/// scripts/model_check.py checks: the deploymentConfiguration UpdateService is sent, and the
/// service deployments and services it answers.
#[tokio::test]
async fn early_success_and_thresholds_over_http() {
    let fake = FakeEcs::start().await;
    fake.add_cluster("prod");
    let v1 = fake.seed_task_definition(web("acct/repo:v1"), vec![]);
    let v2 = fake.seed_task_definition(web("acct/repo:v2"), vec![]);
    fake.add_service("prod", "web", &v1, 4);
    fake.set_rollouts(
        "prod",
        "web",
        vec![
            Rollout::Complete { polls: 4 },
            Rollout::FlakyTasks {
                reason: "Essential container in task exited".into(),
            },
        ],
    );
    let config = json!({
        "minimumHealthyPercent": 50,
        "maximumPercent": 200,
        "earlySuccessCriteria": {"enable": true, "healthyPercent": 50,
                                 "sourceServiceRevisionCleanup": "DEFERRED"},
        "deploymentCircuitBreaker": {"enable": true, "rollback": true, "resetOnHealthyTask": false,
                                     "thresholdConfiguration": {"type": "COUNT", "value": 2}}
    });
    let update = |td: &str| {
        json!({"cluster": "prod", "service": "web", "taskDefinition": td,
               "deploymentConfiguration": config})
    };
    let updated = http_ok(&fake, "UpdateService", update(&v2)).await;
    let arn = updated["service"]["currentServiceDeployment"].clone();
    let during = http_polls(&fake, "web", 2).await;
    assert_eq!(during["deployments"].as_array().unwrap().len(), 2);
    let described = http_ok(
        &fake,
        "DescribeServiceDeployments",
        json!({"serviceDeploymentArns": [arn]}),
    )
    .await;
    let sd = &described["serviceDeployments"][0];
    assert_eq!(sd["status"], "SUCCESSFUL");
    assert_eq!(
        sd["deploymentConfiguration"]["earlySuccessCriteria"],
        config["earlySuccessCriteria"]
    );
    http_polls(&fake, "web", 2).await;
    // Flaky tasks trip the breaker at 2 failures without the reset, and it rolls back.
    let updated = http_ok(&fake, "UpdateService", update(&v1)).await;
    let arn = updated["service"]["currentServiceDeployment"].clone();
    http_polls(&fake, "web", 4).await;
    let described = http_ok(
        &fake,
        "DescribeServiceDeployments",
        json!({"serviceDeploymentArns": [arn]}),
    )
    .await;
    let sd = &described["serviceDeployments"][0];
    assert_eq!(sd["status"], "ROLLBACK_SUCCESSFUL");
    assert_eq!(
        sd["deploymentCircuitBreaker"],
        json!({"status": "TRIGGERED", "failureCount": 2, "threshold": 2})
    );
}

#[test]
fn describe_service_revisions_names_the_task_definition_each_revision_runs() {
    let (mut state, v1, v2) = setup();
    update(&mut state, &v2);
    poll(&mut state);
    let sd = newest(&state);
    let target = sd["targetServiceRevision"]["arn"]
        .as_str()
        .unwrap()
        .to_string();
    let source = sd["sourceServiceRevisions"][0]["arn"]
        .as_str()
        .unwrap()
        .to_string();
    let missing = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/999";
    let reply = ok(
        &mut state,
        "DescribeServiceRevisions",
        json!({"serviceRevisionArns": [target, source, missing]}),
    );
    let described: Vec<(String, String)> = reply["serviceRevisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["serviceRevisionArn"].as_str().unwrap().to_string(),
                r["taskDefinition"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(described, [(target, v2), (source, v1)]);
    assert_eq!(
        reply["failures"],
        json!([{"arn": missing, "reason": "MISSING"}])
    );
    for bad in [json!({}), json!({"serviceRevisionArns": ["not-an-arn"]})] {
        assert_eq!(
            fails(&mut state, "DescribeServiceRevisions", bad, 400),
            "InvalidParameterException"
        );
    }
}
