//! Holding the flags against each other: which target, which change to
//! the image, and every rule that refuses a command line that would do
//! nothing or contradict itself — each rule a named check, in upstream's
//! order of exit codes. No I/O: the environment is a lookup function.

use std::time::Duration;

use super::read::Flags;
use super::usage;
use crate::aws::logs;
use crate::core::image;
use crate::core::shorthand;
use crate::core::watch::rolling::DoneRule;
use crate::error::{exit, Error};
use crate::request::{CodeDeployGroup, Config, HookAction, ImageChange, RunTask, Target};

const DEFAULT_TIMEOUT_SECONDS: f64 = 600.0;
const DEFAULT_POLL_SECONDS: f64 = 5.0;
/// How many of a failed container's last log lines are shown by default.
const DEFAULT_LOG_LINES: u32 = 20;

/// The request `flags` make, or the first rule they break.
pub fn request(flags: Flags, env: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
    let target = target(&flags)?;
    let change = image_change(&flags, &env)?;
    let max_definitions = max_definitions(flags.max_definitions.as_deref())?;
    run_task_options(&flags)?;
    let codedeploy_group = codedeploy_group(&flags)?;
    let hook_action = hook_action(&flags)?;
    fits_the_target(&flags, &target)?;
    if let Some(instead) = instead_of_deploying(&flags, hook_action)? {
        deploys_nothing(&flags, instead, max_definitions.is_some())?;
    }
    no_pointless_combination(&flags, &change)?;
    let run_task = run_task(&flags)?;
    let log_lines = log_lines(flags.log_lines)?;
    Ok(Config {
        target,
        change,
        containers: flags.containers,
        set_env: flags.set_env,
        unset_env: flags.unset_env,
        dry_run: flags.dry_run,
        output: flags.output,
        log_lines,
        image_check: !flags.no_image_check,
        task_definition_file: flags.task_definition_file,
        use_latest_task_definition: flags.use_latest_task_definition,
        copy_tags: flags.copy_tags,
        force_new_deployment: flags.force_new_deployment,
        desired_count: flags.desired_count,
        minimum_healthy_percent: flags.minimum_healthy_percent,
        maximum_percent: flags.maximum_percent,
        timeout_given: flags.timeout.is_some(),
        timeout: flags
            .timeout
            .unwrap_or(Duration::from_secs_f64(DEFAULT_TIMEOUT_SECONDS)),
        poll_interval: flags
            .poll_interval
            .unwrap_or(Duration::from_secs_f64(DEFAULT_POLL_SECONDS)),
        done_rule: if flags.skip_deployments_check {
            DoneRule::NewTasksRunning
        } else {
            DoneRule::Complete
        },
        enable_rollback: flags.enable_rollback,
        wait_until: flags.wait_until,
        codedeploy_group,
        codedeploy_appspec: flags.codedeploy_appspec,
        hook_action,
        wait_only: flags.wait_only,
        max_definitions,
        run_task,
        aws: flags.aws,
        verbose: flags.verbose,
    })
}

/// `-n` (with `-c`) or `-d`: exits 5, 6 and 7 as upstream has them.
fn target(flags: &Flags) -> Result<Target, Error> {
    match (flags.services.is_empty(), &flags.task_definition) {
        (true, None) => Err(Error::usage(
            exit::NO_TARGET,
            "nothing to deploy to: pass -n/--service-name (with -c/--cluster) or -d/--task-definition.",
        )),
        (false, Some(_)) => Err(Error::usage(
            exit::BOTH_TARGETS,
            "-n/--service-name and -d/--task-definition exclude each other: pass one.",
        )),
        (false, None) => match &flags.cluster {
            Some(cluster) => Ok(Target::Services {
                cluster: cluster.clone(),
                services: dedup(flags.services.clone()),
            }),
            None => Err(Error::usage(
                exit::NO_CLUSTER,
                format!(
                    "-n {} needs the cluster it runs in: pass -c/--cluster.",
                    flags.services.join(", ")
                ),
            )),
        },
        (true, Some(task_definition)) => Ok(Target::TaskDefinition {
            task_definition: task_definition.clone(),
            cluster: flags.cluster.clone(),
        }),
    }
}

