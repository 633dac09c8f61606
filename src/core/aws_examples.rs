//! The AWS CLI's own examples (`fixtures/awscli/`, recorded by
//! `scripts/awscli_examples.py` from the pinned awscli; written by AWS from
//! real accounts) through every parser and judge of the core: each must read
//! the answer as the example's text describes it. Timestamps there are the
//! ISO 8601 text the CLI prints, not the wire's epoch seconds; nothing here
//! reads a timestamp. Where an example cannot be read, the test says why.

use serde_json::Value;

use super::image::ImageRef;
use super::model::Model;
use super::service::Service;
use super::taskdef;
use super::tasks::{self, StoppedTasks, TaskVerdict};
use super::watch::codedeploy::{self, Target};
use super::watch::rolling::{self, DoneRule, Watch};
use super::watch::service_deployment::{self, Reported, ServiceDeployment};
use super::watch::{Failure, Verdict};

/// An example of `fixtures/awscli/`, e.g. `example!("ecs/describe-services-1.json")`.
macro_rules! example {
    ($path:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!("../../fixtures/awscli/", $path)))
            .expect($path)
    };
}

fn service(reply: &Value) -> Service {
    serde_json::from_value(reply.clone()).expect("a service as the example shows it")
}

/// The watch ecs-deploy starts from an `UpdateService` answer: the PRIMARY
/// deployment of the revision it asked for.
fn watch_from_update(updated: &Service, new: &str, old: &str) -> Watch {
    Watch::from_update(updated, new, old).expect("the answer lists the new PRIMARY deployment")
}

const ARN: &str = "arn:aws:ecs:us-west-2:123456789012:task-definition/";

/// "retrieves details for the my-http-service service": ten tasks of its one
/// deployment run, "(service my-http-service) has reached a steady state".
/// An old-style answer (no rolloutState): done, as the only deployment left
/// with every desired task running.
#[test]
fn describe_services_a_service_in_a_steady_state_is_done() {
    let reply = example!("ecs/describe-services-1.json");
    let s = service(&reply["services"][0]);
    assert_eq!(
        (s.service_name.as_str(), s.status.as_str(), s.desired_count),
        ("my-http-service", "ACTIVE", 10)
    );
    assert_eq!(Model::of(&s), Ok(Model::Rolling));
    let primary = s.primary().expect("a PRIMARY deployment");
    assert_eq!(primary.id, "ecs-svc/1234567890123456789");
    assert_eq!(primary.counts(), "10 running, 0 pending, 10 desired");
    assert_eq!(primary.rollout_state, None);
    assert_eq!(
        s.events[0].message,
        "(service my-http-service) has reached a steady state."
    );
    let watch = Watch {
        deployment_id: primary.id.clone(),
        task_definition: format!("{ARN}amazon-ecs-sample:1"),
        previous_task_definition: String::new(),
    };
    for rule in [DoneRule::Complete, DoneRule::NewTasksRunning] {
        assert_eq!(rolling::judge(&s, &watch, rule), Verdict::Done, "{rule:?}");
    }
}

/// "updates the my-http-service service to use the amazon-ecs-sample task
/// definition": the new PRIMARY deployment (revision 2) has just started,
/// no task of it runs, the old ACTIVE one (old-amazon-ecs-sample:4) still
/// runs both. A rollout under way: pending, whatever the rule.
#[test]
fn update_service_a_new_deployment_just_started_is_pending() {
    let reply = example!("ecs/update-service-1.json");
    let s = service(&reply["service"]);
    assert_eq!(Model::of(&s), Ok(Model::Rolling));
    let new = format!("{ARN}amazon-ecs-sample:2");
    let old = format!("{ARN}old-amazon-ecs-sample:4");
    let watch = watch_from_update(&s, &new, &old);
    assert_eq!(watch.deployment_id, "ecs-svc/7419115625193919142");
    let ours = s.deployment(&watch.deployment_id).unwrap();
    assert_eq!(ours.rollout_state.as_deref(), Some("IN_PROGRESS"));
    assert_eq!(ours.counts(), "0 running, 0 pending, 0 desired");
    let theirs = s.deployment("ecs-svc/1709597507655421668").unwrap();
    assert_eq!(
        (theirs.status.as_str(), theirs.task_definition.as_str()),
        ("ACTIVE", old.as_str())
    );
    for rule in [DoneRule::Complete, DoneRule::NewTasksRunning] {
        assert_eq!(
            rolling::judge(&s, &watch, rule),
            Verdict::Pending,
            "{rule:?}"
        );
    }
}

