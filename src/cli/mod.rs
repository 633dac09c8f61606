//! Command-line flags → a validated, typed request ([`Config`]), in two
//! steps: [`read`] every flag and its value, then [`validate`] them against
//! each other. No I/O: the environment is passed in as a lookup function so
//! this stays testable. Only `main` and `run` know about flags.

mod read;
mod validate;

use std::ffi::OsString;

use crate::error::{exit, Error};
use crate::request::Config;
use read::Read;

/// The usage text printed by `--help` (and kept in step with the README).
pub const USAGE: &str = "\
ecs-deploy — ship a new container image to Amazon ECS and wait honestly until
ECS has rolled it out (or say why it did not). A drop-in for the bash ecs-deploy.

Usage:
  ecs-deploy -c CLUSTER -n SERVICE -i IMAGE [options]     deploy to a service
  ecs-deploy -d TASK_DEFINITION -i IMAGE [options]        register a new revision only
  ecs-deploy -d TASK_DEFINITION -i IMAGE --run-task ...   ... and run it as a one-off task
  ecs-deploy -c CLUSTER -n SERVICE --wait-only            wait for one started elsewhere
  ecs-deploy -c CLUSTER -n SERVICE --rollback-deployment  undo its last deployment

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
      --rollback-deployment      Undo the service's last deployment (no image): answer a
                                 paused PAUSE hook with ROLLBACK, stop a deployment in
                                 progress with ECS's (or CodeDeploy's) rollback, else point
                                 the service back at the revision its last successful
                                 deployment replaced; and wait for that (--dry-run: say
                                 which revision, send nothing)

A deployment you did not start (terraform apply, CDK, the console):
      --wait-only                Deploy nothing: wait for the deployment each -n service
                                 is running now, exactly as for one of ours (with
                                 --enable-rollback, roll it back if it fails); exit 0 when
                                 nothing is in progress, 1 when it failed or had failed

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
      --log-lines N              When tasks fail, show the last N lines (default 20; 0:
                                 none) of each failed container's CloudWatch log
      --no-image-check           Do not check with ECR that the image exists before
                                 anything is registered

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
reference or tag, or an ECR image that does not exist; 130 interrupted (Ctrl-C,
SIGTERM, SIGHUP, SIGQUIT).
";

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Help,
    Version,
    Deploy(Box<Config>),
}

/// Parses the arguments (without the program name): reads the flags,
/// then holds them against each other.
pub fn parse(args: Vec<OsString>, env: impl Fn(&str) -> Option<String>) -> Result<Command, Error> {
    match read::read(args)? {
        Read::Help => Ok(Command::Help),
        Read::Version => Ok(Command::Version),
        Read::Flags(flags) => Ok(Command::Deploy(Box::new(validate::request(*flags, env)?))),
    }
}

/// Whether the arguments ask for `--output json`, however else they are wrong.
pub fn asks_for_json(args: &[OsString]) -> bool {
    args.iter()
        .zip(args.iter().skip(1).map(Some).chain([None]))
        .any(|(arg, next)| {
            arg == "--output=json" || (arg == "--output" && next.is_some_and(|n| n == "json"))
        })
}

fn usage(message: impl Into<String>) -> Error {
    Error::usage(exit::USAGE, message)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::core::watch::rolling::DoneRule;
    use crate::request::{HookAction, ImageChange, OutputFormat, Target};

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
        assert!(read::known_flags().contains(&"--skip-deployments-check"));
        assert!(read::known_flags().contains(&"-to"));
        assert_eq!(read::edit_distance("kitten", "sitting"), 3);
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
