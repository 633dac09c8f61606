//! Reading the command line: every flag and its value, upstream's
//! spellings normalised (`-to`, `-toc`, the empty arguments its GitHub
//! Action passes), each value in its form (a number, seconds, a stage,
//! `NAME=VALUE`) — but no rule between flags: those are `validate`'s.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::{usage, USAGE};
use crate::core::model::READY;
use crate::core::secret::Secret;
use crate::core::watch::service_deployment::{stage_index, STAGES};
use crate::error::Error;
use crate::request::{AwsOptions, OutputFormat};

/// The flags as given, each read but not yet held against the others.
#[derive(Debug, Default)]
pub struct Flags {
    pub cluster: Option<String>,
    pub services: Vec<String>,
    pub task_definition: Option<String>,
    pub image: Option<String>,
    /// `-i ''` (or `--image=`): upstream's GitHub Action passes it when its
    /// image input is empty, and upstream exits 13 for it.
    pub empty_image: bool,
    pub tag_only: Option<String>,
    pub tag_env_var: Option<String>,
    pub task_definition_file: Option<PathBuf>,
    pub use_latest_task_definition: bool,
    pub copy_tags: bool,
    pub force_new_deployment: bool,
    pub desired_count: Option<u32>,
    pub minimum_healthy_percent: Option<u32>,
    pub maximum_percent: Option<u32>,
    pub timeout: Option<Duration>,
    pub poll_interval: Option<Duration>,
    pub skip_deployments_check: bool,
    pub enable_rollback: bool,
    /// A lifecycle stage, or READY.
    pub wait_until: Option<String>,
    pub codedeploy_application: Option<String>,
    pub codedeploy_deployment_group: Option<String>,
    pub codedeploy_appspec: Option<PathBuf>,
    pub continue_deployment: bool,
    pub rollback_deployment: bool,
    pub wait_only: bool,
    /// As given: its exit code is upstream's own (9), so `validate` reads it.
    pub max_definitions: Option<String>,
    pub run_task: bool,
    pub launch_type: Option<String>,
    pub platform_version: Option<String>,
    pub network_configuration: Option<String>,
    pub started_by: Option<String>,
    pub wait_for_success: bool,
    pub aws: AwsOptions,
    pub verbose: bool,
    pub dry_run: bool,
    pub output: OutputFormat,
    pub log_lines: Option<u32>,
    pub no_image_check: bool,
    /// `--container`, and upstream's `-toc a,b`.
    pub containers: Vec<String>,
    pub set_env: Vec<(String, Secret)>,
    pub unset_env: Vec<String>,
}

/// What reading the command line found.
#[derive(Debug)]
pub enum Read {
    Help,
    Version,
    Flags(Box<Flags>),
}

