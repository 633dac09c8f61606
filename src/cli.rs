//! Command-line flags → a validated, typed request ([`Config`]). No I/O: the
//! environment is passed in as a lookup function so this stays testable.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::core::image;
use crate::core::model::READY;
use crate::core::secret::Secret;
use crate::core::shorthand;
use crate::core::watch::rolling::DoneRule;
use crate::core::watch::service_deployment::{stage_index, STAGES};
use crate::error::{exit, Error};
use crate::request::{
    AwsOptions, CodeDeployGroup, Config, HookAction, ImageChange, OutputFormat, RunTask, Target,
};

/// The usage text printed by `--help` (and kept in step with the README).
pub const USAGE: &str = "\
ecs-deploy — ship a new container image to Amazon ECS and wait honestly until
ECS has rolled it out (or say why it did not). A drop-in for the bash ecs-deploy.

Usage:
  ecs-deploy -c CLUSTER -n SERVICE -i IMAGE [options]     deploy to a service
  ecs-deploy -d TASK_DEFINITION -i IMAGE [options]        register a new revision only
  ecs-deploy -d TASK_DEFINITION -i IMAGE --run-task ...   ... and run it as a one-off task

Target (one of -n and -d):
  -c, --cluster NAME             ECS cluster (required with -n; with --run-task, else
                                 the default cluster)
  -n, --service-name NAME        Service to deploy to
  -d, --task-definition NAME     Task definition (FAMILY, FAMILY:REVISION or ARN) to
                                 register a new revision of; no service is touched
  -i, --image IMAGE              Image to deploy: [registry[:port]/]repo[:tag|@sha256:digest]
                                 Every container whose image is in the same repository
                                 gets this image; other containers are left alone.
                                 No tag and no digest means :latest (or see -e).
  -to, --tag-only TAG            Instead of -i: give every container's image this tag
                                 (replacing its tag or digest); -i may be a placeholder
  -toc, --tag_only_container_names NAMES
                                 With -to: only these containers (comma-separated; the
                                 same as --container for each)
  -e, --tag-env-var VAR          Take the image tag from environment variable VAR
                                 (when set and non-empty; replaces a tag or digest in -i)
      --task-definition-file F   Base the new revision on this JSON file (what
                                 `aws ecs describe-task-definition` prints, or a bare
                                 task definition) instead of the current revision
      --use-latest-task-def      Base the new revision on the newest ACTIVE revision of
                                 the family instead of the one the service runs
      --copy-task-definition-tags
                                 Copy the base revision's tags to the new revision
      --max-definitions N        After success keep only the N newest ACTIVE revisions
                                 of the family (never the running one)

Service deployment (-n):
  -D, --desired-count N          Set the service's desired task count
  -m, --min PERCENT              deploymentConfiguration.minimumHealthyPercent
  -M, --max PERCENT              deploymentConfiguration.maximumPercent
      --force-new-deployment     Start a new deployment even without a new image
  -t, --timeout SECONDS          Deadline for the whole wait (default 600); every call
                                 after the update ends by it plus 10 s; a rollback gets
                                 a deadline of its own, as long
      --poll-interval SECONDS    Time between status polls, fractions allowed (default 5;
                                 at least 1, or 0.01 on a loopback endpoint)
      --skip-deployments-check   Succeed once the new tasks run, without waiting for
                                 old tasks to drain
      --enable-rollback          If the deployment fails or times out, roll it back (ECS's
                                 own rollback where the service-deployment API answers,
                                 else point the service back at the previous task
                                 definition) and wait for that
      --wait-until STAGE         Succeed once the service deployment reaches this lifecycle
                                 stage (e.g. POST_TEST_TRAFFIC_SHIFT, BAKE_TIME), or for a
                                 CodeDeploy service READY, instead of waiting for the end
      --continue-deployment      Continue the deployment paused at a PAUSE lifecycle hook
                                 (no image), and wait for it to finish
      --rollback-deployment      Roll back the deployment paused at a PAUSE lifecycle hook
                                 (no image), and wait for the rollback

One-off task (-d):
      --run-task                 Run the new revision as a task
      --launch-type TYPE         EC2, FARGATE or EXTERNAL
      --platform-version VER     Fargate platform version, e.g. LATEST or 1.4.0
      --network-configuration C  awsvpcConfiguration={subnets=[a,b],securityGroups=[c],
                                 assignPublicIp=ENABLED}, or the same as JSON
      --started-by TEXT          The task's startedBy
      --wait-for-success         Wait (up to -t) until the task stops; succeed only if
                                 every essential container exited 0

