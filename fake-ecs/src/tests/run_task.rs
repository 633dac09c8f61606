//! RunTask and DescribeTasks: the scripted one-off tasks.

use super::*;

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