/// Reads the arguments (without the program name).
pub fn read(args: Vec<OsString>) -> Result<Read, Error> {
    let (args, empty_image) = normalised(args);
    if args.is_empty() {
        return Err(usage("no arguments given"));
    }
    let mut args = pico_args::Arguments::from_vec(args);
    if args.contains(["-h", "--help"]) {
        return Ok(Read::Help);
    }
    if args.contains("--version") {
        return Ok(Read::Version);
    }
    let flags = Flags {
        cluster: value(&mut args, &["-c", "--cluster"])?,
        services: values(&mut args, &["-n", "--service-name"])?,
        task_definition: value(&mut args, &["-d", "--task-definition"])?,
        image: value(&mut args, &["-i", "--image"])?,
        empty_image,
        tag_only: value(&mut args, &["--tag-only"])?,
        tag_env_var: value(&mut args, &["-e", "--tag-env-var"])?,
        task_definition_file: value(&mut args, &["--task-definition-file"])?.map(PathBuf::from),
        use_latest_task_definition: args.contains("--use-latest-task-def"),
        copy_tags: args.contains("--copy-task-definition-tags"),
        force_new_deployment: args.contains("--force-new-deployment"),
        desired_count: number(&mut args, &["-D", "--desired-count"], "a task count")?,
        minimum_healthy_percent: number(&mut args, &["-m", "--min"], "a percentage")?,
        maximum_percent: number(&mut args, &["-M", "--max"], "a percentage")?,
        timeout: seconds(&mut args, &["-t", "--timeout"])?,
        poll_interval: seconds(&mut args, &["--poll-interval"])?,
        skip_deployments_check: args.contains("--skip-deployments-check"),
        enable_rollback: args.contains("--enable-rollback"),
        wait_until: value(&mut args, &["--wait-until"])?
            .map(stage)
            .transpose()?,
        codedeploy_application: value(&mut args, &["--codedeploy-application"])?,
        codedeploy_deployment_group: value(&mut args, &["--codedeploy-deployment-group"])?,
        codedeploy_appspec: value(&mut args, &["--codedeploy-appspec"])?.map(PathBuf::from),
        continue_deployment: args.contains("--continue-deployment"),
        rollback_deployment: args.contains("--rollback-deployment"),
        wait_only: args.contains("--wait-only"),
        max_definitions: raw_value(&mut args, &["--max-definitions"])?,
        run_task: args.contains("--run-task"),
        launch_type: value(&mut args, &["--launch-type"])?,
        platform_version: value(&mut args, &["--platform-version"])?,
        network_configuration: value(&mut args, &["--network-configuration"])?,
        started_by: value(&mut args, &["--started-by"])?,
        wait_for_success: args.contains("--wait-for-success"),
        aws: AwsOptions {
            region: value(&mut args, &["-r", "--region"])?,
            endpoint_url: value(&mut args, &["--endpoint-url"])?,
            access_key_id: value(&mut args, &["-k", "--aws-access-key"])?,
            secret_access_key: value(&mut args, &["-s", "--aws-secret-key"])?.map(Secret::new),
            profile: value(&mut args, &["-p", "--profile"])?,
            instance_profile: args.contains("--aws-instance-profile"),
            assume_role: value(&mut args, &["-a", "--aws-assume-role"])?,
        },
        verbose: args.contains(["-v", "--verbose"]),
        dry_run: args.contains("--dry-run"),
        output: match value(&mut args, &["--output"])?.as_deref() {
            None | Some("text") => OutputFormat::Text,
            Some("json") => OutputFormat::Json,
            Some(other) => {
                return Err(usage(format!("--output takes text or json, not '{other}'")))
            }
        },
        log_lines: number(&mut args, &["--log-lines"], "a number of lines")?,
        no_image_check: args.contains("--no-image-check"),
        containers: containers(&mut args)?,
        set_env: values(&mut args, &["--env"])?
            .into_iter()
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) if is_env_name(name) => {
                    Ok((name.to_string(), Secret::new(value)))
                }
                // Never echo the value: it may be a secret.
                _ => Err(usage(
                    "--env takes NAME=VALUE with a NAME of letters, digits and '_'",
                )),
            })
            .collect::<Result<Vec<_>, Error>>()?,
        unset_env: values(&mut args, &["--unset-env"])?,
    };
    if flags.unset_env.iter().any(|n| !is_env_name(n)) {
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
    Ok(Read::Flags(Box::new(flags)))
}

/// The arguments with upstream's spellings made ours, and whether an empty
/// image was given. Upstream's GitHub Action passes '' '' for options it
/// does not use, and `--image ''` when its image input is empty.
fn normalised(args: Vec<OsString>) -> (Vec<OsString>, bool) {
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
    (kept, empty_image)
}

/// `--wait-until`'s value: a lifecycle stage of a service deployment, or READY.
fn stage(stage: String) -> Result<String, Error> {
    let upper = stage.to_ascii_uppercase();
    if stage_index(&upper).is_some() || upper == READY {
        Ok(upper)
    } else {
        Err(usage(format!(
            "--wait-until takes a lifecycle stage of a service deployment ({}), or READY for a CodeDeploy deployment",
            STAGES.join(", ")
        )))
    }
}

/// `--container`, and upstream's `-toc a,b`: the containers `-to` changes.
fn containers(args: &mut pico_args::Arguments) -> Result<Vec<String>, Error> {
    let mut containers = values(args, &["--container"])?;
    for names in values(args, &["--tag_only_container_names"])? {
        containers.extend(
            names
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string),
        );
    }
    Ok(containers)
}

/// Every flag spelling, read from [`USAGE`] (so help and the suggestions
/// for a mistyped flag cannot disagree): the words that start with `-` at
/// the head of its lines, up to the first that does not.
pub(super) fn known_flags() -> Vec<&'static str> {
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
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
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