/// Examples 3 and 4 of update-service: a service moved to another revision
/// (with, then without, an EBS volume): its PRIMARY deployment IN_PROGRESS
/// with nothing running yet, the previous one ACTIVE and COMPLETED. Pending.
#[test]
fn update_service_volume_changes_start_a_deployment_that_is_pending() {
    for (reply, new, old, id) in [
        (
            example!("ecs/update-service-3.json"),
            "mytaskdef:1",
            "mytaskdef:2",
            "ecs-svc/2420458347226626275",
        ),
        (
            example!("ecs/update-service-4.json"),
            "mytaskdef:3",
            "myoldtaskdef:1",
            "ecs-svc/7522791612543716777",
        ),
    ] {
        let s = service(&reply["service"]);
        let watch = watch_from_update(&s, &format!("{ARN}{new}"), &format!("{ARN}{old}"));
        assert_eq!(watch.deployment_id, id);
        assert_eq!(s.deployments.len(), 2);
        assert_eq!(
            rolling::judge(&s, &watch, DoneRule::Complete),
            Verdict::Pending,
            "{new}"
        );
    }
}

/// Examples 2 and 5 of update-service misspell the deployment's
/// `taskDefinition` as `taskkDefinition` (a slip of AWS's, which the model
/// check lists): a deployment without its revision cannot be judged, so the
/// answer is not read as a service at all (the answer check refuses it
/// first: `aws::ecs`'s tests).
#[test]
fn update_service_examples_that_misspell_task_definition_are_not_read() {
    for reply in [
        example!("ecs/update-service-2.json"),
        example!("ecs/update-service-5.json"),
    ] {
        let deployment = &reply["service"]["deployments"][0];
        assert!(deployment.get("taskkDefinition").is_some());
        let error = serde_json::from_value::<Service>(reply["service"].clone()).unwrap_err();
        assert!(
            error.to_string().contains("missing field `taskDefinition`"),
            "{error}"
        );
    }
}

/// "returns the service deployment details": SUCCESSFUL, its circuit
/// breaker done monitoring with no failed task, alarms off. Done, nothing
/// failed, nothing worth a line of progress; and were it a rollback being
/// waited for, SUCCESSFUL would say the rollback did not happen.
#[test]
fn describe_service_deployments_a_successful_deployment_is_done() {
    let reply = example!("ecs/describe-service-deployments-1.json");
    let d: ServiceDeployment = serde_json::from_value(reply["serviceDeployments"][0].clone())
        .expect("a service deployment");
    assert_eq!(
        d.service_deployment_arn,
        "arn:aws:ecs:us-east-1:123456789012:service-deployment/example-cluster/example-service/ejGvqq2ilnbKT9qj0vLJe"
    );
    assert_eq!(d.status, "SUCCESSFUL");
    assert!(!service_deployment::is_active(&d.status));
    let breaker = d.deployment_circuit_breaker.as_ref().unwrap();
    assert_eq!((breaker.failure_count, breaker.threshold), (0, 3));
    assert_eq!(
        d.alarms.as_ref().unwrap().status.as_deref(),
        Some("DISABLED")
    );
    assert!(d.triggered_alarms().is_empty());
    assert!(d.awaiting_hook().is_none());
    assert_eq!(service_deployment::judge(&d, None), Verdict::Done);
    assert_eq!(
        service_deployment::judge(&d, Some("BAKE_TIME")),
        Verdict::Done
    );
    assert!(Reported::default().news(&d).is_empty());
    let Verdict::Failed(failure) = service_deployment::judge_rollback(&d) else {
        panic!("a SUCCESSFUL deployment is no rollback")
    };
    assert!(failure.to_string().contains("(SUCCESSFUL)"), "{failure}");
}

/// "retrieves the details of a task" / "of multiple tasks": every task
/// RUNNING, so none is judged over and none has a stop to explain.
#[test]
fn describe_tasks_running_tasks_are_not_over() {
    for (reply, count) in [
        (example!("ecs/describe-tasks-1.json"), 1),
        (example!("ecs/describe-tasks-2.json"), 2),
    ] {
        let listed = reply["tasks"].as_array().unwrap();
        assert_eq!(listed.len(), count);
        for task in listed {
            let essential = [task["containers"][0]["name"].as_str().unwrap().to_string()];
            assert_eq!(
                tasks::judge(task, &essential),
                TaskVerdict::Running("RUNNING".into())
            );
            assert_eq!(tasks::why_stopped(task), "no reason given");
        }
    }
    // The tasks ecs-deploy starts for a deployment: startedBy its id.
    let task = &example!("ecs/describe-tasks-1.json")["tasks"][0];
    assert_eq!(task["startedBy"], "ecs-svc/968695068243EXAMPLE");
}

