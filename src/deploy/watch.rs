//! Watching deployments until they end: one loop for every service of a run
//! (one `DescribeServices` per ten services, one `DescribeServiceDeployments`
//! per twenty, each kind's batches sent together), each judged by its
//! model's rules, every call bounded by the deadline; progress lines for
//! what changed; the stopped tasks' reasons (one look per poll, for every
//! service).

use std::collections::HashSet;
use std::time::Instant;

use serde_json::Value;

use super::context::{describe_service, Run};
use super::Deadline;
use crate::aws::client::AwsError;
use crate::aws::codedeploy::ACTIVE_STATUSES;
use crate::aws::in_parallel;
use crate::core::conclusion::Undo;
use crate::core::logs::ContainerLog;
use crate::core::model::Model;
use crate::core::model::READY;
use crate::core::report::ServiceReport;
use crate::core::service::{DeploymentConfiguration, Service};
use crate::core::shell::command_line;
use crate::core::taskdef::short_revision;
use crate::core::tasks::{task_id, StoppedTasks};
use crate::core::watch::progress::Progress;
use crate::core::watch::rolling::{self, Watch};
use crate::core::watch::service_deployment::{self, News, Reported, ServiceDeployment};
use crate::core::watch::{self, codedeploy, Blind, Ended, Failure, Verdict};

/// One service's deployment being watched.
pub(super) struct Tracked {
    pub name: String,
    pub model: Model,
    /// The deployment in the service's `deployments[]`.
    pub watch: Watch,
    /// The service as last described.
    pub latest: Service,
    /// The service deployment, where the API answers.
    pub service_deployment: Option<Followed>,
    /// The CodeDeploy deployment of a CODE_DEPLOY service.
    pub codedeploy: Option<FollowedCodeDeploy>,
    /// Watching a rollback ECS does (`StopServiceDeployment ROLLBACK`)
    /// rather than a deployment.
    pub rolling_back: bool,
    /// `--wait-until`: the stage that is enough.
    pub until: Option<String>,
    pub progress: Progress,
    pub stopped: StoppedTasks,
    pub ended: Option<Ended>,
    pub started: Instant,
}

/// What a run knows of the cluster's stopped tasks.
#[derive(Debug, Default)]
pub struct KnownStopped {
    /// Not to be described: described already, or stopped before the run's
    /// first write (up to an hour of any service's tasks).
    pub seen: HashSet<String>,
    /// How many pages the last listing of all of them took.
    pub pages: usize,
}

impl KnownStopped {
    /// Knows `arns`, the cluster's stopped tasks before the run's first
    /// write.
    pub fn before(arns: Vec<String>) -> KnownStopped {
        KnownStopped {
            pages: arns.len().div_ceil(LIST_TASKS_PAGE),
            seen: arns.into_iter().collect(),
        }
    }
}

/// The task ARNs one `ListTasks` page holds.
const LIST_TASKS_PAGE: usize = 100;

/// A service deployment followed through the API.
pub(super) struct Followed {
    pub arn: String,
    pub latest: Option<ServiceDeployment>,
    reported: Reported,
    /// When the bake began, how long it lasts and the minutes left last
    /// said (whole minutes).
    baking: Option<(Instant, u64, u64)>,
}

impl Followed {
    /// Follows `arn`, known as `latest` if it was described already.
    pub fn new(arn: String, latest: Option<ServiceDeployment>) -> Followed {
        Followed {
            arn,
            latest,
            reported: Reported::default(),
            baking: None,
        }
    }

    /// Follows `arn` from the next look, after its PAUSE hook `hook_id` was
    /// answered: what was known before the answer is stale.
    pub fn after_answer(arn: String, hook_id: &str) -> Followed {
        let mut followed = Followed::new(arn, None);
        followed.reported.answered(hook_id);
        followed
    }
}

