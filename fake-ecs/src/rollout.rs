//! The scripted rollout: what one `DescribeServices` poll does to a service.

use std::time::Duration;

use serde_json::Value;

use crate::deployment_configuration::{
    circuit_breaker_rolls_back, sets_threshold, Cleanup, EarlySuccess,
};
use crate::model::{
    Deployment, Progress, Service, Step, Stopping, World, ACTIVE, PRIMARY, RUNNING, STOPPED,
};
use crate::script::Rollout;
use crate::service_deployment::{
    Revision, ServiceDeployment, Strategy, MONITORING, ROLLBACK_IN_PROGRESS, SCALE_UP,
};

/// The rolloutStateReason of a deployment the circuit breaker failed.
pub(crate) const CIRCUIT_BREAKER_FAILED: &str =
    "ECS deployment circuit breaker: tasks failed to start.";
/// Why the tasks of a [`Rollout::CircuitBreakerRollback`] deployment stop.
pub(crate) const ROLLBACK_TASK_REASON: &str =
    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref: not found";

fn task_list(world: &World, indexes: &[usize]) -> String {
    indexes
        .iter()
        .map(|&i| format!("(task {})", world.tasks[i].id))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Start `n` tasks of a deployment, RUNNING at once, with the "has started" event.
fn start_tasks(world: &mut World, service: &mut Service, deployment_id: &str, n: u32) {
    place_tasks(world, service, deployment_id, n, true);
}

/// Start `n` tasks of a deployment (or task set), with the "has started" event: RUNNING at once
/// if `run`, else left PROVISIONING. Their `startedBy` is the deployment id, their group
/// `service:NAME`. Returns their indexes.
pub(crate) fn place_tasks(
    world: &mut World,
    service: &mut Service,
    deployment_id: &str,
    n: u32,
    run: bool,
) -> Vec<usize> {
    let task_definition = match service.deployments.iter().find(|d| d.id == deployment_id) {
        Some(d) if n > 0 => d.task_definition.clone(),
        _ => return Vec::new(),
    };
    let group = format!("service:{}", service.name);
    let launch_type = service.launch_type();
    let started: Vec<usize> = (0..n)
        .map(|_| {
            let i = world.new_task(
                &service.cluster,
                &task_definition,
                Some(deployment_id.to_string()),
                Some(group.clone()),
                &launch_type,
            );
            if run {
                world.run(i);
            }
            i
        })
        .collect();
    let message = format!(
        "(service {}) has started {n} tasks: {}.",
        service.name,
        task_list(world, &started)
    );
    world.event(service, message);
    started
}

/// Stop up to `n` tasks (RUNNING or still starting) of the deployments matching `pick` (oldest
/// deployment first), with the "has stopped" event.
pub(crate) fn stop_tasks(
    world: &mut World,
    service: &mut Service,
    n: u32,
    pick: impl Fn(&Deployment) -> bool,
) {
    let ids: Vec<String> = service
        .deployments
        .iter()
        .rev()
        .filter(|d| pick(d))
        .map(|d| d.id.clone())
        .collect();
    let mut stopped = Vec::new();
    for id in &ids {
        for i in 0..world.tasks.len() {
            if stopped.len() as u32 == n {
                break;
            }
            let t = &world.tasks[i];
            if t.started_by.as_deref() == Some(id.as_str()) && t.last_status != STOPPED {
                let exit_code = (t.last_status == RUNNING).then_some(0);
                let reason = format!("Scaling activity initiated by (deployment {id})");
                world.stop(i, &reason, "ServiceSchedulerInitiated", |_| {
                    (exit_code, None)
                });
                stopped.push(i);
            }
        }
    }
    if !stopped.is_empty() {
        let message = format!(
            "(service {}) has stopped {} running tasks: {}.",
            service.name,
            stopped.len(),
            task_list(world, &stopped)
        );
        world.event(service, message);
    }
}

/// Stop every task of the service (it is being deleted).
pub(crate) fn stop_all(world: &mut World, service: &mut Service) {
    stop_tasks(world, service, u32::MAX, |_| true);
}

fn old_running(world: &World, service: &Service, current: &str) -> u32 {
    service
        .deployments
        .iter()
        .filter(|d| d.id != current)
        .map(|d| world.running_of(&d.id))
        .sum()
}

/// Finish a deployment: all its desired tasks run, every other deployment and its tasks are
/// gone, rolloutState COMPLETED (if `with_state`), and the events ECS writes for that.
pub(crate) fn complete(world: &mut World, service: &mut Service, id: &str, with_state: bool) {
    let Some(desired) = service.deployment_mut(id).map(|d| d.desired) else {
        return;
    };
    let running = world.running_of(id);
    if desired > running {
        start_tasks(world, service, id, desired - running);
    } else if running > desired {
        stop_tasks(world, service, running - desired, |d| d.id == id);
    }
    let others = old_running(world, service, id);
    stop_tasks(world, service, others, |d| d.id != id);
    service.deployments.retain(|d| d.id == id);
    let now = world.now();
    let d = &mut service.deployments[0];
    d.status = PRIMARY;
    d.pending = 0;
    d.updated_at = now;
    if with_state {
        d.rollout_state = Some("COMPLETED");
        d.rollout_state_reason = Some(format!("ECS deployment {id} completed."));
        let message = format!(
            "(service {}) (deployment {id}) deployment completed.",
            service.name
        );
        world.event(service, message);
    }
    let message = format!("(service {}) has reached a steady state.", service.name);
    world.event(service, message);
}

/// The statusReason of a service deployment that a newer one replaced.
pub(crate) const SUPERSEDED: &str = "Service deployment superseded by a newer service deployment.";
/// The rollback.reason of a StopServiceDeployment ROLLBACK request.
pub(crate) const STOP_ROLLBACK_REASON: &str =
    "Service deployment rolled back because of a StopServiceDeployment request.";
/// The statusReason of a service deployment a StopServiceDeployment ABORT request stopped.
pub(crate) const STOP_ABORT_REASON: &str =
    "Service deployment stopped because of a StopServiceDeployment request.";
/// Why the tasks of a [`Rollout::CircuitBreakerInScaleUp`] deployment stop.
const ESSENTIAL_EXITED: &str = "Essential container in task exited";
/// The lifecycle stages a [`Rollout::PauseAt`] may pause at.
const PAUSE_STAGES: [&str; 6] = [
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
];

/// Panics if a [`Rollout::PauseAt`] names a stage it cannot pause at.
pub(crate) fn check_pause_stage(rollout: &Rollout) {
    if let Rollout::PauseAt { stage, .. } = rollout {
        assert!(
            PAUSE_STAGES.contains(&stage.as_str()),
            "fake-ecs: Rollout::PauseAt cannot pause at {stage:?}; use one of {PAUSE_STAGES:?}"
        );
    }
}

/// The rollout the next deployment of a service with this deploymentConfiguration follows, or
/// why the scripted one does not fit it (UpdateService answers that as FakeEcsScriptError).
pub(crate) fn next_rollout(service: &Service, config: &Value) -> Result<Rollout, String> {
    let strategy = Strategy::of(config).unwrap_or(Strategy::Rolling);
    let staged = strategy != Strategy::Rolling;
    let rollout = match service.next_rollouts.front() {
        Some(rollout) => rollout.clone(),
        None if staged => Rollout::Staged { bake_polls: 1 },
        None => Rollout::default(),
    };
    if rollout.is_staged() != staged {
        let name = config["strategy"].as_str().unwrap_or("ROLLING");
        return Err(format!(
            "fake-ecs: {rollout:?} does not fit the {name} deployment strategy of service {}: use Complete, CompleteWithoutRolloutState, SlowDrain, TasksFail, CircuitBreakerRollback, FlakyTasks, Stuck, CompleteAfter or FailAfter for ROLLING, Staged, AlarmInBake, CircuitBreakerInScaleUp or PauseAt for BLUE_GREEN, LINEAR and CANARY.",
            service.name
        ));
    }
    let has_alarm = config["alarms"]["alarmNames"][0].is_string();
    if matches!(rollout, Rollout::AlarmInBake { .. }) && !has_alarm {
        return Err(format!(
            "fake-ecs: Rollout::AlarmInBake needs an alarm name in deploymentConfiguration.alarms.alarmNames of service {}.",
            service.name
        ));
    }
    Ok(rollout)
}

/// The steps of a staged rollout under this strategy; empty for ROLLING.
fn plan(strategy: Strategy, rollout: &Rollout) -> Vec<Step> {
    let bake_polls = match rollout {
        Rollout::Staged { bake_polls } | Rollout::PauseAt { bake_polls, .. } => *bake_polls,
        Rollout::AlarmInBake { after_polls } => *after_polls,
        _ => 1,
    };
    if strategy == Strategy::Rolling {
        return Vec::new();
    }
    let mut steps = vec![
        Step::PreScaleUp,
        Step::ScaleUp,
        Step::PostScaleUp,
        Step::TestTrafficShift,
        Step::PostTestTrafficShift,
    ];
    steps.extend(
        strategy
            .production_shifts()
            .into_iter()
            .map(Step::ProductionTrafficShift),
    );
    steps.push(Step::PostProductionTrafficShift);
    steps.extend((0..bake_polls.max(1)).map(|_| Step::BakeTime));
    steps.push(Step::CleanUp);
    steps
}

/// Take the task counts of a service deployment's revisions from the service's deployments
/// now.
fn refresh(sd: &mut ServiceDeployment, world: &World, deployments: &[Deployment]) {
    for revision in &mut sd.sources {
        refresh_revision(revision, world, deployments);
    }
    refresh_revision(&mut sd.target, world, deployments);
    if let Some(d) = deployments.iter().find(|d| d.id == sd.target.deployment_id) {
        sd.count_failures(d.failed, world.running_of(&d.id));
    }
}

/// The counts of every deployment that runs this revision (a circuit-breaker rollback
/// runs the source revision again in a new deployment).
fn refresh_revision(revision: &mut Revision, world: &World, deployments: &[Deployment]) {
    let running: Vec<&Deployment> = deployments
        .iter()
        .filter(|d| d.revision_arn == revision.arn)
        .collect();
    revision.requested = running.iter().map(|d| d.desired).sum();
    revision.pending = running.iter().map(|d| d.pending).sum();
    revision.running = running.iter().map(|d| world.running_of(&d.id)).sum();
}

/// A new PRIMARY deployment of `task_definition` (UpdateService with a new task definition or
/// forceNewDeployment) following `rollout` (the service's next scripted rollout, taken off its
/// list, or the default; see [`next_rollout`]), and its service deployment record. A service
/// deployment still under way is STOPPED as superseded.
pub(crate) fn begin(
    world: &mut World,
    service: &mut Service,
    task_definition: &str,
    rollout: Rollout,
) {
    service.next_rollouts.pop_front();
    let now = world.now();
    if let Some(sd) = service.service_deployments.last_mut() {
        if !sd.is_final() {
            refresh(sd, world, &service.deployments);
            sd.stop(now, SUPERSEDED);
        }
    }
    let with_state = !matches!(rollout, Rollout::CompleteWithoutRolloutState { .. });
    let (previous_task_definition, previous_deployment_id) = service
        .deployments
        .first()
        .map(|d| (d.task_definition.clone(), d.id.clone()))
        .unwrap_or_default();
    let old_running = service
        .deployments
        .iter()
        .map(|d| world.running_of(&d.id))
        .sum();
    let mut sources: Vec<Revision> = Vec::new();
    for d in &mut service.deployments {
        d.status = ACTIVE;
        d.updated_at = now;
        if !with_state {
            d.rollout_state = None;
            d.rollout_state_reason = None;
        }
        if !sources.iter().any(|r| r.arn == d.revision_arn) {
            sources.push(Revision::new(d.revision_arn.clone(), d.id.clone()));
        }
    }
    let id = world.deployment_id();
    let revision_arn = world.service_revision_arn(&service.cluster, &service.name, task_definition);
    service.deployments.insert(
        0,
        Deployment {
            id: id.clone(),
            status: PRIMARY,
            task_definition: task_definition.to_string(),
            desired: service.desired,
            pending: 0,
            failed: 0,
            created_at: now,
            updated_at: now,
            rollout_state: with_state.then_some("IN_PROGRESS"),
            rollout_state_reason: with_state.then(|| format!("ECS deployment {id} in progress.")),
            revision_arn: revision_arn.clone(),
        },
    );
    let strategy = Strategy::of(&service.deployment_configuration).unwrap_or(Strategy::Rolling);
    let mut record = ServiceDeployment::new(
        &service.cluster,
        &service.name,
        &service.deployment_configuration,
        strategy,
        sources,
        Revision {
            requested: service.desired,
            ..Revision::new(revision_arn, id.clone())
        },
        now,
    );
    match rollout {
        Rollout::CircuitBreakerInScaleUp { threshold } => {
            record.circuit_breaker.status = MONITORING;
            record.circuit_breaker.threshold = threshold.max(1);
        }
        Rollout::AlarmInBake { .. } => record.alarms.status = MONITORING,
        _ => {}
    }
    refresh(&mut record, world, &service.deployments);
    service.service_deployments.push(record);
    let started_wall = world.wall_now();
    if let Rollout::CompleteAfter { after } | Rollout::FailAfter { after, .. } = &rollout {
        service.rollout_due = Some(started_wall + *after);
    }
    service.progress = Some(Progress {
        deployment_id: id,
        plan: plan(strategy, &rollout),
        rollout,
        polls: 0,
        old_running,
        previous_task_definition,
        previous_deployment_id,
        next_step: 0,
        stopping: None,
        started_wall,
    });
}

/// One `DescribeServices` poll of an ACTIVE service.
pub(crate) fn advance(world: &mut World, service: &mut Service) {
    let Some(mut progress) = service.progress.take() else {
        reconcile(world, service);
        return;
    };
    progress.polls += 1;
    let record_open = service
        .service_deployments
        .last()
        .is_some_and(|sd| !sd.is_final());
    let done = match progress.stopping {
        Some(stopping) => stop_step(world, service, &mut progress, stopping),
        None if !progress.plan.is_empty() => staged_step(world, service, &mut progress),
        None => {
            let done = step(world, service, &mut progress);
            succeed_early(world, service, &progress);
            follow_rolling(world, service, &progress, done);
            done
        }
    };
    if record_open {
        if let Some(sd) = service.service_deployments.last_mut() {
            refresh(sd, world, &service.deployments);
        }
    }
    if !done {
        service.progress = Some(progress);
    }
}

/// With no rollout under way, a settled service whose desired count changed scales to it.
fn reconcile(world: &mut World, service: &mut Service) {
    let [only] = &service.deployments[..] else {
        return;
    };
    if only.rollout_state != Some("FAILED") && world.running_of(&only.id) != only.desired {
        let (id, with_state) = (only.id.clone(), only.rollout_state.is_some());
        complete(world, service, &id, with_state);
    }
}

/// Run one poll of the script; true when the rollout is over.
fn step(world: &mut World, service: &mut Service, p: &mut Progress) -> bool {
    let id = p.deployment_id.clone();
    let Some(desired) = service.deployment_mut(&id).map(|d| d.desired) else {
        return true;
    };
    let with_state = !matches!(p.rollout, Rollout::CompleteWithoutRolloutState { .. });
    if desired == 0 {
        complete(world, service, &id, with_state);
        return true;
    }
    match p.rollout.clone() {
        Rollout::Complete { polls } | Rollout::CompleteWithoutRolloutState { polls } => {
            progress(world, service, p, p.polls, polls.max(1), 0, with_state)
        }
        Rollout::SlowDrain { polls, drain_polls } => {
            progress(world, service, p, p.polls, polls.max(1), drain_polls, true)
        }
        Rollout::CompleteAfter { after } => {
            // One step per task: the share of `after` gone by says how many have moved.
            let steps = desired.max(1);
            progress(
                world,
                service,
                p,
                time_steps(world, p, after, steps),
                steps,
                0,
                true,
            )
        }
        Rollout::FailAfter { after, reason } => {
            if time_steps(world, p, after, 1) < 1 {
                hold(world, service, &id, desired);
                return false;
            }
            if start_failing_tasks(world, service, &id, 1, &reason) {
                mark_failed(world, service, &id);
            }
            true
        }
        Rollout::TasksFail {
            polls,
            tasks_per_poll,
            reason,
        } => fail(world, service, p, polls.max(1), tasks_per_poll, &reason),
        Rollout::CircuitBreakerRollback { polls } => {
            if rolling_back(service, p) {
                complete(world, service, &id, true);
                return true;
            }
            if fail(world, service, p, polls.max(1), 1, ROLLBACK_TASK_REASON) {
                roll_back(world, service, p);
            }
            false
        }
        Rollout::FlakyTasks { reason } => flaky(world, service, p, desired, &reason),
        Rollout::Stuck => {
            hold(world, service, &id, desired);
            false
        }
        // A staged rollout follows its plan (`staged_step`) and never gets here; should one
        // do so, it completes like the default.
        Rollout::Staged { .. }
        | Rollout::AlarmInBake { .. }
        | Rollout::CircuitBreakerInScaleUp { .. }
        | Rollout::PauseAt { .. } => progress(world, service, p, p.polls, 2, 0, true),
    }
}

/// Whether the circuit breaker rolled the deployment back: the script drives another
/// deployment than the target of the service deployment.
fn rolling_back(service: &Service, p: &Progress) -> bool {
    service
        .service_deployments
        .last()
        .is_some_and(|sd| sd.target.deployment_id != p.deployment_id)
}

/// A poll that moves nothing: all `desired` tasks of the deployment pending.
fn hold(world: &World, service: &mut Service, id: &str, desired: u32) {
    let now = world.now();
    if let Some(d) = service.deployment_mut(id) {
        d.pending = desired;
        d.updated_at = now;
    }
}

/// How many of `steps` equal steps of `after` the wall clock has gone through since the
/// deployment began (all of them once `after` has passed): a timed rollout's count of polls.
fn time_steps(world: &World, p: &Progress, after: Duration, steps: u32) -> u32 {
    let elapsed = world.wall_now().saturating_sub(p.started_wall);
    if elapsed >= after {
        return steps;
    }
    let share = elapsed.as_secs_f64() / after.as_secs_f64();
    ((share * f64::from(steps)) as u32).min(steps - 1)
}

/// Poll `k` of a rollout whose new tasks all run after `new_polls` polls and whose old tasks
/// are gone `drain_polls` polls later (or drain alongside when `drain_polls` is 0).
fn progress(
    world: &mut World,
    service: &mut Service,
    p: &Progress,
    k: u32,
    new_polls: u32,
    drain_polls: u32,
    with_state: bool,
) -> bool {
    let (total, id) = (new_polls + drain_polls, p.deployment_id.as_str());
    if k >= total {
        complete(world, service, id, with_state);
        return true;
    }
    let desired = service.deployment_mut(id).map_or(0, |d| d.desired);
    let target_new = if k >= new_polls {
        desired
    } else {
        desired * k / new_polls
    };
    let running_new = world.running_of(id);
    if target_new > running_new {
        start_tasks(world, service, id, target_new - running_new);
    }
    let drain_from = if drain_polls == 0 { 0 } else { new_polls };
    let target_old = if k <= drain_from {
        p.old_running
    } else {
        p.old_running * (total - k) / (total - drain_from)
    };
    let running_old = old_running(world, service, id);
    if running_old > target_old {
        stop_tasks(world, service, running_old - target_old, |d| d.id != id);
    }
    let now = world.now();
    if let Some(d) = service.deployment_mut(id) {
        d.pending = desired - target_new.max(running_new).min(desired);
        d.updated_at = now;
    }
    false
}

/// Start and stop `per_poll` failing tasks; the deployment FAILS after `polls` polls, or
/// where the deploymentConfiguration sets a `thresholdConfiguration`, on the poll its
/// failures reach the circuit breaker's threshold. True when it failed on this poll.
fn fail(
    world: &mut World,
    service: &mut Service,
    p: &Progress,
    polls: u32,
    per_poll: u32,
    reason: &str,
) -> bool {
    let id = p.deployment_id.as_str();
    if !start_failing_tasks(world, service, id, per_poll, reason) {
        return false;
    }
    let sets_threshold = service
        .service_deployments
        .last()
        .is_some_and(|sd| sets_threshold(sd.configuration()));
    let failed_now = if sets_threshold {
        failures_reach_threshold(service, id)
    } else {
        p.polls >= polls
    };
    if failed_now {
        mark_failed(world, service, id);
    }
    failed_now
}

/// One poll of [`Rollout::FlakyTasks`]: a task fails (odd polls) or turns healthy and
/// replaces an old one (even polls); true when the rollout is over.
fn flaky(
    world: &mut World,
    service: &mut Service,
    p: &mut Progress,
    desired: u32,
    reason: &str,
) -> bool {
    let id = p.deployment_id.clone();
    if rolling_back(service, p) {
        complete(world, service, &id, true);
        return true;
    }
    if p.polls % 2 == 1 {
        start_failing_tasks(world, service, &id, 1, reason);
        if failures_reach_threshold(service, &id) {
            mark_failed(world, service, &id);
            let rolls_back = service
                .service_deployments
                .last()
                .is_some_and(|sd| circuit_breaker_rolls_back(sd.configuration()));
            if rolls_back {
                roll_back(world, service, p);
            }
            return !rolls_back;
        }
    } else {
        start_tasks(world, service, &id, 1);
        stop_tasks(world, service, 1, |d| d.id != id);
    }
    let running = world.running_of(&id);
    if running >= desired {
        complete(world, service, &id, true);
        return true;
    }
    let now = world.now();
    if let Some(d) = service.deployment_mut(&id) {
        d.pending = desired - running;
        d.updated_at = now;
    }
    false
}

/// Whether the failed tasks of the deployment `id` (the target of the service deployment
/// under way) reach its circuit breaker's threshold, counted since a task last turned healthy
/// where resetOnHealthyTask says so.
fn failures_reach_threshold(service: &Service, id: &str) -> bool {
    let failed = service
        .deployments
        .iter()
        .find(|d| d.id == id)
        .map_or(0, |d| d.failed);
    service.service_deployments.last().is_some_and(|sd| {
        sd.target.deployment_id == id
            && sd.failures_since_reset(failed) >= sd.circuit_breaker.threshold
    })
}

/// Start `n` tasks of a deployment that stop at once (stoppedReason `reason`, stopCode
/// EssentialContainerExited, the essential container exits 1 with `reason`); failedTasks counts
/// them. False if the deployment is gone.
pub(crate) fn start_failing_tasks(
    world: &mut World,
    service: &mut Service,
    id: &str,
    n: u32,
    reason: &str,
) -> bool {
    let Some(d) = service.deployments.iter().find(|d| d.id == id) else {
        return false;
    };
    let (task_definition, desired) = (d.task_definition.clone(), d.desired);
    let group = format!("service:{}", service.name);
    let launch_type = service.launch_type();
    let started: Vec<usize> = (0..n)
        .map(|_| {
            let i = world.new_task(
                &service.cluster,
                &task_definition,
                Some(id.to_string()),
                Some(group.clone()),
                &launch_type,
            );
            let failing = world.tasks[i]
                .containers
                .iter()
                .position(|c| c.essential)
                .unwrap_or(0);
            let names: Vec<String> = world.tasks[i]
                .containers
                .iter()
                .map(|c| c.name.clone())
                .collect();
            world.stop(i, reason, "EssentialContainerExited", |c| {
                if names.get(failing) == Some(&c.name) {
                    (Some(1), Some(reason.to_string()))
                } else {
                    (Some(0), None)
                }
            });
            i
        })
        .collect();
    if !started.is_empty() {
        let message = format!(
            "(service {}) has started {} tasks: {}.",
            service.name,
            started.len(),
            task_list(world, &started)
        );
        world.event(service, message);
    }
    let now = world.now();
    if let Some(d) = service.deployment_mut(id) {
        d.failed += n;
        d.updated_at = now;
        d.pending = desired;
    }
    true
}

/// The circuit breaker fails a deployment: rolloutState FAILED, and the event ECS writes.
fn mark_failed(world: &mut World, service: &mut Service, id: &str) {
    let Some(d) = service.deployment_mut(id) else {
        return;
    };
    d.pending = 0;
    d.rollout_state = Some("FAILED");
    d.rollout_state_reason = Some(CIRCUIT_BREAKER_FAILED.to_string());
    let message = format!(
        "(service {}) (deployment {id}) deployment failed: tasks failed to start.",
        service.name
    );
    world.event(service, message);
}

/// The circuit breaker's rollback: the failed deployment turns ACTIVE and a new PRIMARY
/// deployment of the previous task definition (the same service revision) starts.
fn roll_back(world: &mut World, service: &mut Service, p: &mut Progress) {
    let now = world.now();
    let failed_id = p.deployment_id.clone();
    let desired = match service.deployment_mut(&failed_id) {
        Some(d) => {
            d.status = ACTIVE;
            d.desired
        }
        None => return,
    };
    let previous = p.previous_deployment_id.clone();
    let revision_arn = previous_revision_arn(service, p);
    let id = world.deployment_id();
    service.deployments.insert(
        0,
        Deployment {
            id: id.clone(),
            status: PRIMARY,
            task_definition: p.previous_task_definition.clone(),
            desired,
            pending: desired,
            failed: 0,
            created_at: now,
            updated_at: now,
            rollout_state: Some("IN_PROGRESS"),
            rollout_state_reason: Some(format!(
                "ECS deployment circuit breaker: rolling back to deploymentId {previous}."
            )),
            revision_arn,
        },
    );
    let message = format!(
        "(service {}) rolling back to deployment {previous}.",
        service.name
    );
    world.event(service, message);
    p.deployment_id = id;
}

/// The service revision the deployment before this one ran.
fn previous_revision_arn(service: &Service, p: &Progress) -> String {
    let current = service.service_deployments.last();
    let sources = current.map(|sd| sd.sources.as_slice()).unwrap_or_default();
    sources
        .iter()
        .find(|r| r.deployment_id == p.previous_deployment_id)
        .or(sources.first())
        .map(|r| r.arn.clone())
        .unwrap_or_default()
}

/// After a poll of a ROLLING deployment whose deploymentConfiguration enables early success
/// criteria: once the deployment runs `healthyPercent` of its desired tasks, its service
/// deployment is SUCCESSFUL; with BLOCKING cleanup the other deployments' tasks stop and their
/// entries go first. The deployment itself goes on as its script says.
fn succeed_early(world: &mut World, service: &mut Service, p: &Progress) {
    let id = p.deployment_id.as_str();
    let Some(sd) = service.service_deployments.last() else {
        return;
    };
    if sd.is_final() || rolling_back(service, p) {
        return;
    }
    let Some(criteria) = EarlySuccess::of(sd.configuration()) else {
        return;
    };
    let Some(d) = service.deployments.iter().find(|d| d.id == id) else {
        return;
    };
    if d.rollout_state == Some("FAILED") || world.running_of(id) < criteria.needed(d.desired) {
        return;
    }
    if criteria.cleanup == Cleanup::Blocking {
        let others = old_running(world, service, id);
        stop_tasks(world, service, others, |d| d.id != id);
        service.deployments.retain(|d| d.id == id);
    }
    let now = world.now();
    if let Some(sd) = service.service_deployments.last_mut() {
        refresh(sd, world, &service.deployments);
        sd.enter(now, SCALE_UP);
        sd.succeed(now);
    }
}

/// After a poll of a ROLLING deployment, its service deployment follows what the poll did:
/// IN_PROGRESS in SCALE_UP; SUCCESSFUL when the deployment completed; STOPPED when the circuit
/// breaker failed it; ROLLBACK_IN_PROGRESS while the circuit breaker rolls back, and
/// ROLLBACK_SUCCESSFUL once the rollback deployment completed.
fn follow_rolling(world: &World, service: &mut Service, p: &Progress, done: bool) {
    let now = world.now();
    let Some(sd) = service.service_deployments.last_mut() else {
        return;
    };
    if sd.is_final() {
        return;
    }
    let target_id = sd.target.deployment_id.clone();
    let failed_reason = service
        .deployments
        .iter()
        .find(|d| d.id == target_id && d.rollout_state == Some("FAILED"))
        .and_then(|d| d.rollout_state_reason.clone());
    sd.enter(now, SCALE_UP);
    if p.deployment_id != target_id {
        if sd.status != ROLLBACK_IN_PROGRESS {
            sd.trip_circuit_breaker();
            sd.roll_back(now, CIRCUIT_BREAKER_FAILED);
        }
        if done {
            sd.rolled_back(now);
        }
    } else if let Some(reason) = failed_reason {
        sd.trip_circuit_breaker();
        sd.stop(now, &reason);
    } else if done {
        sd.succeed(now);
    }
}

/// One poll of a BLUE_GREEN, LINEAR or CANARY deployment: the next step of its plan (see the
/// staged [`Rollout`] variants); true when it is over.
fn staged_step(world: &mut World, service: &mut Service, p: &mut Progress) -> bool {
    let now = world.now();
    let id = p.deployment_id.clone();
    let Some(sd) = service.current_service_deployment() else {
        return true;
    };
    if sd.is_paused() {
        return false;
    }
    let Some(&step) = p.plan.get(p.next_step) else {
        sd.succeed(now);
        return true;
    };
    match (step, &p.rollout) {
        (Step::ScaleUp, Rollout::CircuitBreakerInScaleUp { .. }) => {
            sd.enter(now, SCALE_UP);
            start_failing_tasks(world, service, &id, 1, ESSENTIAL_EXITED);
            let failures = service.deployment_mut(&id).map_or(0, |d| d.failed);
            let Some(sd) = service.current_service_deployment() else {
                return true;
            };
            if failures >= sd.circuit_breaker.threshold {
                sd.trip_circuit_breaker();
                mark_failed(world, service, &id);
                start_rollback(world, service, p, CIRCUIT_BREAKER_FAILED);
            }
            return false;
        }
        (Step::CleanUp, Rollout::AlarmInBake { .. }) => {
            let name = sd.trigger_alarm().unwrap_or_default();
            let reason = format!("CloudWatch alarm {name} is in ALARM state.");
            let message = format!(
                "(service {}) (deployment {id}) {reason} Rolling back.",
                service.name
            );
            world.event(service, message);
            start_rollback(world, service, p, &reason);
            return false;
        }
        _ => sd.enter(now, step.stage()),
    }
    let event = match step {
        Step::ScaleUp => {
            let desired = service.deployment_mut(&id).map_or(0, |d| d.desired);
            let running = world.running_of(&id);
            start_tasks(world, service, &id, desired.saturating_sub(running));
            None
        }
        Step::TestTrafficShift => {
            sd.test_weight = 100.0;
            Some("shifted 100% of test traffic to the new service revision.".to_string())
        }
        Step::ProductionTrafficShift(weight) => {
            sd.production_weight = weight;
            Some(format!(
                "shifted {weight}% of production traffic to the new service revision."
            ))
        }
        Step::BakeTime
            if p.next_step.checked_sub(1).and_then(|i| p.plan.get(i)) != Some(&Step::BakeTime) =>
        {
            Some("bake time started.".to_string())
        }
        Step::CleanUp => {
            complete(world, service, &id, true);
            None
        }
        _ => None,
    };
    if let Some(event) = event {
        let message = format!("(service {}) (deployment {id}) {event}", service.name);
        world.event(service, message);
    }
    p.next_step += 1;
    if let Rollout::PauseAt { stage, .. } = &p.rollout {
        let Some(sd) = service.current_service_deployment() else {
            return true;
        };
        if stage == step.stage() && sd.hooks.is_empty() {
            let hook_id = world.uuid();
            sd.pause(now, hook_id.clone());
            let message = format!(
                "(service {}) (deployment {id}) paused at {stage}: lifecycle hook {hook_id} awaits action.",
                service.name
            );
            world.event(service, message);
        }
    }
    false
}

/// One poll of a deployment being stopped or rolled back; true when it is over.
fn stop_step(
    world: &mut World,
    service: &mut Service,
    p: &mut Progress,
    stopping: Stopping,
) -> bool {
    let now = world.now();
    match stopping {
        Stopping::AbortRequested => {
            if let Some(sd) = service.current_service_deployment() {
                sd.stop(now, STOP_ABORT_REASON);
            }
            true
        }
        Stopping::RollbackRequested => {
            let reason = service
                .current_service_deployment()
                .and_then(|sd| sd.rollback_reason())
                .unwrap_or(STOP_ROLLBACK_REASON.to_string());
            start_rollback(world, service, p, &reason);
            false
        }
        Stopping::RollingBack => {
            let previous = p.deployment_id.clone();
            let with_state = service
                .deployment_mut(&previous)
                .is_some_and(|d| d.rollout_state.is_some());
            complete(world, service, &previous, with_state);
            if let Some(sd) = service.current_service_deployment() {
                sd.rolled_back(now);
            }
            true
        }
    }
}

/// Start rolling back to the previous deployment: the service deployment ROLLBACK_IN_PROGRESS
/// (traffic back on the old revision), the previous deployment PRIMARY again (a new deployment
/// of the previous task definition if it is gone), the new one ACTIVE and FAILED; the next poll
/// completes the previous deployment.
fn start_rollback(world: &mut World, service: &mut Service, p: &mut Progress, reason: &str) {
    let now = world.now();
    if let Some(sd) = service.current_service_deployment() {
        sd.roll_back(now, reason);
    }
    let new_id = p.deployment_id.clone();
    let with_state = match service.deployment_mut(&new_id) {
        Some(d) => {
            d.status = ACTIVE;
            d.updated_at = now;
            if d.rollout_state.is_some() {
                d.rollout_state = Some("FAILED");
                d.rollout_state_reason = Some(reason.to_string());
            }
            d.rollout_state.is_some()
        }
        None => true,
    };
    let previous = p.previous_deployment_id.clone();
    match service.deployments.iter().position(|d| d.id == previous) {
        Some(i) => {
            let mut d = service.deployments.remove(i);
            d.status = PRIMARY;
            d.updated_at = now;
            if with_state {
                d.rollout_state = Some("IN_PROGRESS");
                d.rollout_state_reason = Some(format!("ECS deployment {previous} in progress."));
            }
            service.deployments.insert(0, d);
        }
        None => {
            let revision_arn = previous_revision_arn(service, p);
            let id = world.deployment_id();
            service.deployments.insert(
                0,
                Deployment {
                    id: id.clone(),
                    status: PRIMARY,
                    task_definition: p.previous_task_definition.clone(),
                    desired: service.desired,
                    pending: service.desired,
                    failed: 0,
                    created_at: now,
                    updated_at: now,
                    rollout_state: with_state.then_some("IN_PROGRESS"),
                    rollout_state_reason: with_state
                        .then(|| format!("ECS deployment {id} in progress.")),
                    revision_arn,
                },
            );
            p.previous_deployment_id = id;
        }
    }
    let message = format!(
        "(service {}) rolling back to deployment {}.",
        service.name, p.previous_deployment_id
    );
    world.event(service, message);
    p.deployment_id = p.previous_deployment_id.clone();
    p.stopping = Some(Stopping::RollingBack);
}

/// StopServiceDeployment on the service's deployment under way: ROLLBACK (ROLLBACK_REQUESTED
/// now) or ABORT (STOP_REQUESTED now); a PAUSE hook waiting for action fails.
pub(crate) fn request_stop(world: &World, service: &mut Service, rollback: bool) {
    let now = world.now();
    let Some(progress) = service.progress.as_mut() else {
        return;
    };
    let Some(sd) = service.service_deployments.last_mut() else {
        return;
    };
    sd.fail_waiting_hooks(now);
    if rollback {
        sd.request_stop(now, Some(STOP_ROLLBACK_REASON));
        progress.stopping = Some(Stopping::RollbackRequested);
    } else {
        sd.request_stop(now, None);
        progress.stopping = Some(Stopping::AbortRequested);
    }
}

/// ContinueServiceDeployment on the hook `hook_id` of the service's deployment under way:
/// CONTINUE lets the next poll go on; ROLLBACK makes the deployment ROLLBACK_REQUESTED. False
/// if no hook of that id waits for action.
pub(crate) fn continue_deployment(
    world: &mut World,
    service: &mut Service,
    hook_id: &str,
    rollback: bool,
) -> bool {
    let now = world.now();
    let (Some(progress), Some(sd)) = (
        service.progress.as_mut(),
        service.service_deployments.last_mut(),
    ) else {
        return false;
    };
    let status = if rollback { "FAILED" } else { "SUCCEEDED" };
    if sd.is_final() || !sd.resolve_hook(now, hook_id, status) {
        return false;
    }
    let what = if rollback {
        let reason = format!(
            "Service deployment rolled back because lifecycle hook {hook_id} was answered with action ROLLBACK."
        );
        sd.request_stop(now, Some(&reason));
        progress.stopping = Some(Stopping::RollbackRequested);
        "asked for a rollback"
    } else {
        "let the deployment continue"
    };
    let message = format!(
        "(service {}) (deployment {}) lifecycle hook {hook_id} {what}.",
        service.name, progress.deployment_id
    );
    world.event(service, message);
    true
}
