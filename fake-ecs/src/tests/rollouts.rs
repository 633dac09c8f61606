//! DescribeServices and the scripted rollouts of ROLLING services.

use super::*;

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
fn ids_and_timestamps_are_deterministic() {
    let run = || {
        let (mut state, _, v2) = setup();
        update(&mut state, &v2);
        (poll(&mut state), poll(&mut state))
    };
    assert_eq!(run(), run());
}

/// `prod/web` with 4 tasks of web:1 running, then web:2 deployed with `Rollout::Complete
/// { polls: 4 }` and early success criteria of 50 % with this cleanup.
fn early_success(cleanup: &str) -> State {
    let (mut state, _, v2) = setup();
    ok(
        &mut state,
        "UpdateService",
        json!({"cluster": "prod", "service": "web", "desiredCount": 4}),
    );
    assert_eq!(poll(&mut state)["runningCount"], 4);
    state.set_rollouts("prod", "web", vec![Rollout::Complete { polls: 4 }]);
    let config = json!({"minimumHealthyPercent": 50, "earlySuccessCriteria": {
        "enable": true, "healthyPercent": 50, "sourceServiceRevisionCleanup": cleanup}});
    ok(
        &mut state,
        "UpdateService",
        json!({"cluster": "prod", "service": "web", "taskDefinition": v2,
               "deploymentConfiguration": config}),
    );
    state
}

/// The newest service deployment of `prod/web`: status, and the running tasks of its target
/// and of its source revision.
fn early_record(state: &State) -> (String, u64, u64) {
    let sd = &state.service_deployments_json("prod", "web")[0];
    (
        sd["status"].as_str().unwrap().to_string(),
        sd["targetServiceRevision"]["runningTaskCount"]
            .as_u64()
            .unwrap(),
        sd["sourceServiceRevisions"][0]["runningTaskCount"]
            .as_u64()
            .unwrap(),
    )
}

#[test]
fn early_success_deferred_is_successful_while_the_old_deployment_drains() {
    let mut state = early_success("DEFERRED");
    let first = poll(&mut state);
    assert_eq!(
        deployment_summary(&first),
        [
            (s("PRIMARY"), s("web:2"), Some(s("IN_PROGRESS")), 1),
            (s("ACTIVE"), s("web:1"), Some(s("COMPLETED")), 3)
        ]
    );
    assert_eq!(early_record(&state), (s("IN_PROGRESS"), 1, 3));
    // Half the desired tasks run: SUCCESSFUL, with both deployments still there.
    let second = poll(&mut state);
    assert_eq!(
        deployment_summary(&second),
        [
            (s("PRIMARY"), s("web:2"), Some(s("IN_PROGRESS")), 2),
            (s("ACTIVE"), s("web:1"), Some(s("COMPLETED")), 2)
        ]
    );
    assert_eq!(early_record(&state), (s("SUCCESSFUL"), 2, 2));
    let sd = &state.service_deployments_json("prod", "web")[0];
    assert_eq!(sd["lifecycleStage"], "CLEAN_UP");
    assert!(sd["finishedAt"].is_f64());
    let third = poll(&mut state);
    assert_eq!(
        deployment_summary(&third),
        [
            (s("PRIMARY"), s("web:2"), Some(s("IN_PROGRESS")), 3),
            (s("ACTIVE"), s("web:1"), Some(s("COMPLETED")), 1)
        ]
    );
    // The record is final: its counts stay as they were at SUCCESSFUL.
    assert_eq!(early_record(&state), (s("SUCCESSFUL"), 2, 2));
    let done = poll(&mut state);
    assert_eq!(
        deployment_summary(&done),
        [(s("PRIMARY"), s("web:2"), Some(s("COMPLETED")), 4)]
    );
    assert_eq!(
        done["events"][0]["message"],
        "(service web) has reached a steady state."
    );
    assert_eq!(state.service_deployments_json("prod", "web").len(), 1);
}

#[test]
fn early_success_blocking_removes_the_old_tasks_first() {
    let mut state = early_success("BLOCKING");
    poll(&mut state);
    assert_eq!(early_record(&state), (s("IN_PROGRESS"), 1, 3));
    let second = poll(&mut state);
    assert_eq!(
        deployment_summary(&second),
        [(s("PRIMARY"), s("web:2"), Some(s("IN_PROGRESS")), 2)]
    );
    assert_eq!(second["deployments"][0]["pendingCount"], 2);
    assert_eq!(early_record(&state), (s("SUCCESSFUL"), 2, 0));
    assert!(messages(&second)[0].starts_with("(service web) has stopped 2 running tasks: (task "));
    let third = poll(&mut state);
    assert_eq!(
        deployment_summary(&third),
        [(s("PRIMARY"), s("web:2"), Some(s("IN_PROGRESS")), 3)]
    );
    let done = poll(&mut state);
    assert_eq!(
        deployment_summary(&done),
        [(s("PRIMARY"), s("web:2"), Some(s("COMPLETED")), 4)]
    );
    assert_eq!(early_record(&state), (s("SUCCESSFUL"), 2, 0));
}

#[test]
fn early_success_never_comes_to_a_deployment_that_runs_no_task() {
    let (mut state, _, v2) = setup();
    state.set_rollouts(
        "prod",
        "web",
        vec![Rollout::TasksFail {
            polls: 2,
            tasks_per_poll: 1,
            reason: "CannotPullContainerError: not found".into(),
        }],
    );
    let config = json!({"minimumHealthyPercent": 0, "earlySuccessCriteria": {
        "enable": true, "healthyPercent": 1, "sourceServiceRevisionCleanup": "DEFERRED"}});
    ok(
        &mut state,
        "UpdateService",
        json!({"cluster": "prod", "service": "web", "taskDefinition": v2,
               "deploymentConfiguration": config}),
    );
    poll(&mut state);
    assert_eq!(early_record(&state).0, "IN_PROGRESS");
    poll(&mut state);
    assert_eq!(early_record(&state).0, "STOPPED");
}
