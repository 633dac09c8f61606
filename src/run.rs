//! What a run is: local input first, then AWS (region, credentials, the
//! client), then the kind of run the command line asks for — a deploy to
//! services or a new revision only — and at the end the result as data
//! (`--output json`, GitHub Actions files), whatever happened. Signals are
//! answered in every phase.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use crate::aws::codedeploy::CodeDeploy;
use crate::aws::{self, ecs::Ecs};
use crate::core::report::{Outcome, Report, RollbackStatus};
use crate::deploy::codedeploy::read_appspec_file;
use crate::deploy::interrupt::{Interrupts, Journal};
use crate::deploy::revision::read_task_definition_file;
use crate::deploy::{elsewhere, hook, service, undo, Deployer};
use crate::error::{exit, Error};
use crate::output::report::{append_to_github_file, github_outputs, github_summary, to_json};
use crate::output::safe::{self, Stream};
use crate::output::Reporter;
use crate::request::{Config, HookAction, ImageChange, OutputFormat, Target};

/// Runs what `config` asks for; `env` looks up environment variables. The
/// result is also written as data where asked (`--output json`, GitHub).
pub async fn run(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Result<(), Error> {
    let started = Instant::now();
    let out = Reporter::new(started, config.output, env);
    let cluster = match &config.target {
        Target::Services { cluster, .. } => Some(cluster.as_str()),
        Target::TaskDefinition { cluster, .. } => cluster.as_deref(),
    };
    let mut report = Report::new(cluster);
    let journal = Journal::default();
    // Caught before the first file is read, for the whole run: a signal in
    // any phase ends it with the journal (exit 130), never kills it.
    let mut interrupts = Interrupts::catch();
    let result = tokio::select! {
        result = execute(config, env, &out, &journal, &mut report) => result,
        signal = interrupts.next() => {
            out.end_group();
            report.result = Outcome::Interrupted;
            // A service whose deploy or rollback had not ended ended with
            // the interrupt.
            for service in &mut report.services {
                let rolling_back = service
                    .rollback
                    .as_ref()
                    .is_some_and(|r| r.status == RollbackStatus::InProgress);
                if service.result == Outcome::Error || rolling_back {
                    service.result = Outcome::Interrupted;
                }
            }
            Err(Error::interrupted(journal.interrupted(signal)))
        }
    };
    report.duration_seconds = started.elapsed().as_secs_f64();
    if let Err(error) = &result {
        report.reason = Some(error.to_string());
        if report.result == Outcome::Error && error.exit_code() == exit::FAILED {
            report.result = Outcome::Failed;
        }
    }
    if config.output == OutputFormat::Json {
        safe::write_raw(Stream::Stdout, &to_json(&report));
    }
    if env("GITHUB_ACTIONS").as_deref() == Some("true") {
        let write = async {
            for (variable, text) in [
                ("GITHUB_OUTPUT", github_outputs(&report)),
                ("GITHUB_STEP_SUMMARY", github_summary(&report)),
            ] {
                if let Err(problem) = append_to_github_file(env, variable, &text).await {
                    safe::write_line(Stream::Stderr, &format!("warning: {problem}"));
                }
            }
        };
        // The runner's files may block (a FIFO no one reads): a signal
        // still ends the run.
        tokio::select! {
            () = write => {}
            signal = interrupts.next() => {
                let ended = match &result {
                    Ok(()) => "The run itself had succeeded.".to_string(),
                    Err(error) => format!("The run itself had ended: {error}"),
                };
                return Err(Error::interrupted(format!(
                    "{signal} received while the GitHub Actions files were written; they may be incomplete. {ended}"
                )));
            }
        }
    }
    result
}

async fn execute(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    out: &Reporter,
    journal: &Journal,
    report: &mut Report,
) -> Result<(), Error> {
    // Local input first: a bad file must stop the run before any AWS call.
    let file = match config.task_definition_file.as_deref() {
        Some(path) => Some(read_task_definition_file(path).await?),
        None => None,
    };
    let appspec = match config.codedeploy_appspec.as_deref() {
        Some(path) => Some(read_appspec_file(path).await?),
        None => None,
    };
    let connection = aws::connect(&config.aws, env, config.verbose).await?;
    let poll_interval = poll_interval(config.poll_interval, connection.ecs.is_loopback(), out);
    let deployer = Deployer {
        ecs: Ecs::new(connection.ecs),
        codedeploy: CodeDeploy::new(connection.codedeploy),
        others: connection.others,
        revisions: RefCell::default(),
        stopped: RefCell::default(),
        config,
        region: connection.region,
        poll_interval,
        out,
        journal,
        service_deployments_refused: Cell::new(false),
    };
    match &config.change {
        ImageChange::Image(image) => out.say(format!("Using image name: {image}")),
        ImageChange::TagOnly(tag) => out.say(format!("Using tag for every image: {tag}")),
        ImageChange::Unchanged => {}
    }
    if config.dry_run {
        out.say("Dry run: reading only; nothing will be registered, updated or deregistered.");
    }
    match &config.target {
        Target::Services { cluster, services } => match config.hook_action {
            Some(HookAction::Continue) => {
                hook::continue_paused(&deployer, cluster, services, report).await
            }
            Some(HookAction::Rollback) => {
                undo::roll_back_last(&deployer, cluster, services, report).await
            }
            None if config.wait_only => {
                elsewhere::wait_only(&deployer, cluster, services, report).await
            }
            None => {
                service::deploy(
                    &deployer,
                    cluster,
                    services,
                    file.as_ref(),
                    appspec.as_ref(),
                    report,
                )
                .await
            }
        },
        Target::TaskDefinition {
            task_definition,
            cluster,
        } => {
            deployer
                .register_only(task_definition, cluster.as_deref(), file.as_ref(), report)
                .await
        }
    }
}

/// The shortest `--poll-interval` against AWS: a faster poll spends the
/// account's API rate (shared with every other pipeline) and sees nothing
/// sooner, since ECS itself moves in seconds.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The shortest against an endpoint on this machine (a local fake), which
/// has no rate to spend; tests poll that fast.
pub const MIN_LOOPBACK_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// `--poll-interval`, raised to the floor (with a warning) when below it.
fn poll_interval(asked: Duration, loopback: bool, out: &Reporter) -> Duration {
    let floor = if loopback {
        MIN_LOOPBACK_POLL_INTERVAL
    } else {
        MIN_POLL_INTERVAL
    };
    if asked < floor {
        out.say(format!(
            "warning: --poll-interval {} s is below the minimum of {} s; polling every {} s.",
            asked.as_secs_f64(),
            floor.as_secs_f64(),
            floor.as_secs_f64()
        ));
        return floor;
    }
    asked
}