/// A CodeDeploy deployment followed: the one created, and once a rollback
/// of it is under way (`rolling_back`), the rollback deployment.
pub(super) struct FollowedCodeDeploy {
    pub deployment_id: String,
    pub latest: Option<codedeploy::Deployment>,
    pub target: Option<codedeploy::Target>,
    reported: codedeploy::Reported,
    /// The deployment CodeDeploy rolls back with, once it says.
    rollback: Option<codedeploy::Deployment>,
    /// GetDeploymentTarget failed after its retries: the wait goes on with
    /// GetDeployment alone, which is what success and failure are judged on.
    target_unreadable: bool,
}

impl FollowedCodeDeploy {
    /// Follows deployment `id`.
    pub fn new(deployment_id: String) -> FollowedCodeDeploy {
        FollowedCodeDeploy {
            deployment_id,
            latest: None,
            target: None,
            reported: codedeploy::Reported::default(),
            rollback: None,
            target_unreadable: false,
        }
    }
}

/// What GetDeploymentTarget answers before the deployment reaches the service.
const NOT_STARTED_YET: [&str; 2] = [
    "DeploymentNotStartedException",
    "DeploymentTargetDoesNotExistException",
];

impl Tracked {
    /// Starts watching `watch` of service `name` (as it was `before` the
    /// deploy, so that its old events are not news, and as the update left
    /// it: `latest`), and its service deployment where one is followed.
    pub fn new(
        name: &str,
        model: Model,
        watch: Watch,
        before: &Service,
        latest: Service,
        service_deployment: Option<Followed>,
    ) -> Tracked {
        Tracked {
            name: name.to_string(),
            model,
            watch,
            latest,
            service_deployment,
            codedeploy: None,
            rolling_back: false,
            until: None,
            progress: Progress::new(before),
            stopped: StoppedTasks::default(),
            ended: None,
            started: Instant::now(),
        }
    }

    /// Judges what is known of the deployment now.
    fn verdict(&self, rule: rolling::DoneRule) -> Verdict {
        if let Some(followed) = &self.codedeploy {
            return match (&followed.latest, self.rolling_back) {
                (None, _) => Verdict::Pending,
                (Some(_), true) => match &followed.rollback {
                    Some(rollback) => codedeploy::judge_rollback(rollback),
                    // Stopped, and CodeDeploy names no rollback (yet).
                    None => Verdict::Pending,
                },
                (Some(deployment), false) => codedeploy::judge(
                    deployment,
                    followed.target.as_ref(),
                    self.until.as_deref() == Some(READY),
                ),
            };
        }
        let rolling = || rolling::judge(&self.latest, &self.watch, rule);
        match &self.service_deployment {
            None => rolling(),
            Some(Followed {
                latest: Some(deployment),
                ..
            }) if self.rolling_back => service_deployment::judge_rollback(deployment),
            Some(Followed {
                latest: Some(deployment),
                ..
            }) => watch::judge(
                &self.latest,
                &self.watch,
                Some(deployment),
                self.model,
                rule,
                self.until.as_deref(),
            ),
            // Not described yet: only a failure the service shows counts.
            Some(Followed { latest: None, .. }) => match rolling() {
                failed @ Verdict::Failed(_) if !self.rolling_back => failed,
                _ => Verdict::Pending,
            },
        }
    }

    /// What the report says of this deployment however it ended: how long it
    /// was watched and, of a service deployment, where ECS left it.
    pub fn record(&self, service: &mut ServiceReport) {
        service.duration_seconds = self.started.elapsed().as_secs_f64();
        service.logs = self.stopped.logs();
        if let Some(d) = self
            .service_deployment
            .as_ref()
            .and_then(|f| f.latest.as_ref())
        {
            service.status = Some(d.status.clone());
            service.lifecycle_stage = d.lifecycle_stage.clone();
            service.alarms_triggered = d.triggered_alarms();
        }
    }

    /// Whether its service deployment was last seen stopped while the
    /// service still showed it PRIMARY.
    fn stopped_while_primary(&self) -> bool {
        let stopped = self
            .service_deployment
            .as_ref()
            .and_then(|f| f.latest.as_ref())
            .is_some_and(|d| service_deployment::is_stopped(&d.status));
        stopped
            && self
                .latest
                .primary()
                .is_some_and(|p| p.id == self.watch.deployment_id)
    }

