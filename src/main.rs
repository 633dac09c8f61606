//! `ecs-deploy`: ship a new container image to an Amazon ECS service and wait
//! honestly for the rollout. `main` parses, runs, and maps the outcome to an
//! exit status; everything else lives in the modules.

mod aws;
mod cli;
mod core;
mod deploy;
mod error;
mod files;
mod output;
mod request;
mod run;

use std::process::ExitCode;

use cli::Command;
use core::report::Report;
use output::safe::{self, Stream};

fn main() -> ExitCode {
    // Every module reads the environment through this: an empty variable
    // counts as unset, as the AWS SDKs treat them.
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let outcome = match cli::parse(args.clone(), env) {
        Ok(Command::Help) => {
            safe::write_raw(Stream::Stdout, cli::USAGE.trim_end());
            Ok(())
        }
        Ok(Command::Version) => {
            safe::write_raw(
                Stream::Stdout,
                concat!(
                    "ecs-deploy ",
                    env!("CARGO_PKG_VERSION"),
                    " (",
                    env!("ECS_DEPLOY_TARGET"),
                    ", commit ",
                    env!("ECS_DEPLOY_COMMIT"),
                    ")"
                ),
            );
            Ok(())
        }
        Ok(Command::Deploy(config)) => run(&config, &env),
        Err(error) => {
            // `--output json` promises one document whatever happens, bad
            // flags included (a run prints its own).
            if cli::asks_for_json(&args) {
                safe::write_raw(
                    Stream::Stdout,
                    &output::report::to_json(&Report::of_error(error.to_string())),
                );
            }
            Err(error)
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            output::print_error(&error, &env);
            ExitCode::from(error.exit_code())
        }
    }
}

/// Runs a deploy on a current-thread runtime.
fn run(config: &request::Config, env: &dyn Fn(&str) -> Option<String>) -> Result<(), error::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| error::Error::aws(format!("cannot start the runtime: {e}")))?;
    let outcome = runtime.block_on(run::run(config, env));
    // An interrupted run may leave a DNS lookup running on the blocking
    // pool; exit now rather than wait for it.
    runtime.shutdown_background();
    outcome
}