/// `-i`, `-to`, or no new image where something else changes: exits 13
/// (a bad or empty reference) and 8 (nothing to deploy).
fn image_change(
    flags: &Flags,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<ImageChange, Error> {
    match (&flags.tag_only, &flags.image) {
        (Some(tag), _) => {
            if !image::is_tag(tag) {
                return Err(Error::usage(
                    exit::BAD_IMAGE,
                    format!("-to/--tag-only '{tag}' is not a valid tag: 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'."),
                ));
            }
            Ok(ImageChange::TagOnly(tag.clone()))
        }
        (None, Some(image)) => {
            let tag = flags.tag_env_var.as_deref().and_then(env);
            let image = image::image_to_deploy(image, tag.as_deref())
                .map_err(|e| Error::usage(exit::BAD_IMAGE, e.to_string()))?;
            Ok(ImageChange::Image(image))
        }
        (None, None)
            if flags.continue_deployment
                || flags.rollback_deployment
                || flags.wait_only
                || flags.force_new_deployment
                || flags.task_definition_file.is_some()
                || !flags.set_env.is_empty()
                || !flags.unset_env.is_empty() =>
        {
            Ok(ImageChange::Unchanged)
        }
        (None, None) if flags.empty_image => Err(Error::usage(
            exit::BAD_IMAGE,
            "-i/--image is empty: give the image to deploy, REPOSITORY[:TAG].",
        )),
        (None, None) => Err(Error::usage(
            exit::NO_IMAGE,
            "no image given: pass -i/--image REPOSITORY[:TAG] (or -to TAG, or --force-new-deployment).",
        )),
    }
}

/// `--max-definitions`: a whole number of 1 or more (exit 9).
fn max_definitions(text: Option<&str>) -> Result<Option<u32>, Error> {
    let Some(text) = text else {
        return Ok(None);
    };
    match text.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(Some(n)),
        _ => Err(Error::usage(
            exit::BAD_MAX_DEFINITIONS,
            format!("--max-definitions takes a whole number of 1 or more, not '{text}'."),
        )),
    }
}

/// The options of `--run-task` need it: exits 10, 11 and 12 as upstream
/// has them.
fn run_task_options(flags: &Flags) -> Result<(), Error> {
    let needs_run_task = [
        (
            flags.launch_type.is_some(),
            "--launch-type",
            exit::LAUNCH_TYPE_WITHOUT_RUN_TASK,
        ),
        (
            flags.network_configuration.is_some(),
            "--network-configuration",
            exit::RUN_TASK_OPTION_WITHOUT_RUN_TASK,
        ),
        (
            flags.wait_for_success,
            "--wait-for-success",
            exit::RUN_TASK_OPTION_WITHOUT_RUN_TASK,
        ),
        (
            flags.platform_version.is_some(),
            "--platform-version",
            exit::PLATFORM_VERSION_WITHOUT_RUN_TASK,
        ),
        (flags.started_by.is_some(), "--started-by", exit::USAGE),
    ];
    match needs_run_task
        .iter()
        .find(|(given, ..)| *given && !flags.run_task)
    {
        Some((_, flag, code)) => Err(Error::usage(
            *code,
            format!("{flag} only applies with --run-task."),
        )),
        None => Ok(()),
    }
}

/// `--codedeploy-application` (and the group of it).
fn codedeploy_group(flags: &Flags) -> Result<Option<CodeDeployGroup>, Error> {
    match (
        &flags.codedeploy_application,
        &flags.codedeploy_deployment_group,
    ) {
        (Some(application), group) => Ok(Some(CodeDeployGroup {
            application: application.clone(),
            group: group.clone(),
        })),
        (None, Some(_)) => Err(usage(
            "--codedeploy-deployment-group needs the --codedeploy-application it belongs to.",
        )),
        (None, None) => Ok(None),
    }
}

