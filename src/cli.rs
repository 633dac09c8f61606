//! Command-line flags → a validated, typed [`Config`]. No I/O: the
//! environment is passed in as a lookup function so this stays testable.

use std::ffi::OsString;
use std::time::Duration;

use crate::error::{exit, Error};
use crate::image::{self, ImageRef};
use crate::rollout::DoneRule;

/// The usage text printed by `--help` (and kept in step with the README).
pub const USAGE: &str = "\
ecs-deploy — ship a new container image to an Amazon ECS service and wait
honestly until ECS has rolled it out (or say why it did not).

Usage:
  ecs-deploy -c CLUSTER -n SERVICE -i IMAGE [options]

Required:
  -c, --cluster NAME           ECS cluster of the service
  -n, --service-name NAME      Service to deploy to
  -i, --image IMAGE            Image to deploy: [registry[:port]/]repo[:tag|@sha256:digest]
                               Every container whose image is in the same repository
                               gets this image; other containers are left alone.
                               No tag and no digest means :latest (or see -e).

Deployment:
  -e, --tag-env-var VAR        Take the image tag from environment variable VAR
                               (when set and non-empty; replaces a tag or digest in -i)
  -D, --desired-count N        Set the service's desired task count
  -m, --min PERCENT            deploymentConfiguration.minimumHealthyPercent
  -M, --max PERCENT            deploymentConfiguration.maximumPercent
  -t, --timeout SECONDS        Deadline for the whole wait (default 600)
      --poll-interval SECONDS  Time between status polls, fractions allowed (default 5)
      --skip-deployments-check Succeed once the new tasks run, without waiting for
                               old tasks to drain
      --enable-rollback        If the deployment fails or times out, point the service
                               back at the previous task definition and wait for that
      --max-definitions N      After a successful deploy keep only the N newest ACTIVE
                               revisions of the family (never the running one)

