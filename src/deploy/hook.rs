//! `--continue-deployment`: the human step of a blue/green (or linear,
//! canary) release. For each service, the deployment that waits at a PAUSE
//! lifecycle hook, and the deployment of deployments[] that goes with it,
//! are found and checked before any write; then each hook is answered
//! `CONTINUE` (`ContinueServiceDeployment`) and the deployments are watched
//! until they succeed. (`--rollback-deployment` is `undo`'s.)

use std::time::Duration;

use super::context::Run;
use super::watch::{Followed, Tracked};
use super::{Deadline, Deployer};
use crate::core::model::Model;
use crate::core::report::{Outcome, Report};
use crate::core::service::Service;
use crate::core::taskdef::short_revision;
use crate::core::watch::rolling::Watch;
use crate::core::watch::service_deployment::{self, ServiceDeployment};
use crate::core::watch::Ended;
use crate::error::Error;

/// A deployment found waiting at a hook.
struct Paused {
    service: Service,
    model: Model,
    /// The bake its configuration adds.
    bake: Duration,
    deployment: ServiceDeployment,
    hook_id: String,
    /// The deployment in deployments[] that goes with it.
    watch: Watch,
}

/// Answers the PAUSE hook of each of `names` with `CONTINUE`, then waits.
pub async fn continue_paused(
    d: &Deployer<'_>,
    cluster: &str,
    names: &[String],
    report: &mut Report,
) -> Result<(), Error> {
    let run = Run::new(d, cluster, names, None);
    let mut paused = Vec::new();
    for service in run.current_services(names).await? {
        paused.push(run.paused(service).await?);
    }
    // What is left may include the whole bake.
    let bakes = paused
        .iter()
        .map(|p| (p.service.service_name.as_str(), p.bake));
    let run = Run {
        timeout: run.deadline_for(bakes),
        ..run
    };
    let deadline = Deadline::after(run.timeout);
    // An answer ECS refuses ends nothing else: the services answered are
    // on their way (a continued one shifts production traffic) and are
    // watched to their end all the same.
    let mut tracked = Vec::new();
    let mut refused = Vec::new();
    for p in paused {
        let name = p.service.service_name.clone();
        match run.send_answer(p, report).await {
            Ok(t) => tracked.push(t),
            Err(error) => {
                let line = run.prefixed(&name, &error.to_string());
                let service = report.service(&name);
                service.result = Outcome::Error;
                service.reason = Some(line.clone());
                refused.push(line);
            }
        }
    }
    if !tracked.is_empty() {
        d.out.group("Waiting for the deployment");
        run.wait(&mut tracked, false, deadline).await;
        d.out.end_group();
    }
    run.conclude_answer(&tracked, &refused, report)
}