/// `--continue-deployment` or `--rollback-deployment`, not both.
fn hook_action(flags: &Flags) -> Result<Option<HookAction>, Error> {
    match (flags.continue_deployment, flags.rollback_deployment) {
        (true, true) => Err(usage(
            "--continue-deployment and --rollback-deployment exclude each other: pass one.",
        )),
        (true, false) => Ok(Some(HookAction::Continue)),
        (false, true) => Ok(Some(HookAction::Rollback)),
        (false, false) => Ok(None),
    }
}

/// Flags that mean something for only one kind of target are errors on
/// the other, rather than silently doing nothing.
fn fits_the_target(flags: &Flags, target: &Target) -> Result<(), Error> {
    let service_only = [
        (flags.desired_count.is_some(), "-D/--desired-count"),
        (flags.minimum_healthy_percent.is_some(), "-m/--min"),
        (flags.maximum_percent.is_some(), "-M/--max"),
        (flags.force_new_deployment, "--force-new-deployment"),
        (flags.skip_deployments_check, "--skip-deployments-check"),
        (flags.enable_rollback, "--enable-rollback"),
        (flags.wait_until.is_some(), "--wait-until"),
        (
            flags.codedeploy_application.is_some(),
            "--codedeploy-application",
        ),
        (flags.codedeploy_appspec.is_some(), "--codedeploy-appspec"),
        (
            flags.continue_deployment || flags.rollback_deployment,
            "--continue-deployment/--rollback-deployment",
        ),
        (flags.wait_only, "--wait-only"),
    ];
    match target {
        Target::TaskDefinition { .. } => match service_only.iter().find(|(given, _)| *given) {
            Some((_, flag)) => Err(usage(format!(
                "{flag} applies to a service (-n), not to -d."
            ))),
            // Logs are read when something watched fails.
            None if flags.log_lines.is_some() && !flags.wait_for_success => Err(usage(
                "--log-lines shows the logs of tasks that fail while ecs-deploy waits: with -d, that is --run-task --wait-for-success.",
            )),
            None => Ok(()),
        },
        Target::Services { .. } if flags.run_task => Err(usage(
            "--run-task runs a task definition: use it with -d, not -n.",
        )),
        Target::Services { .. } => Ok(()),
    }
}

/// What a run does instead of deploying, where it deploys nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Instead {
    Answer(HookAction),
    WaitOnly,
}

/// `--continue-deployment`, `--rollback-deployment` or `--wait-only`: at
/// most one.
fn instead_of_deploying(
    flags: &Flags,
    hook_action: Option<HookAction>,
) -> Result<Option<Instead>, Error> {
    match (hook_action, flags.wait_only) {
        (Some(action), true) => Err(usage(format!(
            "{} and --wait-only exclude each other: pass one.",
            hook_flag(action)
        ))),
        (Some(action), false) => Ok(Some(Instead::Answer(action))),
        (None, true) => Ok(Some(Instead::WaitOnly)),
        (None, false) => Ok(None),
    }
}

fn hook_flag(action: HookAction) -> &'static str {
    match action {
        HookAction::Continue => "--continue-deployment",
        HookAction::Rollback => "--rollback-deployment",
    }
}