/// "stops the specified task": STOPPED, "Taskfailedtostart", stop code
/// TaskFailedToStart, no container ever ran. As a task of a deployment it
/// reads as one line with its reason and code; as a one-off task whose
/// essential container is `sleep` (sleep360's), it failed.
#[test]
fn stop_task_a_task_that_failed_to_start_is_explained() {
    let reply = example!("ecs/stop-task-1.json");
    let task = &reply["task"];
    assert_eq!(
        tasks::why_stopped(task),
        "Taskfailedtostart [TaskFailedToStart]"
    );
    assert_eq!(
        tasks::judge(task, &["sleep".to_string()]),
        TaskVerdict::Failed(
            "sleep has no exit code (it never ran). Taskfailedtostart [TaskFailedToStart]".into()
        )
    );
    let mut stopped = StoppedTasks::default();
    assert_eq!(
        stopped.add(std::slice::from_ref(task)),
        ["task 666fdccc2e2d4b6894dd422f4eeee8f8 stopped: Taskfailedtostart [TaskFailedToStart]"]
    );
}

/// "runs a task": the one-off task is PENDING (PROVISIONING with an EBS
/// volume), not over.
#[test]
fn run_task_a_task_just_started_is_not_over() {
    for (reply, status) in [
        (example!("ecs/run-task-1.json"), "PENDING"),
        (example!("ecs/run-task-2.json"), "PROVISIONING"),
    ] {
        let task = &reply["tasks"][0];
        let name = task["containers"][0]["name"].as_str().unwrap().to_string();
        assert_eq!(
            tasks::judge(task, &[name]),
            TaskVerdict::Running(status.into())
        );
    }
}

/// "retrieves the description of a task definition" (hello_world:8, two
/// essential containers, wordpress and mysql): what a deploy registers from
/// it keeps every field but the read-only ones, and `-i wordpress:6`
/// changes the wordpress container only.
#[test]
fn describe_task_definition_becomes_the_next_revision() {
    let reply = example!("ecs/describe-task-definition-1.json");
    let td = &reply["taskDefinition"];
    let arn = td["taskDefinitionArn"].as_str().unwrap();
    assert!(taskdef::is_named_by(arn, "hello_world:8"));
    assert!(taskdef::is_named_by(arn, "hello_world"));
    assert_eq!(
        (taskdef::family_of(arn), taskdef::revision_of(arn)),
        ("hello_world", Some(8))
    );
    assert_eq!(tasks::essential_containers(td), ["wordpress", "mysql"]);
    let mut input = taskdef::registration_input(td);
    for gone in [
        "taskDefinitionArn",
        "revision",
        "status",
        "compatibilities",
        "registeredAt",
        "registeredBy",
    ] {
        assert!(input.get(gone).is_none(), "{gone} is read-only");
    }
    for kept in [
        "family",
        "containerDefinitions",
        "volumes",
        "placementConstraints",
    ] {
        assert_eq!(input[kept], td[kept], "{kept}");
    }
    let image = ImageRef::parse("wordpress:6").unwrap();
    let applied = taskdef::apply(
        &mut input,
        &taskdef::Changes {
            image: Some(&image),
            ..Default::default()
        },
    )
    .expect("the wordpress container runs that repository");
    assert_eq!(applied.images.len(), 1);
    assert_eq!(
        taskdef::container_images(&input),
        [
            ("wordpress".to_string(), "wordpress:6".to_string()),
            ("mysql".to_string(), "mysql".to_string())
        ]
    );
}