AWS:
  -r, --region REGION            AWS region (else AWS_REGION, AWS_DEFAULT_REGION, the
                                 profile's region, instance metadata)
  -p, --profile NAME             Profile of ~/.aws/config and ~/.aws/credentials
                                 (else AWS_PROFILE, else default)
  -k, --aws-access-key KEY       Access key id (else AWS_ACCESS_KEY_ID, profile, web
                                 identity, container, instance metadata)
  -s, --aws-secret-key SECRET    Secret access key (with -k)
      --aws-instance-profile     Use the EC2 instance profile (instance metadata) only
  -a, --aws-assume-role ARN      Assume this role with the credentials found, and deploy
                                 with the role's credentials
      --endpoint-url URL         ECS endpoint (else AWS_ENDPOINT_URL_ECS, AWS_ENDPOINT_URL,
                                 else https://ecs.REGION.amazonaws.com); http:// only
                                 on loopback

CodeDeploy (services with the CODE_DEPLOY deployment controller, found by themselves):
      --codedeploy-application NAME
                                 The CodeDeploy application (else the one whose deployment
                                 group deploys the service)
      --codedeploy-deployment-group NAME
                                 Its deployment group (with --codedeploy-application)
      --codedeploy-appspec FILE  An AppSpec (JSON or YAML, e.g. with hooks) to merge the
                                 computed one into

Beyond the bash script:
  -n SERVICE -n SERVICE ...      Deploy several services of the cluster together: one
                                 wait, all rolled back if one fails (--enable-rollback)
      --container NAME           Change only this container (repeatable); with -i it gets
                                 the image whatever it ran before
      --env NAME=VALUE           Set an environment variable in the changed containers
                                 (repeatable; the value is never printed)
      --unset-env NAME           Remove an environment variable (repeatable)
      --dry-run                  Read only: show the task-definition diff, the
                                 UpdateService that would be sent and the revisions
                                 --max-definitions would deregister; change nothing
      --output FORMAT            text (default) or json: one JSON document on stdout at
                                 the end, progress on stderr

Output:
  -v, --verbose                  One line per AWS call: operation, status, attempt, ms
  -h, --help                     Print this help
      --version                  Print the version, the target and the commit

Empty arguments ('') are ignored. Exit status: 0 done; 1 deployment or task failed,
timed out or rolled back, or no container uses the image's repository; 2 AWS refused
or unreachable (credentials, permissions, not found, an answer that is not one);
3 usage; 5 neither -n nor -d; 6 both -n and -d; 7 -n without -c; 8 no image;
9 bad --max-definitions; 10 --launch-type, 11 --network-configuration or
--wait-for-success, 12 --platform-version without --run-task; 13 bad or empty image
reference or tag; 130 interrupted (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT).
";

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Help,
    Version,
    Deploy(Box<Config>),
}

const DEFAULT_TIMEOUT_SECONDS: f64 = 600.0;
const DEFAULT_POLL_SECONDS: f64 = 5.0;

/// Parses the arguments (without the program name).
pub fn parse(args: Vec<OsString>, env: impl Fn(&str) -> Option<String>) -> Result<Command, Error> {
    // Upstream's GitHub Action passes '' '' for options it does not use, and
    // `--image ''` when its image input is empty, for which upstream exits 13.
    let mut empty_image = false;
    let mut kept: Vec<OsString> = Vec::with_capacity(args.len());
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let is_image_flag = arg == "-i" || arg == "--image";
        if is_image_flag && args.peek().is_some_and(|next| next.is_empty()) {
            args.next();
            empty_image = true;
        } else if arg == "--image=" || arg == "-i=" {
            empty_image = true;
        } else if arg == "-to" {
            // `-to` is not a single-character short flag, which pico-args expects.
            kept.push(OsString::from("--tag-only"));
        } else if arg == "-toc" {
            kept.push(OsString::from("--tag_only_container_names"));
        } else if !arg.is_empty() {
            kept.push(arg);
        }
    }
    let args = kept;
    if args.is_empty() {
        return Err(usage("no arguments given"));
    }
    let mut args = pico_args::Arguments::from_vec(args);
    if args.contains(["-h", "--help"]) {
        return Ok(Command::Help);
    }
    if args.contains("--version") {
        return Ok(Command::Version);
    }

    let cluster = value(&mut args, &["-c", "--cluster"])?;
    let services = values(&mut args, &["-n", "--service-name"])?;
    let task_definition = value(&mut args, &["-d", "--task-definition"])?;
    let image = value(&mut args, &["-i", "--image"])?;
    let tag_only = value(&mut args, &["--tag-only"])?;
    let tag_env_var = value(&mut args, &["-e", "--tag-env-var"])?;
    let task_definition_file = value(&mut args, &["--task-definition-file"])?.map(PathBuf::from);
    let use_latest_task_definition = args.contains("--use-latest-task-def");
    let copy_tags = args.contains("--copy-task-definition-tags");
    let force_new_deployment = args.contains("--force-new-deployment");
    let desired_count = number(&mut args, &["-D", "--desired-count"], "a task count")?;
    let minimum_healthy_percent = number(&mut args, &["-m", "--min"], "a percentage")?;
    let maximum_percent = number(&mut args, &["-M", "--max"], "a percentage")?;
    let timeout = seconds(&mut args, &["-t", "--timeout"])?;
    let poll_interval = seconds(&mut args, &["--poll-interval"])?;
    let skip_deployments_check = args.contains("--skip-deployments-check");
    let enable_rollback = args.contains("--enable-rollback");
    let wait_until = value(&mut args, &["--wait-until"])?
        .map(|stage| {
            let upper = stage.to_ascii_uppercase();
            if stage_index(&upper).is_some() || upper == READY {
                Ok(upper)
            } else {
                Err(usage(format!(
                    "--wait-until takes a lifecycle stage of a service deployment ({}), or READY for a CodeDeploy deployment",
                    STAGES.join(", ")
                )))
            }
        })
        .transpose()?;
    let codedeploy_group =
        match (
            value(&mut args, &["--codedeploy-application"])?,
            value(&mut args, &["--codedeploy-deployment-group"])?,
        ) {
            (Some(application), group) => Some(CodeDeployGroup { application, group }),
            (None, Some(_)) => return Err(usage(
                "--codedeploy-deployment-group needs the --codedeploy-application it belongs to.",
            )),
            (None, None) => None,
        };
    let codedeploy_appspec = value(&mut args, &["--codedeploy-appspec"])?.map(PathBuf::from);
    let hook_action = match (
        args.contains("--continue-deployment"),
        args.contains("--rollback-deployment"),
    ) {
        (true, true) => {
            return Err(usage(
                "--continue-deployment and --rollback-deployment exclude each other: pass one.",
            ))
        }
        (true, false) => Some(HookAction::Continue),
        (false, true) => Some(HookAction::Rollback),
        (false, false) => None,
    };
    let max_definitions = raw_value(&mut args, &["--max-definitions"])?;
    let run_task = args.contains("--run-task");
    let launch_type = value(&mut args, &["--launch-type"])?;
    let platform_version = value(&mut args, &["--platform-version"])?;
    let network_configuration = value(&mut args, &["--network-configuration"])?;
    let started_by = value(&mut args, &["--started-by"])?;
    let wait_for_success = args.contains("--wait-for-success");
    let aws = AwsOptions {
        region: value(&mut args, &["-r", "--region"])?,
        endpoint_url: value(&mut args, &["--endpoint-url"])?,
        access_key_id: value(&mut args, &["-k", "--aws-access-key"])?,
        secret_access_key: value(&mut args, &["-s", "--aws-secret-key"])?.map(Secret::new),
        profile: value(&mut args, &["-p", "--profile"])?,
        instance_profile: args.contains("--aws-instance-profile"),
        assume_role: value(&mut args, &["-a", "--aws-assume-role"])?,
    };
    let verbose = args.contains(["-v", "--verbose"]);
    let dry_run = args.contains("--dry-run");
    let output = match value(&mut args, &["--output"])?.as_deref() {
        None | Some("text") => OutputFormat::Text,
        Some("json") => OutputFormat::Json,
        Some(other) => return Err(usage(format!("--output takes text or json, not '{other}'"))),
    };
    let mut containers = values(&mut args, &["--container"])?;
    // Upstream's `-toc a,b`: the containers `-to` changes.
    for names in values(&mut args, &["--tag_only_container_names"])? {
        containers.extend(
            names
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string),
        );
    }
    let set_env = values(&mut args, &["--env"])?
        .into_iter()
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if is_env_name(name) => Ok((name.to_string(), Secret::new(value))),
            // Never echo the value: it may be a secret.
            _ => Err(usage(
                "--env takes NAME=VALUE with a NAME of letters, digits and '_'",
            )),
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let unset_env = values(&mut args, &["--unset-env"])?;
    if unset_env.iter().any(|n| !is_env_name(n)) {
        // Never echo it: `--unset-env TOKEN=value` is the mistake to expect.
        return Err(usage(
            "--unset-env takes a variable NAME of letters, digits and '_'",
        ));
    }

    let rest = args.finish();
    if let Some(first) = rest.first() {
        let first = first.to_string_lossy();
        // A stray value may be the tail of an unquoted secret (`--env
        // TOKEN=$SECRET` with a space in it): never repeat it.
        return Err(usage(if first.starts_with('-') {
            unknown_flag(&first)
        } else {
            "an argument is not the value of any flag (a value with spaces that was not quoted?)"
                .to_string()
        }));
    }

    // The checks and their exit codes, in upstream's order.
    let target = match (services.is_empty(), task_definition) {
        (true, None) => {
            return Err(Error::usage(
                exit::NO_TARGET,
                "nothing to deploy to: pass -n/--service-name (with -c/--cluster) or -d/--task-definition.",
            ))
        }
        (false, Some(_)) => {
            return Err(Error::usage(
                exit::BOTH_TARGETS,
                "-n/--service-name and -d/--task-definition exclude each other: pass one.",
            ))
        }
        (false, None) => match cluster {
            Some(cluster) => Target::Services { cluster, services: dedup(services) },
            None => {
                return Err(Error::usage(
                    exit::NO_CLUSTER,
                    format!("-n {} needs the cluster it runs in: pass -c/--cluster.", services.join(", ")),
                ))
            }
        },
        (true, Some(task_definition)) => Target::TaskDefinition {
            task_definition,
            cluster,
        },
    };
    let (image_given, tag_given) = (image.is_some() || empty_image, tag_only.is_some());
    let change = match (tag_only, image) {
        (Some(tag), _) => {
            if !image::is_tag(&tag) {
                return Err(Error::usage(
                    exit::BAD_IMAGE,
                    format!("-to/--tag-only '{tag}' is not a valid tag: 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'."),
                ));
            }
            ImageChange::TagOnly(tag)
        }
        (None, Some(image)) => {
            let tag = tag_env_var.as_deref().and_then(&env);
            let image = image::image_to_deploy(&image, tag.as_deref())
                .map_err(|e| Error::usage(exit::BAD_IMAGE, e.to_string()))?;
            ImageChange::Image(image)
        }
        (None, None)
            if hook_action.is_some()
                || force_new_deployment
                || task_definition_file.is_some()
                || !set_env.is_empty()
                || !unset_env.is_empty() =>
        {
            ImageChange::Unchanged
        }
        (None, None) if empty_image => {
            return Err(Error::usage(
                exit::BAD_IMAGE,
                "-i/--image is empty: give the image to deploy, REPOSITORY[:TAG].",
            ))
        }
        (None, None) => {
            return Err(Error::usage(
                exit::NO_IMAGE,
                "no image given: pass -i/--image REPOSITORY[:TAG] (or -to TAG, or --force-new-deployment).",
            ))
        }
    };
    let max_definitions = match max_definitions {
        None => None,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                return Err(Error::usage(
                    exit::BAD_MAX_DEFINITIONS,
                    format!("--max-definitions takes a whole number of 1 or more, not '{text}'."),
                ))
            }
        },
    };
    let needs_run_task = |given: bool, flag: &str, code: u8| {
        if given && !run_task {
            Err(Error::usage(
                code,
                format!("{flag} only applies with --run-task."),
            ))
        } else {
            Ok(())
        }
    };
    needs_run_task(
        launch_type.is_some(),
        "--launch-type",
        exit::LAUNCH_TYPE_WITHOUT_RUN_TASK,
    )?;
    needs_run_task(
        network_configuration.is_some(),
        "--network-configuration",
        exit::RUN_TASK_OPTION_WITHOUT_RUN_TASK,
    )?;
    needs_run_task(
        wait_for_success,
        "--wait-for-success",
        exit::RUN_TASK_OPTION_WITHOUT_RUN_TASK,
    )?;
    needs_run_task(
        platform_version.is_some(),
        "--platform-version",
        exit::PLATFORM_VERSION_WITHOUT_RUN_TASK,
    )?;
    needs_run_task(started_by.is_some(), "--started-by", exit::USAGE)?;

    // Flags that mean something for only one kind of target are errors on the
    // other, rather than silently doing nothing.
    let service_only = [
        (desired_count.is_some(), "-D/--desired-count"),
        (minimum_healthy_percent.is_some(), "-m/--min"),
        (maximum_percent.is_some(), "-M/--max"),
        (force_new_deployment, "--force-new-deployment"),
        (skip_deployments_check, "--skip-deployments-check"),
        (enable_rollback, "--enable-rollback"),
        (wait_until.is_some(), "--wait-until"),
        (codedeploy_group.is_some(), "--codedeploy-application"),
        (codedeploy_appspec.is_some(), "--codedeploy-appspec"),
        (
            hook_action.is_some(),
            "--continue-deployment/--rollback-deployment",
        ),
    ];
    match &target {
        Target::TaskDefinition { .. } => {
            if let Some((_, flag)) = service_only.iter().find(|(given, _)| *given) {
                return Err(usage(format!(
                    "{flag} applies to a service (-n), not to -d."
                )));
            }
        }
        Target::Services { .. } if run_task => {
            return Err(usage(
                "--run-task runs a task definition: use it with -d, not -n.",
            ));
        }
        Target::Services { .. } => {}
    }
    if let Some(action) = hook_action {
        // Answering a paused deployment changes nothing else.
        let deploy_only = [
            (image_given || tag_given, "-i/-to"),
            (task_definition_file.is_some(), "--task-definition-file"),
            (use_latest_task_definition, "--use-latest-task-def"),
            (copy_tags, "--copy-task-definition-tags"),
            (
                !set_env.is_empty() || !unset_env.is_empty(),
                "--env/--unset-env",
            ),
            (!containers.is_empty(), "--container"),
            (force_new_deployment, "--force-new-deployment"),
            (desired_count.is_some(), "-D/--desired-count"),
            (minimum_healthy_percent.is_some(), "-m/--min"),
            (maximum_percent.is_some(), "-M/--max"),
            (max_definitions.is_some(), "--max-definitions"),
            (enable_rollback, "--enable-rollback"),
            (wait_until.is_some(), "--wait-until"),
            (dry_run, "--dry-run"),
            (codedeploy_group.is_some(), "--codedeploy-application"),
            (codedeploy_appspec.is_some(), "--codedeploy-appspec"),
        ];
        if let Some((_, flag)) = deploy_only.iter().find(|(given, _)| *given) {
            let name = match action {
                HookAction::Continue => "--continue-deployment",
                HookAction::Rollback => "--rollback-deployment",
            };
            return Err(usage(format!(
                "{name} answers a paused deployment and deploys nothing: {flag} does not go with it."
            )));
        }
    }
    let pointless = [
        (use_latest_task_definition && task_definition_file.is_some(),
         "--use-latest-task-def and --task-definition-file both choose the base revision: pass one."),
        (tag_env_var.is_some() && matches!(change, ImageChange::TagOnly(_)),
         "-e/--tag-env-var sets the tag of -i, which -to/--tag-only replaces: pass one."),
    ];
    if let Some((_, why)) = pointless.iter().find(|(given, _)| *given) {
        return Err(usage(*why));
    }
    let run_task = match run_task {
        false => None,
        true => Some(RunTask {
            launch_type,
            platform_version,
            network_configuration: network_configuration
                .map(|text| shorthand::network_configuration(&text))
                .transpose()
                .map_err(|e| usage(format!("--network-configuration: {e}")))?,
            started_by,
            wait_for_success,
        }),
    };
    Ok(Command::Deploy(Box::new(Config {
        target,
        change,
        containers,
        set_env,
        unset_env,
        dry_run,
        output,
        task_definition_file,
        use_latest_task_definition,
        copy_tags,
        force_new_deployment,
        desired_count,
        minimum_healthy_percent,
        maximum_percent,
        timeout_given: timeout.is_some(),
        timeout: timeout.unwrap_or(Duration::from_secs_f64(DEFAULT_TIMEOUT_SECONDS)),
        poll_interval: poll_interval.unwrap_or(Duration::from_secs_f64(DEFAULT_POLL_SECONDS)),
        done_rule: if skip_deployments_check {
            DoneRule::NewTasksRunning
        } else {
            DoneRule::Complete
        },
        enable_rollback,
        wait_until,
        codedeploy_group,
        codedeploy_appspec,
        hook_action,
        max_definitions,
        run_task,
        aws,
        verbose,
    })))
}

