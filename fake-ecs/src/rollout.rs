//! The scripted rollout: what one `DescribeServices` poll does to a service.

use crate::model::{Deployment, Progress, Service, World, ACTIVE, PRIMARY, RUNNING};
use crate::Rollout;

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
    if n == 0 {
        return;
    }
    let task_definition = match service.deployments.iter().find(|d| d.id == deployment_id) {
        Some(d) => d.task_definition.clone(),
        None => return,
    };
    let group = format!("service:{}", service.name);
    let started: Vec<usize> = (0..n)
        .map(|_| {
            let i = world.new_task(
                &service.cluster,
                &task_definition,
                Some(deployment_id.to_string()),
                Some(group.clone()),
                "EC2",
            );
            world.run(i);
            i
        })
        .collect();
    let message = format!(
        "(service {}) has started {n} tasks: {}.",
        service.name,
        task_list(world, &started)
    );
    world.event(service, message);
}

/// Stop up to `n` RUNNING tasks of the deployments matching `pick` (oldest deployment first),
/// with the "has stopped" event.
fn stop_tasks(
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
            if t.started_by.as_deref() == Some(id.as_str()) && t.last_status == RUNNING {
                let reason = format!("Scaling activity initiated by (deployment {id})");
                world.stop(i, &reason, "ServiceSchedulerInitiated", |_| (Some(0), None));
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

/// A new PRIMARY deployment of `task_definition` (UpdateService with a new task definition or
/// forceNewDeployment); it follows the service's next scripted rollout.
pub(crate) fn begin(world: &mut World, service: &mut Service, task_definition: &str) {
    let rollout = service.next_rollouts.pop_front().unwrap_or_default();
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
    let now = world.now();
    for d in &mut service.deployments {
        d.status = ACTIVE;
        d.updated_at = now;
        if !with_state {
            d.rollout_state = None;
            d.rollout_state_reason = None;
        }
    }
    let id = world.deployment_id();
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
        },
    );
    service.progress = Some(Progress {
        deployment_id: id,
        rollout,
        polls: 0,
        old_running,
        previous_task_definition,
        previous_deployment_id,
    });
}

/// One `DescribeServices` poll of an ACTIVE service.
pub(crate) fn advance(world: &mut World, service: &mut Service) {
    match service.progress.take() {
        Some(mut progress) => {
            progress.polls += 1;
            if !step(world, service, &mut progress) {
                service.progress = Some(progress);
            }
        }
        None => reconcile(world, service),
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
            progress(world, service, p, polls.max(1), 0, with_state)
        }
        Rollout::SlowDrain { polls, drain_polls } => {
            progress(world, service, p, polls.max(1), drain_polls, true)
        }
        Rollout::TasksFail {
            polls,
            tasks_per_poll,
            reason,
        } => fail(world, service, p, polls.max(1), tasks_per_poll, &reason),
        Rollout::CircuitBreakerRollback { polls } => {
            if p.polls <= polls.max(1) {
                if fail(world, service, p, polls.max(1), 1, ROLLBACK_TASK_REASON) {
                    roll_back(world, service, p);
                }
                false
            } else {
                complete(world, service, &id, true);
                true
            }
        }
        Rollout::Stuck => {
            let now = world.now();
            if let Some(d) = service.deployment_mut(&id) {
                d.pending = desired;
                d.updated_at = now;
            }
            false
        }
    }
}

/// Poll `p.polls` of a rollout whose new tasks all run after `new_polls` polls and whose old
/// tasks are gone `drain_polls` polls later (or drain alongside when `drain_polls` is 0).
fn progress(
    world: &mut World,
    service: &mut Service,
    p: &Progress,
    new_polls: u32,
    drain_polls: u32,
    with_state: bool,
) -> bool {
    let (k, total, id) = (p.polls, new_polls + drain_polls, p.deployment_id.as_str());
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

/// Start and stop `per_poll` failing tasks; after `polls` polls the deployment FAILS.
/// True when it failed on this poll.
fn fail(
    world: &mut World,
    service: &mut Service,
    p: &Progress,
    polls: u32,
    per_poll: u32,
    reason: &str,
) -> bool {
    let id = p.deployment_id.as_str();
    let Some(d) = service.deployments.iter().find(|d| d.id == id) else {
        return false;
    };
    let (task_definition, desired) = (d.task_definition.clone(), d.desired);
    let group = format!("service:{}", service.name);
    let started: Vec<usize> = (0..per_poll)
        .map(|_| {
            let i = world.new_task(
                &service.cluster,
                &task_definition,
                Some(id.to_string()),
                Some(group.clone()),
                "EC2",
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
    let failed_now = p.polls >= polls;
    if let Some(d) = service.deployment_mut(id) {
        d.failed += per_poll;
        d.updated_at = now;
        d.pending = if failed_now { 0 } else { desired };
        if failed_now {
            d.rollout_state = Some("FAILED");
            d.rollout_state_reason = Some(CIRCUIT_BREAKER_FAILED.to_string());
        }
    }
    if failed_now {
        let message = format!(
            "(service {}) (deployment {id}) deployment failed: tasks failed to start.",
            service.name
        );
        world.event(service, message);
    }
    failed_now
}

/// The circuit breaker's rollback: the failed deployment turns ACTIVE and a new PRIMARY
/// deployment of the previous task definition starts.
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
        },
    );
    let message = format!(
        "(service {}) rolling back to deployment {previous}.",
        service.name
    );
    world.event(service, message);
    p.deployment_id = id;
}