/// RegisterTaskDefinition's and DeregisterTaskDefinition's answers: the
/// revision made (sleep360:1) and the one made INACTIVE (curler:1).
#[test]
fn register_and_deregister_name_their_revision() {
    let registered = example!("ecs/register-task-definition-1.json");
    let arn = registered["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .unwrap();
    assert_eq!(taskdef::short_revision(arn), "sleep360:1");
    assert_eq!(
        tasks::essential_containers(&registered["taskDefinition"]),
        ["sleep"]
    );
    let deregistered = example!("ecs/deregister-task-definition-1.json");
    assert_eq!(deregistered["taskDefinition"]["status"], "INACTIVE");
}

/// ListTaskDefinitions: `--max-definitions` keeps the newest revisions of a
/// family and the ones in use. Of wordpress 3–6, keeping two, 3 and 4 go;
/// sleep300 and sleep360 are other families.
#[test]
fn list_task_definitions_prunes_the_oldest_revisions_of_a_family() {
    let reply = example!("ecs/list-task-definitions-1.json");
    let wordpress: Vec<String> = reply["taskDefinitionArns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arn| arn.as_str().unwrap().to_string())
        .filter(|arn| taskdef::family_of(arn) == "wordpress")
        .collect();
    assert_eq!(wordpress.len(), 4);
    let live = format!("{ARN}wordpress:6");
    assert_eq!(
        taskdef::revisions_beyond(&wordpress, 2, &[live.as_str()]),
        [format!("{ARN}wordpress:3"), format!("{ARN}wordpress:4")]
    );
}

fn deployment_info(info: &Value) -> codedeploy::Deployment {
    serde_json::from_value(info.clone()).expect("a CodeDeploy deployment")
}

/// "displays information about a deployment": Succeeded. Done, whether or
/// not the wait ends at Ready.
#[test]
fn get_deployment_a_succeeded_deployment_is_done() {
    let reply = example!("deploy/get-deployment-1.json");
    let d = deployment_info(&reply["deploymentInfo"]);
    assert_eq!(
        (d.deployment_id.as_str(), d.status.as_str()),
        ("d-A1B2C3123", "Succeeded")
    );
    assert_eq!(d.rollback_id(), None);
    for until_ready in [false, true] {
        assert_eq!(codedeploy::judge(&d, None, until_ready), Verdict::Done);
    }
    assert_eq!(codedeploy::judge_rollback(&d), Verdict::Done);
}

/// "information about multiple deployments": both Failed, the second with
/// "HEALTH_CONSTRAINTS: Deployment failed: Constraint default violated: No
/// hosts succeeded." Each is a failure that says what CodeDeploy said, and
/// none says it rolled back.
#[test]
fn batch_get_deployments_failed_deployments_say_why() {
    let reply = example!("deploy/batch-get-deployments-1.json");
    let infos = reply["deploymentsInfo"].as_array().unwrap();
    let said: Vec<String> = infos
        .iter()
        .map(|info| {
            let d = deployment_info(info);
            let Verdict::Failed(failure) = codedeploy::judge(&d, None, false) else {
                panic!("{} is Failed", d.deployment_id)
            };
            assert!(matches!(failure, Failure::CodeDeploy(_)));
            assert!(!failure.is_ecs_rollback());
            failure.to_string()
        })
        .collect();
    assert_eq!(
        said,
        [
            "CodeDeploy deployment d-A1B2C3111 Failed",
            "CodeDeploy deployment d-A1B2C3222 Failed: HEALTH_CONSTRAINTS: Deployment failed: Constraint default violated: No hosts succeeded"
        ]
    );
}

/// GetDeploymentTarget and BatchGetDeploymentTargets show an EC2 instance
/// target (ecs-deploy only ever asks for the ECS target `cluster:service`,
/// and refuses an answer without one: `aws::codedeploy`'s tests). Its
/// lifecycle events read like an ECS target's: every one Succeeded, so none
/// failed.
#[test]
fn deployment_targets_lifecycle_events_that_succeeded_name_no_failure() {
    let single = example!("deploy/get-deployment-target-1.json");
    let batch = example!("deploy/batch-get-deployment-targets-1.json");
    for (target, events) in [
        (&single["deploymentTarget"], 7),
        (&batch["deploymentTargets"][0], 3),
    ] {
        assert_eq!(target["deploymentTargetType"], "InstanceTarget");
        assert!(target.get("ecsTarget").is_none());
        let read: Target = serde_json::from_value(target["instanceTarget"].clone()).unwrap();
        assert_eq!(read.lifecycle_events.len(), events);
        assert!(read
            .lifecycle_events
            .iter()
            .all(|e| e.status.as_deref() == Some("Succeeded")));
        assert_eq!(
            read.lifecycle_events[0].lifecycle_event_name,
            "ApplicationStop"
        );
        assert_eq!(read.failed_event(), None);
        assert_eq!(read.replacement(), None);
    }
}