/// A run that deploys nothing changes nothing a deploy would: answering a
/// paused deployment, undoing the last one, waiting for one started
/// elsewhere. (`--wait-only` may roll back what it waited for, and stop at
/// a stage; `--rollback-deployment` may only say where it would go back.)
fn deploys_nothing(flags: &Flags, instead: Instead, max_definitions: bool) -> Result<(), Error> {
    let waits = instead == Instead::WaitOnly;
    let shows_where = instead == Instead::Answer(HookAction::Rollback);
    let deploy_only = [
        (
            flags.image.is_some() || flags.empty_image || flags.tag_only.is_some(),
            "-i/-to",
        ),
        (
            flags.task_definition_file.is_some(),
            "--task-definition-file",
        ),
        (flags.use_latest_task_definition, "--use-latest-task-def"),
        (flags.copy_tags, "--copy-task-definition-tags"),
        (
            !flags.set_env.is_empty() || !flags.unset_env.is_empty(),
            "--env/--unset-env",
        ),
        (!flags.containers.is_empty(), "--container"),
        (flags.force_new_deployment, "--force-new-deployment"),
        (flags.desired_count.is_some(), "-D/--desired-count"),
        (flags.minimum_healthy_percent.is_some(), "-m/--min"),
        (flags.maximum_percent.is_some(), "-M/--max"),
        (max_definitions, "--max-definitions"),
        (flags.enable_rollback && !waits, "--enable-rollback"),
        (flags.wait_until.is_some() && !waits, "--wait-until"),
        (flags.dry_run && !shows_where, "--dry-run"),
        (flags.no_image_check, "--no-image-check"),
        (flags.codedeploy_appspec.is_some(), "--codedeploy-appspec"),
    ];
    match deploy_only.iter().find(|(given, _)| *given) {
        Some((_, flag)) => {
            let what = match instead {
                Instead::Answer(HookAction::Continue) => {
                    "--continue-deployment answers a paused deployment"
                }
                Instead::Answer(HookAction::Rollback) => {
                    "--rollback-deployment undoes the last deployment"
                }
                Instead::WaitOnly => "--wait-only waits for a deployment started elsewhere",
            };
            Err(usage(format!(
                "{what} and deploys nothing: {flag} does not go with it."
            )))
        }
        None => Ok(()),
    }
}

/// Two flags that would each undo what the other asks.
fn no_pointless_combination(flags: &Flags, change: &ImageChange) -> Result<(), Error> {
    let pointless = [
        (flags.use_latest_task_definition && flags.task_definition_file.is_some(),
         "--use-latest-task-def and --task-definition-file both choose the base revision: pass one."),
        (flags.tag_env_var.is_some() && matches!(change, ImageChange::TagOnly(_)),
         "-e/--tag-env-var sets the tag of -i, which -to/--tag-only replaces: pass one."),
    ];
    match pointless.iter().find(|(given, _)| *given) {
        Some((_, why)) => Err(usage(*why)),
        None => Ok(()),
    }
}

/// `--log-lines`: at most what one `GetLogEvents` answers.
fn log_lines(given: Option<u32>) -> Result<u32, Error> {
    match given {
        None => Ok(DEFAULT_LOG_LINES),
        Some(n) if n <= logs::MAX_EVENTS => Ok(n),
        Some(n) => Err(usage(format!(
            "--log-lines takes at most {} lines (one CloudWatch Logs call), not {n}",
            logs::MAX_EVENTS
        ))),
    }
}

/// `--run-task` and its options, the network configuration read from its
/// shorthand or JSON.
fn run_task(flags: &Flags) -> Result<Option<RunTask>, Error> {
    if !flags.run_task {
        return Ok(None);
    }
    Ok(Some(RunTask {
        launch_type: flags.launch_type.clone(),
        platform_version: flags.platform_version.clone(),
        network_configuration: flags
            .network_configuration
            .as_deref()
            .map(shorthand::network_configuration)
            .transpose()
            .map_err(|e| usage(format!("--network-configuration: {e}")))?,
        started_by: flags.started_by.clone(),
        wait_for_success: flags.wait_for_success,
    }))
}