/// Whether the arguments ask for `--output json`, however else they are wrong.
pub fn asks_for_json(args: &[OsString]) -> bool {
    args.iter()
        .zip(args.iter().skip(1).map(Some).chain([None]))
        .any(|(arg, next)| {
            arg == "--output=json" || (arg == "--output" && next.is_some_and(|n| n == "json"))
        })
}

/// Every flag spelling, read from [`USAGE`] (so help and the suggestions
/// for a mistyped flag cannot disagree): the words that start with `-` at
/// the head of its lines, up to the first that does not.
fn known_flags() -> Vec<&'static str> {
    USAGE
        .lines()
        .filter(|line| line.trim_start().starts_with('-'))
        .flat_map(|line| {
            line.split_whitespace()
                .map(|word| word.trim_end_matches(','))
                .take_while(|word| word.starts_with('-'))
        })
        .collect()
}

/// The error for an argument that looks like a flag but is none. It is
/// repeated only when it looks like a mistyped flag name; a known flag with
/// its value glued on (`-sSECRET`) is named without the value.
fn unknown_flag(arg: &str) -> String {
    let flags = known_flags();
    let name = arg.split('=').next().unwrap_or(arg);
    if let Some(flag) = flags
        .iter()
        .filter(|flag| name.starts_with(**flag) && name.len() > flag.len())
        .max_by_key(|flag| flag.len())
    {
        return format!(
            "unknown flag starting with '{flag}': put a space or '=' between a flag and its value (the rest of that argument is not repeated: it may be a secret)"
        );
    }
    let looks_like_a_flag = name.len() <= 40
        && name
            .trim_start_matches('-')
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !looks_like_a_flag {
        return "an unknown flag (not repeated: it may hold a value)".to_string();
    }
    let closest = flags
        .iter()
        .filter(|flag| flag.starts_with("--") == name.starts_with("--"))
        .map(|flag| (edit_distance(name, flag), *flag))
        .min();
    match closest {
        Some((distance, flag)) if distance <= 2.max(name.len() / 5) => {
            format!("unknown flag '{name}'; did you mean '{flag}'?")
        }
        _ => format!("unknown flag '{name}'"),
    }
}