    /// The id the report gives the deployment: CodeDeploy's, else the one
    /// in `deployments[]`.
    pub fn deployment_id(&self) -> String {
        match &self.codedeploy {
            Some(followed) => followed.deployment_id.clone(),
            None => self.watch.deployment_id.clone(),
        }
    }

    /// How this deployment can be undone, from what was last seen of it.
    pub fn undo(&self) -> Undo {
        if let Some(followed) = &self.codedeploy {
            let id = followed.deployment_id.clone();
            return match &followed.latest {
                Some(d) if !ACTIVE_STATUSES.contains(&d.status.as_str()) => Undo::CodeDeployEnded {
                    id,
                    status: d.status.clone(),
                },
                _ => Undo::CodeDeploy { id },
            };
        }
        match &self.service_deployment {
            Some(followed)
                if followed
                    .latest
                    .as_ref()
                    .is_none_or(|d| service_deployment::is_active(&d.status)) =>
            {
                Undo::ServiceDeployment {
                    arn: followed.arn.clone(),
                }
            }
            _ => Undo::Revision,
        }
    }

    /// The journal's line for a deployment an interrupt leaves going.
    pub fn still_going(&self, cluster: &str) -> String {
        match &self.codedeploy {
            Some(followed) => format!(
                "Service '{}': CodeDeploy deployment {} of {} is still in progress ({}). Check it with: {}",
                self.name,
                followed.deployment_id,
                short_revision(&self.watch.task_definition),
                self.state(),
                command_line(&["aws", "deploy", "get-deployment", "--deployment-id", &followed.deployment_id])
            ),
            None => format!(
                "Service '{}': deployment {} of {} is still in progress in ECS ({}). Check it with: {}",
                self.name,
                self.watch.deployment_id,
                short_revision(&self.watch.task_definition),
                self.state(),
                describe_service(cluster, &self.name)
            ),
        }
    }

    /// Where the deployment stands, for the journal and for a service the
    /// wait did not see to the end.
    pub fn state(&self) -> String {
        if let Some(followed) = &self.codedeploy {
            return format!(
                "CodeDeploy deployment {}: {}",
                followed.deployment_id,
                followed
                    .latest
                    .as_ref()
                    .map_or("status unknown", |d| d.status.as_str())
            );
        }
        let counts = self
            .latest
            .deployment(&self.watch.deployment_id)
            .map_or_else(|| "state unknown".to_string(), |d| d.counts());
        match self
            .service_deployment
            .as_ref()
            .and_then(|f| f.latest.as_ref())
        {
            Some(d) => format!(
                "{}, {}{counts}",
                d.status,
                d.lifecycle_stage
                    .as_deref()
                    .map(|s| format!("stage {s}, "))
                    .unwrap_or_default()
            ),
            None => counts,
        }
    }
}