/// The first occurrence of each, in order.
fn dedup(names: Vec<String>) -> Vec<String> {
    let mut seen = Vec::new();
    for name in names {
        if !seen.contains(&name) {
            seen.push(name);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services(names: &[&str]) -> Flags {
        Flags {
            cluster: Some("prod".into()),
            services: names.iter().map(|n| n.to_string()).collect(),
            image: Some("acct/repo:v2".into()),
            ..Flags::default()
        }
    }

    #[test]
    fn the_target_is_services_in_a_cluster_or_a_task_definition() {
        assert_eq!(
            target(&services(&["web", "worker", "web"])).unwrap(),
            Target::Services {
                cluster: "prod".into(),
                services: vec!["web".into(), "worker".into()]
            }
        );
        let code = |flags: Flags| target(&flags).unwrap_err().exit_code();
        assert_eq!(code(Flags::default()), exit::NO_TARGET);
        assert_eq!(
            code(Flags {
                task_definition: Some("web".into()),
                ..services(&["web"])
            }),
            exit::BOTH_TARGETS
        );
        assert_eq!(
            code(Flags {
                cluster: None,
                ..services(&["web"])
            }),
            exit::NO_CLUSTER
        );
    }

    #[test]
    fn the_image_change_takes_the_tag_variable_and_knows_when_none_is_needed() {
        let env = |name: &str| (name == "CI_TAG").then(|| "1487623908".to_string());
        let flags = Flags {
            image: Some("acct/repo".into()),
            tag_env_var: Some("CI_TAG".into()),
            ..Flags::default()
        };
        assert_eq!(
            image_change(&flags, &env).unwrap(),
            ImageChange::Image(image::image_to_deploy("acct/repo:1487623908", None).unwrap())
        );
        let code = |flags: Flags| image_change(&flags, &env).unwrap_err().exit_code();
        assert_eq!(code(Flags::default()), exit::NO_IMAGE);
        let empty = Flags {
            empty_image: true,
            ..Flags::default()
        };
        assert_eq!(code(empty), exit::BAD_IMAGE);
        let bad_tag = Flags {
            tag_only: Some(".v1".into()),
            ..Flags::default()
        };
        assert_eq!(code(bad_tag), exit::BAD_IMAGE);
        let forced = Flags {
            force_new_deployment: true,
            ..Flags::default()
        };
        assert_eq!(image_change(&forced, &env).unwrap(), ImageChange::Unchanged);
    }

    #[test]
    fn max_definitions_is_a_count_of_one_or_more() {
        assert_eq!(max_definitions(None).unwrap(), None);
        assert_eq!(max_definitions(Some("3")).unwrap(), Some(3));
        for bad in ["0", "-1", "three", "1.5"] {
            let error = max_definitions(Some(bad)).unwrap_err();
            assert_eq!(error.exit_code(), exit::BAD_MAX_DEFINITIONS, "{bad}");
        }
    }

    #[test]
    fn run_task_options_need_run_task_with_upstreams_codes() {
        let code = |flags: Flags| run_task_options(&flags).unwrap_err().exit_code();
        let launch = Flags {
            launch_type: Some("FARGATE".into()),
            ..Flags::default()
        };
        assert_eq!(code(launch), exit::LAUNCH_TYPE_WITHOUT_RUN_TASK);
        let wait = Flags {
            wait_for_success: true,
            ..Flags::default()
        };
        assert_eq!(code(wait), exit::RUN_TASK_OPTION_WITHOUT_RUN_TASK);
        let platform = Flags {
            platform_version: Some("1.4.0".into()),
            ..Flags::default()
        };
        assert_eq!(code(platform), exit::PLATFORM_VERSION_WITHOUT_RUN_TASK);
        let with_it = Flags {
            run_task: true,
            wait_for_success: true,
            ..Flags::default()
        };
        assert!(run_task_options(&with_it).is_ok());
    }

    #[test]
    fn codedeploy_group_and_hook_action_are_one_choice_each() {
        let group_alone = Flags {
            codedeploy_deployment_group: Some("web-dg".into()),
            ..Flags::default()
        };
        assert!(codedeploy_group(&group_alone).is_err());
        let both = Flags {
            continue_deployment: true,
            rollback_deployment: true,
            ..Flags::default()
        };
        assert!(hook_action(&both).is_err());
    }

    #[test]
    fn service_flags_do_not_go_with_a_task_definition() {
        let revision = Target::TaskDefinition {
            task_definition: "web".into(),
            cluster: None,
        };
        let flags = Flags {
            enable_rollback: true,
            ..Flags::default()
        };
        let error = fits_the_target(&flags, &revision).unwrap_err();
        assert!(error
            .to_string()
            .contains("--enable-rollback applies to a service"));
        let run_task = Flags {
            run_task: true,
            ..Flags::default()
        };
        let cluster = target(&services(&["web"])).unwrap();
        assert!(fits_the_target(&run_task, &cluster).is_err());
    }

    #[test]
    fn log_lines_need_something_watched() {
        let revision = Target::TaskDefinition {
            task_definition: "web".into(),
            cluster: None,
        };
        let flags = Flags {
            log_lines: Some(5),
            ..Flags::default()
        };
        assert!(fits_the_target(&flags, &revision).is_err());
        let waited = Flags {
            run_task: true,
            wait_for_success: true,
            ..flags
        };
        assert!(fits_the_target(&waited, &revision).is_ok());
    }

    #[test]
    fn an_answer_to_a_hook_deploys_nothing() {
        let flags = Flags {
            continue_deployment: true,
            ..services(&["web"])
        };
        let answer = Instead::Answer(HookAction::Continue);
        let error = deploys_nothing(&flags, answer, false).unwrap_err();
        assert!(
            error.to_string().contains("-i/-to does not go with it"),
            "{error}"
        );
        let bare = Flags {
            continue_deployment: true,
            ..Flags::default()
        };
        assert!(deploys_nothing(&bare, answer, false).is_ok());
        assert!(deploys_nothing(&bare, answer, true).is_err());
        // --wait-only may roll back what it waited for; --rollback-deployment
        // may say where it would go back.
        let waiting = Flags {
            wait_only: true,
            enable_rollback: true,
            wait_until: Some("BAKE_TIME".into()),
            ..Flags::default()
        };
        assert!(deploys_nothing(&waiting, Instead::WaitOnly, false).is_ok());
        let shown = Flags {
            rollback_deployment: true,
            dry_run: true,
            ..Flags::default()
        };
        let undo = Instead::Answer(HookAction::Rollback);
        assert!(deploys_nothing(&shown, undo, false).is_ok());
        assert!(deploys_nothing(&shown, Instead::WaitOnly, false).is_err());
        let both = Flags {
            wait_only: true,
            ..Flags::default()
        };
        assert!(instead_of_deploying(&both, Some(HookAction::Rollback)).is_err());
    }

    #[test]
    fn log_lines_are_at_most_one_call() {
        assert_eq!(log_lines(None).unwrap(), DEFAULT_LOG_LINES);
        assert_eq!(log_lines(Some(0)).unwrap(), 0);
        assert_eq!(log_lines(Some(10_000)).unwrap(), 10_000);
        assert_eq!(
            log_lines(Some(10_001)).unwrap_err().exit_code(),
            exit::USAGE
        );
    }

    #[test]
    fn combinations_that_undo_each_other_are_refused() {
        let flags = Flags {
            use_latest_task_definition: true,
            task_definition_file: Some("td.json".into()),
            ..Flags::default()
        };
        assert!(no_pointless_combination(&flags, &ImageChange::Unchanged).is_err());
        let tags = Flags {
            tag_env_var: Some("CI_TAG".into()),
            ..Flags::default()
        };
        assert!(no_pointless_combination(&tags, &ImageChange::TagOnly("v2".into())).is_err());
        assert!(no_pointless_combination(&tags, &ImageChange::Unchanged).is_ok());
    }
}