/// Levenshtein distance: insertions, deletions and substitutions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

fn usage(message: impl Into<String>) -> Error {
    Error::usage(exit::USAGE, message)
}

/// A flag, as its spellings: `["-c", "--cluster"]` or `["--poll-interval"]`.
type Flag = &'static [&'static str];

fn keys(flag: Flag) -> pico_args::Keys {
    match *flag {
        [short, long] => [short, long].into(),
        [long] => long.into(),
        _ => unreachable!("a flag has one or two spellings"),
    }
}

/// The long spelling of a flag, for messages.
fn flag_name(flag: Flag) -> &'static str {
    flag.last().copied().unwrap_or_default()
}

/// The next occurrence of a flag's value, whatever it starts with.
fn next_value(args: &mut pico_args::Arguments, flag: Flag) -> Result<Option<String>, Error> {
    let name = flag_name(flag);
    args.opt_value_from_str::<_, String>(keys(flag))
        .map_err(|e| match e {
            pico_args::Error::OptionWithoutAValue(_) => usage(format!("{name} needs a value")),
            other => usage(format!("{name}: {other}")),
        })
}

/// The value of a flag that may be given once, whatever it starts with.
fn raw_value(args: &mut pico_args::Arguments, flag: Flag) -> Result<Option<String>, Error> {
    let value = next_value(args, flag)?;
    if value.is_some() && next_value(args, flag)?.is_some() {
        return Err(usage(format!("{} is given twice", flag_name(flag))));
    }
    Ok(value)
}