impl Run<'_> {
    /// The service deployment an update started: the one the service names
    /// as current, else the newest that `ListServiceDeployments` lists with
    /// the same id as the deployment in `deployments[]`. `None` (with one
    /// warning line) where the API is refused or has nothing: the rolling
    /// rules then judge, as before the API existed.
    pub(super) async fn find_service_deployment(
        &self,
        name: &str,
        reply: &Service,
        watch: &Watch,
        model: Model,
        deadline: Deadline,
    ) -> Option<String> {
        if self.d.service_deployments_refused.get() {
            return None;
        }
        if let Some(arn) = &reply.current_service_deployment {
            return Some(arn.clone());
        }
        let listed = self.d.ecs.list_service_deployments(self.cluster, name);
        let why = match deadline.bound("ListServiceDeployments", listed).await {
            Ok(briefs) => {
                let id = watch.deployment_id.rsplit('/').next();
                let found = briefs
                    .iter()
                    .find(|b| b.arn.rsplit('/').next() == id)
                    .or_else(|| {
                        briefs
                            .iter()
                            .find(|b| service_deployment::is_active(&b.status))
                    });
                match found {
                    Some(brief) => return Some(brief.arn.clone()),
                    None => "ListServiceDeployments lists no deployment in progress".to_string(),
                }
            }
            Err(e) => {
                if e.is_refusal() {
                    self.d.service_deployments_refused.set(true);
                }
                e.to_string()
            }
        };
        self.say(
            name,
            self.without_api(&why, model, &reply.deployment_configuration),
        );
        None
    }

    /// The warning for watching without the service-deployment API.
    fn without_api(&self, why: &str, model: Model, config: &DeploymentConfiguration) -> String {
        let mut line = format!(
            "warning: the service-deployment API did not answer ({why}); judging by the service's deployments instead"
        );
        if model != Model::Rolling {
            line.push_str(&format!(
                " (a {} bake shows as a deployment still in progress)",
                model.name()
            ));
        }
        if let Some((percent, _)) = config.early_success() {
            line.push_str(&format!(
                "; ECS's early success (at {percent}% healthy) cannot be seen, so the wait goes on until every new task runs and the old ones have drained"
            ));
        }
        if let Some(stage) = &self.d.config.wait_until {
            line.push_str(&format!(
                "; --wait-until {stage} cannot be told, so the wait goes on to the end"
            ));
        }
        line.push('.');
        line
    }

    /// Polls until every deployment is done, failed or out of time — or,
    /// with `stop_at_first_failure`, until one fails (so that a rollback of
    /// all need not wait for the slowest). Every call is bounded by the
    /// deadline plus its grace (`Deadline::bound`); a poll that fails (after
    /// the client's retries) is not the end of a deployment, but a wait that
    /// sees nothing until the deadline says so. Between polls the journal
    /// says where each service stands, for the message an interrupt prints.
    pub(super) async fn wait(
        &self,
        tracked: &mut [Tracked],
        stop_at_first_failure: bool,
        deadline: Deadline,
    ) {
        let config = self.d.config;
        // The last answer, and the polls without one since.
        let mut last_seen = Instant::now();
        let mut blind: Option<(u32, String)> = None;
        loop {
            let mut looks = Vec::new();
            let mut failures = Vec::new();
            for (i, t) in tracked
                .iter_mut()
                .enumerate()
                .filter(|(_, t)| t.ended.is_none())
            {
                self.report_progress(t);
                let mut tasks_stopped = false;
                for event in t.progress.new_events(&t.latest) {
                    // ECS says so when tasks stop; failedTasks alone misses
                    // tasks that fail after another one of the deployment ran.
                    tasks_stopped |= event.contains("has stopped");
                    self.progress(&t.name, format!("event: {event}"));
                }
                let failure = match t.verdict(config.done_rule) {
                    Verdict::Done => {
                        t.ended = Some(Ended::Done);
                        continue;
                    }
                    Verdict::Failed(failure) => Some(failure),
                    Verdict::Pending if deadline.passed() => Some(Failure::TimedOut {
                        seconds: deadline.seconds(),
                        blind: blind.as_ref().map(|(failed_polls, why)| Blind {
                            failed_polls: *failed_polls,
                            seconds: last_seen.elapsed().as_secs_f64(),
                            why: why.clone(),
                        }),
                    }),
                    Verdict::Pending => None,
                };
                // Look at stopped tasks when ECS counts new failures, and once
                // more at the end of a failed rollout so the reasons are complete.
                let new_failures = t.progress.has_new_failed_tasks(&t.latest, &t.watch);
                if !t.rolling_back && (new_failures || tasks_stopped || failure.is_some()) {
                    looks.push(i);
                }
                failures.extend(failure.map(|failure| (i, failure)));
            }
            self.report_stopped_tasks(tracked, &looks, deadline).await;
            for (i, failure) in failures {
                let t = &mut tracked[i];
                t.ended = Some(Ended::Failed(failure, t.stopped.summary()));
            }
            let any_failed = tracked
                .iter()
                .any(|t| matches!(t.ended, Some(Ended::Failed(..))));
            if stop_at_first_failure && any_failed {
                self.d.journal.in_progress(Vec::new());
                return;
            }
            self.d.journal.in_progress(
                tracked
                    .iter()
                    .filter(|t| t.ended.is_none())
                    .map(|t| t.still_going(self.cluster))
                    .collect(),
            );
            if tracked.iter().all(|t| t.ended.is_some()) {
                self.d.journal.in_progress(Vec::new());
                return;
            }
            tokio::time::sleep(self.d.poll_interval.min(deadline.remaining())).await;
            match self.poll(tracked, deadline).await {
                Ok(()) => {
                    last_seen = Instant::now();
                    blind = None;
                }
                Err(e) => {
                    self.d.out.progress(format!(
                        "could not read the service state ({e}); trying again"
                    ));
                    let failed_polls = blind.as_ref().map_or(0, |(n, _)| *n) + 1;
                    blind = Some((failed_polls, e.to_string()));
                }
            }
        }
    }

    /// One look at every deployment still watched: the services, and the
    /// service deployments of those followed through the API. A refusal of
    /// that API turns them to the rolling rules, with one warning each.
    async fn poll(&self, tracked: &mut [Tracked], deadline: Deadline) -> Result<(), AwsError> {
        let pending: Vec<String> = tracked
            .iter()
            .filter(|t| t.ended.is_none())
            .map(|t| t.name.clone())
            .collect();
        let arns: Vec<String> = tracked
            .iter()
            .filter(|t| t.ended.is_none())
            .filter_map(|t| t.service_deployment.as_ref().map(|f| f.arn.clone()))
            .collect();
        // The services first, then their service deployments: a service
        // deployment read after its service is never older than it (read
        // together, a deployment the service shows done could still be in
        // progress in its record, and cost a poll).
        let services = self.d.ecs.describe_services(self.cluster, &pending);
        let described = deadline.bound("DescribeServices", services).await?;
        let service_deployments = match arns.is_empty() {
            true => Ok(Vec::new()),
            false => {
                let call = self.d.ecs.describe_service_deployments(&arns);
                deadline.bound("DescribeServiceDeployments", call).await
            }
        };
        let deployments = match service_deployments {
            Ok(deployments) => deployments,
            Err(e) if e.is_refusal() => {
                self.d.service_deployments_refused.set(true);
                for t in tracked
                    .iter_mut()
                    .filter(|t| t.service_deployment.is_some())
                {
                    let line = self.without_api(
                        &e.to_string(),
                        t.model,
                        &t.latest.deployment_configuration,
                    );
                    self.say(&t.name, line);
                    t.service_deployment = None;
                }
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        for t in tracked.iter_mut().filter(|t| t.ended.is_none()) {
            if let Some(followed) = &mut t.codedeploy {
                self.poll_codedeploy(&t.name, followed, t.rolling_back, deadline)
                    .await?;
            }
            match described.find(&t.name) {
                Some(service) => t.latest = service.clone(),
                // ECS answered that it has no such service (any more).
                None => {
                    t.ended = Some(Ended::Failed(
                        Failure::ServiceInactive {
                            status: described.failure(&t.name).unwrap_or("MISSING").to_string(),
                        },
                        t.stopped.summary(),
                    ));
                    continue;
                }
            }
            if let Some(followed) = &mut t.service_deployment {
                if let Some(d) = deployments
                    .iter()
                    .find(|d| d.service_deployment_arn == followed.arn)
                {
                    followed.latest = Some(d.clone());
                }
            }
        }
        self.look_again_at_stopped(tracked, deadline).await
    }

    /// A service deployment found stopped while the service, described a
    /// moment before it, still shows ours as PRIMARY: the description may
    /// predate the deployment that replaced ours. Those services are
    /// described once more, so that a deploy someone else took over is
    /// judged superseded, not stopped.
    async fn look_again_at_stopped(
        &self,
        tracked: &mut [Tracked],
        deadline: Deadline,
    ) -> Result<(), AwsError> {
        let stale: Vec<String> = tracked
            .iter()
            .filter(|t| t.ended.is_none() && t.stopped_while_primary())
            .map(|t| t.name.clone())
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        let services = self.d.ecs.describe_services(self.cluster, &stale);
        let described = deadline.bound("DescribeServices", services).await?;
        for t in tracked.iter_mut().filter(|t| stale.contains(&t.name)) {
            if let Some(service) = described.find(&t.name) {
                t.latest = service.clone();
            }
        }
        Ok(())
    }

    /// One look at a CodeDeploy deployment: its status and ECS target, or,
    /// rolling back, the rollback deployment CodeDeploy started.
    async fn poll_codedeploy(
        &self,
        service: &str,
        followed: &mut FollowedCodeDeploy,
        rolling_back: bool,
        deadline: Deadline,
    ) -> Result<(), AwsError> {
        let codedeploy = &self.d.codedeploy;
        if rolling_back {
            // Once CodeDeploy names its rollback, that is all there is to watch.
            let known = followed.rollback.as_ref().map(|r| r.deployment_id.clone());
            let rollback_id = match known {
                Some(id) => Some(id),
                None => {
                    let get = codedeploy.deployment(&followed.deployment_id);
                    let (deployment, _) = deadline.bound("GetDeployment", get).await?;
                    let id = deployment.rollback_id().map(str::to_string);
                    followed.latest = Some(deployment);
                    id
                }
            };
            if let Some(id) = rollback_id {
                let get = codedeploy.deployment(&id);
                let (rollback, _) = deadline.bound("GetDeployment", get).await?;
                followed.rollback = Some(rollback);
            }
            return Ok(());
        }
        let get = codedeploy.deployment(&followed.deployment_id);
        let (deployment, _) = deadline.bound("GetDeployment", get).await?;
        if !followed.target_unreadable {
            let target = codedeploy.target(&followed.deployment_id, self.cluster, service);
            match deadline.bound("GetDeploymentTarget", target).await {
                Ok(target) => followed.target = Some(target),
                // Not there before the deployment starts on it.
                Err(e) if NOT_STARTED_YET.contains(&e.code().unwrap_or_default()) => {}
                // The target only adds the task set's progress; one that keeps
                // failing or is refused (an IAM policy without the action)
                // must not blind a wait that GetDeployment can judge.
                Err(e) => {
                    followed.target_unreadable = true;
                    self.say(
                        service,
                        format!("warning: {e}; the wait goes on with GetDeployment alone, without the replacement task set's progress."),
                    );
                }
            }
        }
        followed.latest = Some(deployment);
        Ok(())
    }

    /// The lines of what changed: task counts, and of a service deployment
    /// its stage, traffic, alarms, circuit breaker, bake and paused hooks.
    fn report_progress(&self, t: &mut Tracked) {
        if let Some(line) = t.progress.counts_change(&t.latest, &t.watch) {
            self.progress(&t.name, line);
        }
        if let Some(followed) = &mut t.codedeploy {
            self.report_codedeploy(&t.name, &mut t.watch, followed, t.rolling_back);
            return;
        }
        let Some(followed) = &mut t.service_deployment else {
            return;
        };
        let Some(deployment) = &followed.latest else {
            return;
        };
        for news in followed.reported.news(deployment) {
            let line = match news {
                News::Stage { from, to } => {
                    let mut line = match from {
                        Some(from) => format!("stage: {from} -> {to}"),
                        None => format!("stage: {to}"),
                    };
                    if to == "BAKE_TIME" {
                        let minutes = t
                            .latest
                            .deployment_configuration
                            .bake_time_in_minutes
                            .unwrap_or(0);
                        line.push_str(&format!(
                            " (both revisions run; the bake lasts {minutes} min)"
                        ));
                        let minutes = u64::from(minutes);
                        followed.baking = Some((Instant::now(), minutes, minutes));
                    }
                    line
                }
                News::Traffic { production, test } => format!(
                    "traffic on {}: production {production}%, test {test}%",
                    short_revision(&t.watch.task_definition)
                ),
                News::Alarms {
                    status,
                    names,
                    triggered,
                } => {
                    let mut line = format!("alarms ({}): {status}", names.join(", "));
                    if !triggered.is_empty() {
                        line.push_str(&format!(", in ALARM: {}", triggered.join(", ")));
                    }
                    line
                }
                News::CircuitBreaker {
                    failures,
                    threshold,
                } => format!("circuit breaker: {failures} of {threshold} tasks failed"),
                News::Paused { hook_id, stage } => {
                    let answer = |action| {
                        command_line(&["ecs-deploy", "-c", self.cluster, "-n", &t.name, action])
                    };
                    format!(
                        "paused at {stage} by PAUSE hook {hook_id}, waiting for someone to decide:\n  continue:   {}\n  roll back:  {}\n  (or: {})",
                        answer("--continue-deployment"),
                        answer("--rollback-deployment"),
                        command_line(&[
                            "aws", "ecs", "continue-service-deployment",
                            "--service-deployment-arn", &followed.arn,
                            "--hook-id", &hook_id,
                            "--action", "CONTINUE",
                        ])
                    )
                }
            };
            self.progress(&t.name, line);
        }
        // The bake's minutes left, once a minute.
        if deployment.lifecycle_stage.as_deref() != Some("BAKE_TIME") {
            followed.baking = None;
        } else if let Some((since, minutes, said)) = &mut followed.baking {
            let left = (*minutes * 60)
                .saturating_sub(since.elapsed().as_secs())
                .div_ceil(60);
            if left < *said {
                *said = left;
                self.progress(&t.name, format!("bake: {left} min left"));
            }
        }
    }

    /// The lines of what changed in a CodeDeploy deployment; the
    /// replacement task set, once known, is whose tasks are watched.
    fn report_codedeploy(
        &self,
        service: &str,
        watch: &mut Watch,
        followed: &mut FollowedCodeDeploy,
        rolling_back: bool,
    ) {
        if rolling_back {
            if let Some(rollback) = &followed.rollback {
                let line = format!(
                    "CodeDeploy rollback {}: {}",
                    rollback.deployment_id, rollback.status
                );
                if followed
                    .reported
                    .news(rollback, None)
                    .iter()
                    .any(|n| matches!(n, codedeploy::News::Status { .. }))
                {
                    self.progress(service, line);
                }
            }
            return;
        }
        let Some(deployment) = &followed.latest else {
            return;
        };
        if let Some(replacement) = followed.target.as_ref().and_then(|t| t.replacement()) {
            watch.deployment_id = replacement.to_string();
        }
        for news in followed.reported.news(deployment, followed.target.as_ref()) {
            let line = match news {
                codedeploy::News::Status { from, to } => match from {
                    Some(from) => format!("CodeDeploy {}: {from} -> {to}", followed.deployment_id),
                    None => format!("CodeDeploy {}: {to}", followed.deployment_id),
                },
                codedeploy::News::Event {
                    name,
                    status,
                    diagnostics,
                } => match diagnostics {
                    Some(why) => format!("lifecycle event {name}: {status}: {why}"),
                    None => format!("lifecycle event {name}: {status}"),
                },
                codedeploy::News::Replacement {
                    running,
                    desired,
                    traffic,
                } => format!(
                    "replacement task set ({}): {running} of {desired} running, {traffic}% of production traffic",
                    short_revision(&watch.task_definition)
                ),
            };
            self.progress(service, line);
        }
    }

    /// Prints why newly stopped tasks stopped, for the deployments at
    /// `looks` (indexes into `tracked`) and any other deployment watched
    /// whose tasks the look finds: each deployment's own stopped tasks, or,
    /// when that takes more calls, the cluster's in one listing; each task
    /// described once in the run ([`KnownStopped`]). A failure to look
    /// them up is reported but does not end the wait.
    async fn report_stopped_tasks(
        &self,
        tracked: &mut [Tracked],
        looks: &[usize],
        deadline: Deadline,
    ) {
        // A CodeDeploy replacement task set not seen yet has no tasks yet.
        let ids: Vec<&str> = looks
            .iter()
            .map(|&i| tracked[i].watch.deployment_id.as_str())
            .filter(|id| !id.is_empty())
            .collect();
        if ids.is_empty() {
            return;
        }
        let watched: Vec<&str> = tracked
            .iter()
            .filter(|t| t.ended.is_none() && !t.rolling_back)
            .map(|t| t.watch.deployment_id.as_str())
            .collect();
        let tasks = deadline.bound(
            "the stopped-task lookup",
            self.stopped_tasks_of(&ids, &watched),
        );
        let tasks = match tasks.await {
            Ok(tasks) => tasks,
            Err(e) => {
                for &i in looks {
                    let line = format!("could not read the stopped tasks: {e}");
                    self.progress(&tracked[i].name, line);
                }
                Vec::new()
            }
        };
        let mut told = looks.to_vec();
        for (i, t) in tracked
            .iter_mut()
            .enumerate()
            .filter(|(_, t)| t.ended.is_none() && !t.rolling_back)
        {
            let theirs: Vec<Value> = tasks
                .iter()
                .filter(|task| task["startedBy"] == t.watch.deployment_id.as_str())
                .cloned()
                .collect();
            if !theirs.is_empty() && !told.contains(&i) {
                told.push(i);
            }
            for line in t.stopped.add(&theirs) {
                self.progress(&t.name, line);
            }
        }
        told.sort_unstable();
        for i in told {
            self.report_failure_logs(&mut tracked[i], deadline).await;
        }
    }

    /// The stopped tasks, not described before in the run, that the
    /// deployments `watched` started; listed by `ids` (the deployments to
    /// look at), or by the cluster where one listing of it is fewer calls.
    async fn stopped_tasks_of(
        &self,
        ids: &[&str],
        watched: &[&str],
    ) -> Result<Vec<Value>, AwsError> {
        let ecs = &self.d.ecs;
        let known = &self.d.stopped;
        let pages = known.borrow().pages.max(1);
        let arns: Vec<String> = if ids.len() > pages {
            let arns = ecs.stopped_tasks_in_cluster(self.cluster).await?;
            known.borrow_mut().pages = arns.len().div_ceil(LIST_TASKS_PAGE);
            arns
        } else {
            let listed = in_parallel(ids, |id| ecs.stopped_tasks(self.cluster, id)).await;
            let mut arns = Vec::new();
            for listed in listed {
                arns.extend(listed?);
            }
            arns
        };
        let fresh: Vec<String> = arns
            .into_iter()
            .filter(|arn| !known.borrow().seen.contains(arn))
            .collect();
        let ours = |task: &Value| watched.iter().any(|id| task["startedBy"] == *id);
        let kept = ecs
            .describe_tasks_where(self.cluster, &fresh, &ours)
            .await?;
        // Described: not again. A deployment watched but not known yet (a
        // CodeDeploy task set not seen) may own those not kept: only the
        // kept ones are known for sure then.
        let mut known = known.borrow_mut();
        if watched.iter().all(|id| !id.is_empty()) {
            known.seen.extend(fresh);
        } else {
            known.seen.extend(
                kept.iter()
                    .filter_map(|task| task["taskArn"].as_str().map(str::to_string)),
            );
        }
        Ok(kept)
    }

    /// Reads and prints the logs of the first task of each new kind of
    /// failure (`--log-lines`, none with 0).
    async fn report_failure_logs(&self, t: &mut Tracked, deadline: Deadline) {
        if self.d.config.log_lines == 0 {
            return;
        }
        for task in t.stopped.awaiting_logs() {
            let (logs, notes) = self.d.failure_logs(&task, deadline).await;
            for line in logs.iter().map(ContainerLog::describe).chain(notes) {
                self.progress(&t.name, line);
            }
            let id = task_id(task["taskArn"].as_str().unwrap_or_default());
            t.stopped.logs_read(id, logs);
        }
    }
}