AWS:
  -r, --region REGION          AWS region (else AWS_REGION, AWS_DEFAULT_REGION, the
                               profile's region, instance metadata)
  -p, --profile NAME           Profile of ~/.aws/config and ~/.aws/credentials
                               (else AWS_PROFILE, else default)
  -k, --aws-access-key KEY     Access key id (else AWS_ACCESS_KEY_ID, profile, web
                               identity, container, instance metadata)
  -s, --aws-secret-key SECRET  Secret access key (with -k)
      --aws-instance-profile   Use the EC2 instance profile (instance metadata) only
  -a, --aws-assume-role ARN    Assume this role with the credentials found, and deploy
                               with the role's credentials
      --endpoint-url URL       ECS endpoint (else AWS_ENDPOINT_URL_ECS, AWS_ENDPOINT_URL,
                               else https://ecs.REGION.amazonaws.com); http:// only
                               on loopback

Output:
  -v, --verbose                One line per AWS call: operation, status, attempt, ms
  -h, --help                   Print this help
      --version                Print the version

Exit status: 0 deployed; 1 deployment failed, timed out or rolled back; 2 AWS refused
or unreachable (credentials, permissions, not found); 3 usage; 5 no -n; 7 -n without -c;
8 no image; 9 bad --max-definitions; 13 bad image reference; 130 interrupted.
";

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Help,
    Version,
    Deploy(Box<Config>),
}

/// A validated deploy request.
#[derive(Debug)]
pub struct Config {
    pub cluster: String,
    pub service: String,
    /// The image to deploy, with its tag already resolved.
    pub image: ImageRef,
    pub desired_count: Option<u32>,
    pub minimum_healthy_percent: Option<u32>,
    pub maximum_percent: Option<u32>,
    pub timeout: Duration,
    pub poll_interval: Duration,
    pub done_rule: DoneRule,
    pub enable_rollback: bool,
    pub max_definitions: Option<u32>,
    pub aws: AwsOptions,
    pub verbose: bool,
}

/// The AWS settings given on the command line; the rest comes from the environment.
#[derive(Debug, Default)]
pub struct AwsOptions {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<crate::aws::credentials::Secret>,
    pub profile: Option<String>,
    /// Take credentials from instance metadata, skipping the rest of the chain.
    pub instance_profile: bool,
    /// A role to assume with whatever credentials the chain found.
    pub assume_role: Option<String>,
}

const DEFAULT_TIMEOUT_SECONDS: f64 = 600.0;
const DEFAULT_POLL_SECONDS: f64 = 5.0;

/// Parses the arguments (without the program name).
pub fn parse(args: Vec<OsString>, env: impl Fn(&str) -> Option<String>) -> Result<Command, Error> {
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
    let service = value(&mut args, &["-n", "--service-name"])?;
    let image = value(&mut args, &["-i", "--image"])?;
    let tag_env_var = value(&mut args, &["-e", "--tag-env-var"])?;
    let desired_count = number(&mut args, &["-D", "--desired-count"], "a task count")?;
    let minimum_healthy_percent = number(&mut args, &["-m", "--min"], "a percentage")?;
    let maximum_percent = number(&mut args, &["-M", "--max"], "a percentage")?;
    let timeout = seconds(&mut args, &["-t", "--timeout"])?;
    let poll_interval = seconds(&mut args, &["--poll-interval"])?;
    let skip_deployments_check = args.contains("--skip-deployments-check");
    let enable_rollback = args.contains("--enable-rollback");
    let max_definitions = raw_value(&mut args, &["--max-definitions"])?;
    let aws = AwsOptions {
        region: value(&mut args, &["-r", "--region"])?,
        endpoint_url: value(&mut args, &["--endpoint-url"])?,
        access_key_id: value(&mut args, &["-k", "--aws-access-key"])?,
        secret_access_key: value(&mut args, &["-s", "--aws-secret-key"])?
            .map(crate::aws::credentials::Secret::new),
        profile: value(&mut args, &["-p", "--profile"])?,
        instance_profile: args.contains("--aws-instance-profile"),
        assume_role: value(&mut args, &["-a", "--aws-assume-role"])?,
    };
    let verbose = args.contains(["-v", "--verbose"]);

    let rest = args.finish();
    if let Some(first) = rest.first() {
        return Err(usage(format!(
            "unknown argument '{}'",
            first.to_string_lossy()
        )));
    }

    let Some(service) = service else {
        return Err(Error::usage(
            exit::NO_TARGET,
            "no service given: pass -n/--service-name (with -c/--cluster).",
        ));
    };
    let Some(cluster) = cluster else {
        return Err(Error::usage(
            exit::NO_CLUSTER,
            format!("-n {service} needs the cluster it runs in: pass -c/--cluster."),
        ));
    };
    let Some(image) = image else {
        return Err(Error::usage(
            exit::NO_IMAGE,
            "no image given: pass -i/--image REPOSITORY[:TAG].",
        ));
    };
    let tag = tag_env_var.as_deref().and_then(&env);
    let image = image::image_to_deploy(&image, tag.as_deref())
        .map_err(|e| Error::usage(exit::BAD_IMAGE, e.to_string()))?;
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
    Ok(Command::Deploy(Box::new(Config {
        cluster,
        service,
        image,
        desired_count,
        minimum_healthy_percent,
        maximum_percent,
        timeout: timeout.unwrap_or(Duration::from_secs_f64(DEFAULT_TIMEOUT_SECONDS)),
        poll_interval: poll_interval.unwrap_or(Duration::from_secs_f64(DEFAULT_POLL_SECONDS)),
        done_rule: if skip_deployments_check {
            DoneRule::NewTasksRunning
        } else {
            DoneRule::Complete
        },
        enable_rollback,
        max_definitions,
        aws,
        verbose,
    })))
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

/// A flag's value as text, whatever it starts with.
fn raw_value(args: &mut pico_args::Arguments, flag: Flag) -> Result<Option<String>, Error> {
    let name = flag_name(flag);
    args.opt_value_from_str::<_, String>(keys(flag))
        .map_err(|e| match e {
            pico_args::Error::OptionWithoutAValue(_) => usage(format!("{name} needs a value")),
            other => usage(format!("{name}: {other}")),
        })
}

/// A flag's value as text. pico-args would take the next flag as the value
/// of a flag given without one (`-c -n web`), so a name-like value that
/// starts with '-' is refused: no cluster, service or image starts that way.
fn value(args: &mut pico_args::Arguments, flag: Flag) -> Result<Option<String>, Error> {
    match raw_value(args, flag)? {
        Some(v) if v.starts_with('-') => Err(usage(format!(
            "{} needs a value, but got '{v}' (another flag?)",
            flag_name(flag)
        ))),
        v => Ok(v),
    }
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

    #[test]
    fn minimal_deploy_gets_defaults() {
        let c = config(&["-c", "prod", "-n", "web", "-i", "acct/repo"]);
        assert_eq!((c.cluster.as_str(), c.service.as_str()), ("prod", "web"));
        assert_eq!(c.image.to_string(), "acct/repo:latest");
        assert_eq!(c.timeout, Duration::from_secs(600));
        assert_eq!(c.poll_interval, Duration::from_secs(5));
        assert_eq!(c.done_rule, DoneRule::Complete);
        assert!(!c.enable_rollback && !c.verbose);
        assert_eq!(c.max_definitions, None);
    }

    #[test]
    fn every_flag_long_and_short() {
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
        ]);
        assert_eq!(c.desired_count, Some(3));
        assert_eq!(c.minimum_healthy_percent, Some(50));
        assert_eq!(c.maximum_percent, Some(200));
        assert_eq!(c.timeout, Duration::from_secs(90));
        assert_eq!(c.poll_interval, Duration::from_millis(250));
        assert_eq!(c.done_rule, DoneRule::NewTasksRunning);
        assert!(c.enable_rollback && c.verbose);
        assert_eq!(c.max_definitions, Some(4));
        assert_eq!(c.aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.aws.access_key_id.as_deref(), Some("AKID"));
        assert_eq!(c.aws.secret_access_key.as_ref().unwrap().expose(), "SECRET");
        assert!(
            !format!("{c:?}").contains("SECRET"),
            "secret leaks through Debug"
        );
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
        assert_eq!(c.image.to_string(), "repo/image:1487623908");
        let Ok(Command::Deploy(c)) = parse_with(&args, &[]) else {
            panic!()
        };
        assert_eq!(c.image.to_string(), "repo/image:latest");
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
        assert_eq!(exit_code(&[]), exit::USAGE);
        assert_eq!(
            exit_code(&["-c", "c", "-n", "s", "-i", "x", "--bogus"]),
            exit::USAGE
        );
        assert_eq!(exit_code(&["-c", "c", "-n", "s", "-i"]), exit::USAGE);
        assert_eq!(exit_code(&["-c", "-n", "s", "-i", "x"]), exit::USAGE);
        assert_eq!(
            exit_code(&["-c", "c", "-n", "s", "-i", "x", "-t", "soon"]),
            exit::USAGE
        );
        assert_eq!(
            exit_code(&["-c", "c", "-n", "s", "-i", "x", "-D", "-1"]),
            exit::USAGE
        );
        assert_eq!(exit_code(&["-c", "c", "-i", "x"]), exit::NO_TARGET);
        assert_eq!(exit_code(&["-n", "s", "-i", "x"]), exit::NO_CLUSTER);
        assert_eq!(exit_code(&["-c", "c", "-n", "s"]), exit::NO_IMAGE);
        for bad in ["zero", "0", "-3"] {
            let code = exit_code(&["-c", "c", "-n", "s", "-i", "x", "--max-definitions", bad]);
            assert_eq!(code, exit::BAD_MAX_DEFINITIONS, "{bad}");
        }
        assert_eq!(
            exit_code(&["-c", "c", "-n", "s", "-i", "_bad:tag"]),
            exit::BAD_IMAGE
        );
    }

    #[test]
    fn usage_mentions_every_flag() {
        for flag in [
            "--cluster",
            "--service-name",
            "--image",
            "--tag-env-var",
            "--desired-count",
            "--min",
            "--max",
            "--timeout",
            "--poll-interval",
            "--skip-deployments-check",
            "--enable-rollback",
            "--max-definitions",
            "--region",
            "--aws-access-key",
            "--aws-secret-key",
            "--endpoint-url",
            "--verbose",
            "--help",
            "--version",
        ] {
            assert!(USAGE.contains(flag), "{flag} missing from --help");
        }
    }
}