/// pico-args would take the next flag as the value of a flag given without
/// one (`-c -n web`), so a name-like value that starts with '-' is refused:
/// no cluster, service or image starts that way.
fn refuse_dash(flag: Flag, value: Option<String>) -> Result<Option<String>, Error> {
    match value {
        Some(v) if v.starts_with('-') => Err(usage(format!(
            "{} needs a value, but the next argument starts with '-' (another flag?)",
            flag_name(flag)
        ))),
        v => Ok(v),
    }
}

/// A flag's value as text.
fn value(args: &mut pico_args::Arguments, flag: Flag) -> Result<Option<String>, Error> {
    let value = raw_value(args, flag)?;
    refuse_dash(flag, value)
}

/// Every value of a repeatable flag, in order.
fn values(args: &mut pico_args::Arguments, flag: Flag) -> Result<Vec<String>, Error> {
    let mut all = Vec::new();
    // pico-args finds them from the front, so they come in the given order.
    while let Some(v) = refuse_dash(flag, next_value(args, flag)?)? {
        all.push(v);
    }
    Ok(all)
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

/// An environment variable name ECS and shells accept.
fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn number(args: &mut pico_args::Arguments, flag: Flag, what: &str) -> Result<Option<u32>, Error> {
    raw_value(args, flag)?
        .map(|text| {
            text.parse::<u32>().map_err(|_| {
                usage(format!(
                    "{} takes {what} (a whole number of 0 or more), not '{text}'",
                    flag_name(flag)
                ))
            })
        })
        .transpose()
}

fn seconds(args: &mut pico_args::Arguments, flag: Flag) -> Result<Option<Duration>, Error> {
    raw_value(args, flag)?
        .map(|text| match text.parse::<f64>() {
            Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Duration::from_secs_f64(s)),
            _ => Err(usage(format!(
                "{} takes a number of seconds greater than 0, not '{text}'",
                flag_name(flag)
            ))),
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with(args: &[&str], env: &[(&str, &str)]) -> Result<Command, Error> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(args.iter().map(OsString::from).collect(), move |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    fn config(args: &[&str]) -> Config {
        match parse_with(args, &[]) {
            Ok(Command::Deploy(config)) => *config,
            other => panic!("{other:?}"),
        }
    }

    fn exit_code(args: &[&str]) -> u8 {
        parse_with(args, &[]).unwrap_err().exit_code()
    }

    fn image(c: &Config) -> String {
        match &c.change {
            ImageChange::Image(image) => image.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn minimal_deploy_gets_defaults() {
        let c = config(&["-c", "prod", "-n", "web", "-i", "acct/repo"]);
        assert_eq!(
            c.target,
            Target::Services {
                cluster: "prod".into(),
                services: vec!["web".into()]
            }
        );
        assert_eq!(image(&c), "acct/repo:latest");
        assert_eq!(c.timeout, Duration::from_secs(600));
        assert_eq!(c.poll_interval, Duration::from_secs(5));
        assert_eq!(c.done_rule, DoneRule::Complete);
        assert!(!c.enable_rollback && !c.verbose && !c.force_new_deployment && !c.copy_tags);
        assert_eq!(c.max_definitions, None);
        assert!(c.run_task.is_none());
    }

    #[test]
    fn every_service_flag_long_and_short() {
        let c = config(&[
            "--cluster=prod",
            "--service-name",
            "web",
            "--image",
            "nginx:1",
            "-D",
            "3",
            "-m",
            "50",
            "-M",
            "200",
            "-t",
            "90",
            "--poll-interval",
            "0.25",
            "--skip-deployments-check",
            "--enable-rollback",
            "--max-definitions",
            "4",
            "-r",
            "eu-west-1",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "-k",
            "AKID",
            "-s",
            "SECRET",
            "-v",
            "-p",
            "prod",
            "-a",
            "arn:aws:iam::1:role/r",
            "--aws-instance-profile",
            "--force-new-deployment",
            "--use-latest-task-def",
            "--copy-task-definition-tags",
        ]);
        assert_eq!(c.desired_count, Some(3));
        assert_eq!(c.minimum_healthy_percent, Some(50));
        assert_eq!(c.maximum_percent, Some(200));
        assert_eq!(c.timeout, Duration::from_secs(90));
        assert_eq!(c.poll_interval, Duration::from_millis(250));
        assert_eq!(c.done_rule, DoneRule::NewTasksRunning);
        assert!(c.enable_rollback && c.verbose && c.force_new_deployment);
        assert!(c.use_latest_task_definition && c.copy_tags);
        assert_eq!(c.max_definitions, Some(4));
        assert_eq!(c.aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.aws.profile.as_deref(), Some("prod"));
        assert_eq!(c.aws.assume_role.as_deref(), Some("arn:aws:iam::1:role/r"));
        assert!(c.aws.instance_profile);
        assert_eq!(c.aws.access_key_id.as_deref(), Some("AKID"));
        assert_eq!(c.aws.secret_access_key.as_ref().unwrap().expose(), "SECRET");
        assert!(
            !format!("{c:?}").contains("SECRET"),
            "secret leaks through Debug"
        );
    }

    #[test]
    fn beyond_upstream_flags() {
        let c = config(&[
            "-c",
            "prod",
            "-n",
            "web",
            "-n",
            "worker",
            "-n",
            "web",
            "-i",
            "acct/app:v2",
            "--container",
            "app",
            "--container",
            "jobs",
            "--env",
            "MODE=blue",
            "--env",
            "TOKEN=a=b",
            "--unset-env",
            "OLD",
            "--dry-run",
            "--output",
            "json",
        ]);
        assert_eq!(
            c.target,
            Target::Services {
                cluster: "prod".into(),
                services: vec!["web".into(), "worker".into()]
            }
        );
        assert_eq!(c.containers, ["app", "jobs"]);
        let env: Vec<(&str, &str)> = c
            .set_env
            .iter()
            .map(|(n, v)| (n.as_str(), v.expose()))
            .collect();
        assert_eq!(env, [("MODE", "blue"), ("TOKEN", "a=b")]);
        assert_eq!(c.unset_env, ["OLD"]);
        assert!(c.dry_run);
        assert_eq!(c.output, OutputFormat::Json);
        assert!(
            !format!("{c:?}").contains("blue"),
            "env values leak through Debug"
        );
        // --env alone is a change worth a new revision.
        let c = config(&[
            "-c",
            "prod",
            "-n",
            "web",
            "--env",
            "A=1",
            "--container",
            "app",
        ]);
        assert_eq!(c.change, ImageChange::Unchanged);
        let err = parse_with(
            &["-c", "c", "-n", "s", "-i", "x", "--env", "1BAD=secret"],
            &[],
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), exit::USAGE);
        assert!(!err.to_string().contains("secret"));
        assert_eq!(
            exit_code(&["-c", "c", "-n", "s", "-i", "x", "--output", "yaml"]),
            exit::USAGE
        );
    }

    #[test]
    fn task_definition_mode_with_run_task() {
        let c = config(&[
            "-d",
            "migrate:3",
            "-c",
            "prod",
            "-i",
            "acct/repo:v2",
            "--run-task",
            "--launch-type",
            "FARGATE",
            "--platform-version",
            "1.4.0",
            "--network-configuration",
            "awsvpcConfiguration={subnets=[subnet-1],assignPublicIp=DISABLED}",
            "--started-by",
            "ci-42",
            "--wait-for-success",
        ]);
        assert_eq!(
            c.target,
            Target::TaskDefinition {
                task_definition: "migrate:3".into(),
                cluster: Some("prod".into())
            }
        );
        let run = c.run_task.unwrap();
        assert_eq!(run.launch_type.as_deref(), Some("FARGATE"));
        assert_eq!(run.platform_version.as_deref(), Some("1.4.0"));
        assert_eq!(run.started_by.as_deref(), Some("ci-42"));
        assert!(run.wait_for_success);
        assert_eq!(
            run.network_configuration.unwrap()["awsvpcConfiguration"]["subnets"][0],
            "subnet-1"
        );
    }

    #[test]
    fn tag_only_and_placeholders() {
        let c = config(&["-c", "c", "-n", "s", "-i", "ignore", "-to", "v7"]);
        assert_eq!(c.change, ImageChange::TagOnly("v7".into()));
        let c = config(&["-c", "c", "-n", "s", "--tag-only", "v7"]);
        assert_eq!(c.change, ImageChange::TagOnly("v7".into()));
        assert_eq!(
            exit_code(&["-c", "c", "-n", "s", "-to", "bad tag!"]),
            exit::BAD_IMAGE
        );
        let c = config(&["-c", "c", "-n", "s", "--force-new-deployment"]);
        assert_eq!(c.change, ImageChange::Unchanged);
    }

    #[test]
    fn empty_arguments_are_ignored() {
        let c = config(&["", "-c", "c", "", "-n", "s", "-i", "x:1", "", ""]);
        assert_eq!(image(&c), "x:1");
    }

    #[test]
    fn tag_only_container_names_are_containers() {
        let c = config(&[
            "-c",
            "c",
            "-n",
            "s",
            "-to",
            "v2",
            "-toc",
            "app, web",
            "--container",
            "db",
        ]);
        assert_eq!(c.containers, ["db", "app", "web"]);
        let c = config(&[
            "-c",
            "c",
            "-n",
            "s",
            "-to",
            "v2",
            "--tag_only_container_names=app",
        ]);
        assert_eq!(c.containers, ["app"]);
    }

    #[test]
    fn wait_until_takes_a_lifecycle_stage() {
        let c = config(&[
            "-c",
            "c",
            "-n",
            "s",
            "-i",
            "x:1",
            "--wait-until",
            "bake_time",
        ]);
        assert_eq!(c.wait_until.as_deref(), Some("BAKE_TIME"));
        let err = parse_with(
            &["-c", "c", "-n", "s", "-i", "x:1", "--wait-until", "HALFWAY"],
            &[],
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), exit::USAGE);
        assert!(err.to_string().contains("POST_TEST_TRAFFIC_SHIFT"), "{err}");
        assert_eq!(
            exit_code(&["-d", "td", "-i", "x:1", "--wait-until", "BAKE_TIME"]),
            exit::USAGE
        );
    }

    #[test]
    fn a_paused_deployment_is_answered_without_an_image() {
        let c = config(&["-c", "c", "-n", "s", "--continue-deployment"]);
        assert_eq!(c.hook_action, Some(HookAction::Continue));
        assert_eq!(c.change, ImageChange::Unchanged);
        let c = config(&["-c", "c", "-n", "s", "--rollback-deployment", "-t", "60"]);
        assert_eq!(c.hook_action, Some(HookAction::Rollback));
        for args in [
            &[
                "-c",
                "c",
                "-n",
                "s",
                "--continue-deployment",
                "--rollback-deployment",
            ][..],
            &["-c", "c", "-n", "s", "--continue-deployment", "-i", "x:1"],
            &[
                "-c",
                "c",
                "-n",
                "s",
                "--continue-deployment",
                "--enable-rollback",
            ],
            &["-d", "td", "--continue-deployment"],
        ] {
            assert_eq!(exit_code(args), exit::USAGE, "{args:?}");
        }
        let c = config(&["-c", "c", "-n", "s", "-i", "x:1"]);
        assert!(!c.timeout_given && c.hook_action.is_none());
    }

    #[test]
    fn an_empty_image_is_upstreams_bad_image() {
        for args in [
            &["-c", "c", "-n", "s", "-i", ""][..],
            &["-c", "c", "-n", "s", "--image", "", "", ""],
            &["-c", "c", "-n", "s", "--image="],
        ] {
            assert_eq!(exit_code(args), exit::BAD_IMAGE, "{args:?}");
        }
        // As upstream: with -to, or a forced redeploy, the image is not needed.
        let c = config(&["-c", "c", "-n", "s", "-i", "", "-to", "v2"]);
        assert_eq!(c.change, ImageChange::TagOnly("v2".into()));
        let c = config(&["-c", "c", "-n", "s", "-i", "", "--force-new-deployment"]);
        assert_eq!(c.change, ImageChange::Unchanged);
    }

    #[test]
    fn unknown_flags_are_named_with_a_suggestion_but_never_with_a_value() {
        let message = |args: &[&str]| parse_with(args, &[]).unwrap_err().to_string();
        let base = ["-c", "c", "-i", "x:1"];
        let with = |extra: &[&str]| {
            let mut args = base.to_vec();
            args.extend_from_slice(extra);
            message(&args)
        };
        assert_eq!(
            with(&["--servce-name", "web"]),
            "unknown flag '--servce-name'; did you mean '--service-name'?"
        );
        assert_eq!(with(&["--bogus"]), "unknown flag '--bogus'");
        for glued in [
            "-sS3cr3tV4lue",
            "--aws-secret-keyS3cr3tV4lue",
            "--envTOKEN=S3cr3tV4lue",
        ] {
            let text = with(&["-n", "s", glued]);
            assert!(text.starts_with("unknown flag starting with '-"), "{text}");
            assert!(!text.contains("S3cr3tV4lue"), "{text}");
        }
        let text = with(&["-n", "s", "-XyzS3cr3t+/="]);
        assert!(!text.contains("S3cr3t"), "{text}");
        assert!(known_flags().contains(&"--skip-deployments-check"));
        assert!(known_flags().contains(&"-to"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn tag_env_var() {
        let args = [
            "-c",
            "c",
            "-n",
            "s",
            "-i",
            "repo/image",
            "-e",
            "CI_TIMESTAMP",
        ];
        let Ok(Command::Deploy(c)) = parse_with(&args, &[("CI_TIMESTAMP", "1487623908")]) else {
            panic!()
        };
        assert_eq!(image(&c), "repo/image:1487623908");
        let Ok(Command::Deploy(c)) = parse_with(&args, &[]) else {
            panic!()
        };
        assert_eq!(image(&c), "repo/image:latest");
    }

    #[test]
    fn usage_errors_never_repeat_values() {
        for args in [
            &[
                "-c",
                "c",
                "-n",
                "s",
                "-i",
                "x",
                "--env",
                "PASS=hunter2",
                "secretpart",
            ][..],
            &[
                "-c",
                "c",
                "-n",
                "s",
                "-i",
                "x",
                "-k",
                "AKID",
                "-s",
                "-secretpart",
            ][..],
            &["-c", "c", "-n", "s", "--unset-env", "TOKEN=secretpart"][..],
        ] {
            let message = parse_with(args, &[]).unwrap_err().to_string();
            assert!(
                !message.contains("secretpart") && !message.contains("hunter2"),
                "{message}"
            );
        }
        let message = parse_with(&["-c", "c", "-n", "s", "-i", "x", "--bogus"], &[])
            .unwrap_err()
            .to_string();
        assert!(message.contains("'--bogus'"), "{message}");
    }

    #[test]
    fn options_that_would_do_nothing_are_refused() {
        for args in [
            &[
                "-c",
                "c",
                "-n",
                "s",
                "--use-latest-task-def",
                "--task-definition-file",
                "f.json",
            ][..],
            &["-c", "c", "-n", "s", "-to", "v1", "-e", "TAG"][..],
        ] {
            assert_eq!(exit_code(args), exit::USAGE, "{args:?}");
        }
    }

    #[test]
    fn a_single_value_flag_given_twice_is_refused() {
        let err = parse_with(&["-c", "a", "-c", "b", "-n", "s", "-i", "x"], &[]).unwrap_err();
        assert_eq!(err.to_string(), "--cluster is given twice");
    }

    #[test]
    fn json_is_recognised_in_any_command_line() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(asks_for_json(&args(&["--bogus", "--output", "json"])));
        assert!(asks_for_json(&args(&["--output=json", "-c"])));
        assert!(!asks_for_json(&args(&["--output", "text", "json"])));
        assert!(!asks_for_json(&args(&["--output"])));
    }

    #[test]
    fn help_and_version() {
        assert!(matches!(parse_with(&["--help"], &[]), Ok(Command::Help)));
        assert!(matches!(
            parse_with(&["-c", "x", "-h"], &[]),
            Ok(Command::Help)
        ));
        assert!(matches!(
            parse_with(&["--version"], &[]),
            Ok(Command::Version)
        ));
    }

    #[test]
    fn usage_exit_codes() {
        fn with(extra: &[&'static str]) -> Vec<&'static str> {
            [&["-c", "c", "-n", "s", "-i", "x"][..], extra].concat()
        }
        assert_eq!(exit_code(&[]), exit::USAGE);
        assert_eq!(exit_code(&["", ""]), exit::USAGE);
        assert_eq!(exit_code(&with(&["--bogus"])), exit::USAGE);
        assert_eq!(exit_code(&["-c", "c", "-n", "s", "-i"]), exit::USAGE);
        assert_eq!(exit_code(&["-c", "-n", "s", "-i", "x"]), exit::USAGE);
        assert_eq!(exit_code(&with(&["-t", "soon"])), exit::USAGE);
        assert_eq!(exit_code(&with(&["-D", "-1"])), exit::USAGE);
        assert_eq!(exit_code(&["-c", "c", "-i", "x"]), exit::NO_TARGET);
        assert_eq!(exit_code(&with(&["-d", "td"])), exit::BOTH_TARGETS);
        assert_eq!(exit_code(&["-n", "s", "-i", "x"]), exit::NO_CLUSTER);
        assert_eq!(exit_code(&["-c", "c", "-n", "s"]), exit::NO_IMAGE);
        assert_eq!(exit_code(&["-d", "td"]), exit::NO_IMAGE);
        for bad in ["zero", "0", "-3"] {
            assert_eq!(
                exit_code(&with(&["--max-definitions", bad])),
                exit::BAD_MAX_DEFINITIONS,
                "{bad}"
            );
        }
        assert_eq!(
            exit_code(&with(&["--launch-type", "FARGATE"])),
            exit::LAUNCH_TYPE_WITHOUT_RUN_TASK
        );
        assert_eq!(
            exit_code(&with(&[
                "--network-configuration",
                "awsvpcConfiguration={subnets=[a]}"
            ])),
            exit::RUN_TASK_OPTION_WITHOUT_RUN_TASK
        );
        assert_eq!(
            exit_code(&with(&["--wait-for-success"])),
            exit::RUN_TASK_OPTION_WITHOUT_RUN_TASK
        );
        assert_eq!(
            exit_code(&with(&["--platform-version", "LATEST"])),
            exit::PLATFORM_VERSION_WITHOUT_RUN_TASK
        );
        assert_eq!(
            exit_code(&["-c", "c", "-n", "s", "-i", "_bad:tag"]),
            exit::BAD_IMAGE
        );
        // Options that would silently do nothing are refused.
        assert_eq!(exit_code(&with(&["--run-task"])), exit::USAGE);
        assert_eq!(exit_code(&["-d", "td", "-i", "x", "-D", "2"]), exit::USAGE);
        assert_eq!(
            exit_code(&["-d", "td", "-i", "x", "--enable-rollback"]),
            exit::USAGE
        );
        assert_eq!(
            exit_code(&["-d", "td", "-i", "x", "--started-by", "me"]),
            exit::USAGE
        );
        assert_eq!(
            exit_code(&[
                "-d",
                "td",
                "-i",
                "x",
                "--run-task",
                "--network-configuration",
                "subnets=[a]"
            ]),
            exit::USAGE
        );
    }

    #[test]
    fn usage_mentions_every_flag() {
        for flag in [
            "--cluster",
            "--service-name",
            "--task-definition",
            "--image",
            "--tag-only",
            "-to",
            "--tag-env-var",
            "--task-definition-file",
            "--use-latest-task-def",
            "--copy-task-definition-tags",
            "--max-definitions",
            "--desired-count",
            "--min",
            "--max",
            "--force-new-deployment",
            "--timeout",
            "--poll-interval",
            "--skip-deployments-check",
            "--enable-rollback",
            "--run-task",
            "--launch-type",
            "--platform-version",
            "--network-configuration",
            "--started-by",
            "--wait-for-success",
            "--container",
            "--env",
            "--unset-env",
            "--dry-run",
            "--output",
            "--region",
            "--profile",
            "--aws-access-key",
            "--aws-secret-key",
            "--aws-instance-profile",
            "--aws-assume-role",
            "--endpoint-url",
            "--verbose",
            "--help",
            "--version",
        ] {
            assert!(USAGE.contains(flag), "{flag} missing from --help");
        }
    }
}