impl Run<'_> {
    /// The deployment of `service` that waits at a PAUSE hook; anything
    /// else (no ECS deployment, not paused) stops the run before any write.
    async fn paused(&self, service: Service) -> Result<Paused, Error> {
        let name = service.service_name.clone();
        let nothing = |why: String| {
            Err(Error::failed(format!(
                "service '{name}': {why}; nothing was sent."
            )))
        };
        let model = match Model::of(&service) {
            Ok(model) if model.is_ecs() => model,
            Ok(model) => {
                return nothing(format!(
                    "its deployments are {} ones, which have no ECS lifecycle hooks",
                    model.name()
                ))
            }
            Err(unknown) => return nothing(format!("it uses {unknown}")),
        };
        let bake = self.bake_of(&service, model)?;
        let arn = match &service.current_service_deployment {
            Some(arn) => arn.clone(),
            None => {
                let briefs = self
                    .d
                    .ecs
                    .list_service_deployments(self.cluster, &name)
                    .await?;
                match briefs
                    .into_iter()
                    .find(|b| service_deployment::is_active(&b.status))
                {
                    Some(brief) => brief.arn,
                    None => return nothing("no deployment is in progress".into()),
                }
            }
        };
        let described = self
            .d
            .ecs
            .describe_service_deployments(std::slice::from_ref(&arn))
            .await?;
        let Some(deployment) = described
            .into_iter()
            .find(|d| d.service_deployment_arn == arn)
        else {
            return nothing(format!("ECS does not know service deployment {arn}"));
        };
        let Some(hook_id) = deployment.awaiting_hook().map(|h| h.hook_id.clone()) else {
            return nothing(format!(
                "deployment {arn} is not waiting at a lifecycle hook (it is {}{})",
                deployment.status,
                deployment
                    .lifecycle_stage
                    .as_deref()
                    .map(|s| format!(", in stage {s}"))
                    .unwrap_or_default()
            ));
        };
        // The PRIMARY deployment replaces the other one.
        let Some(primary) = service.primary() else {
            return Err(Error::aws(format!(
                "service '{name}' shows no PRIMARY deployment; check it in the console. Nothing was sent."
            )));
        };
        let watch = Watch {
            deployment_id: primary.id.clone(),
            task_definition: primary.task_definition.clone(),
            previous_task_definition: service
                .deployments
                .iter()
                .find(|d| d.id != primary.id)
                .map(|d| d.task_definition.clone())
                .unwrap_or_default(),
        };
        Ok(Paused {
            service,
            model,
            bake,
            deployment,
            hook_id,
            watch,
        })
    }

    /// Sends the answer to one paused deployment, and sets up its watch.
    async fn send_answer(&self, paused: Paused, report: &mut Report) -> Result<Tracked, Error> {
        let Paused {
            service,
            model,
            bake: _,
            deployment,
            hook_id,
            watch,
        } = paused;
        let name = service.service_name.clone();
        let arn = deployment.service_deployment_arn.clone();
        let journal = self.d.journal;
        let sending = journal.sending(
            "ECS",
            format!("answering hook {hook_id} of service '{name}' with CONTINUE"),
        );
        if let Err(e) = self
            .d
            .ecs
            .continue_service_deployment(&arn, &hook_id, "CONTINUE")
            .await
        {
            sending.settled();
            return Err(Error::from(e));
        }
        sending.changed(format!(
            "answered hook {hook_id} of service '{name}' with CONTINUE"
        ));
        self.say(
            &name,
            format!(
                "Sent CONTINUE to hook {hook_id} of service deployment {arn}. Waiting until it finishes (timeout {} s)...",
                self.timeout.as_secs_f64()
            ),
        );
        let service_report = report.service(&name);
        service_report.strategy = Some(model.name().to_string());
        service_report.service_deployment_arn = Some(arn.clone());
        service_report.deployment_id = Some(watch.deployment_id.clone());
        service_report.task_definition = Some(watch.task_definition.clone());
        service_report.previous_task_definition =
            Some(watch.previous_task_definition.clone()).filter(|p| !p.is_empty());
        let followed = Followed::after_answer(arn, &hook_id);
        Ok(Tracked::new(
            &name,
            model,
            watch,
            &service,
            service.clone(),
            Some(followed),
        ))
    }

    /// Success when every answer was taken and its deployment finished.
    /// Otherwise each service says what became of it: exit 1 when a
    /// deployment did not finish, else 2 when ECS refused an answer.
    fn conclude_answer(
        &self,
        tracked: &[Tracked],
        refused: &[String],
        report: &mut Report,
    ) -> Result<(), Error> {
        let mut failures = Vec::new();
        let mut reached = Vec::new();
        for t in tracked {
            let service = report.service(&t.name);
            t.record(service);
            service.result = match &t.ended {
                Some(Ended::Done) => Outcome::Success,
                Some(Ended::Failed(failure, _)) => Outcome::of(failure),
                None => Outcome::Failed,
            };
            let revision = short_revision(&t.watch.task_definition);
            match &t.ended {
                Some(Ended::Failed(failure, _)) => {
                    let line = self.prefixed(
                        &t.name,
                        &format!("The deployment of {revision} did not finish: {failure}."),
                    );
                    service.reason = Some(line.clone());
                    failures.push(line);
                }
                _ => reached.push(self.prefixed(
                    &t.name,
                    &format!("CONTINUE sent; the deployment of {revision} finished."),
                )),
            }
        }
        if failures.is_empty() && refused.is_empty() {
            report.result = Outcome::Success;
            self.d.out.success("Service deployment successful.");
            return Ok(());
        }
        let message = [&failures[..], refused, &reached].concat().join("\n");
        if failures.is_empty() {
            report.result = Outcome::Error;
            return Err(Error::aws(message));
        }
        let first_failed = tracked
            .iter()
            .find(|t| matches!(t.ended, Some(Ended::Failed(..))))
            .map_or(Outcome::Failed, |t| report.service(&t.name).result);
        report.result = first_failed;
        Err(Error::failed(message))
    }
}
