//! Where the AWS credentials come from (design §7). The client asks a
//! [`ProvideCredentials`] before every signed request; temporary credentials
//! are cached and fetched again shortly before they expire, so a long wait
//! never signs with expired keys.
//!
//! The chain, first match wins: `--aws-instance-profile` (IMDS only); the
//! `-k`/`-s` flags; `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`; the profile
//! (`-p`, `AWS_PROFILE`, else `default`); web identity
//! (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`); container credentials;
//! instance metadata. `-a ROLE` then assumes that role with what was found.

mod container;
mod imds;
mod process;
/// Profile files and what a profile says about credentials.
pub mod profile;
mod sso;
mod sts;

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

pub use crate::aws::identity::{
    credentials_from_json, Credentials, CredentialsFuture, ProvideCredentials,
};
pub use imds::Imds;

use self::container::Container;
use self::process::Process;
use self::profile::{CredentialSource, Plan, Profiles};
use self::sso::Sso;
use self::sts::{AssumedRole, WebIdentity};
use crate::aws::client::{http_client, Client, Endpoint, Route};
use crate::aws::region;
use crate::error::{exit, Error};
use crate::files;
use crate::output::safe::{self, Stream};
use crate::request::AwsOptions;

/// Temporary credentials are fetched again when they have less than this left.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Credentials that were given outright and never change.
struct Fixed(Credentials);

impl ProvideCredentials for Fixed {
    fn provide(&self) -> CredentialsFuture<'_> {
        let credentials = self.0.clone();
        Box::pin(async move { Ok(credentials) })
    }
}

/// Keeps what a source handed out until it is about to expire.
struct Cached {
    source: Box<dyn ProvideCredentials>,
    current: RefCell<Option<Credentials>>,
    /// Held while the source is asked: calls made together (the services of
    /// a run are described, updated and polled in parallel) share one
    /// refresh instead of each asking STS or the metadata service.
    refreshing: tokio::sync::Mutex<()>,
}

impl ProvideCredentials for Cached {
    fn provide(&self) -> CredentialsFuture<'_> {
        Box::pin(async move {
            let fresh = |now| {
                self.current
                    .borrow()
                    .clone()
                    .filter(|credentials| is_fresh(credentials, now))
            };
            if let Some(credentials) = fresh(SystemTime::now()) {
                return Ok(credentials);
            }
            let _refreshing = self.refreshing.lock().await;
            let now = SystemTime::now();
            if let Some(credentials) = fresh(now) {
                return Ok(credentials);
            }
            match self.source.provide().await {
                Ok(credentials) => {
                    self.current.replace(Some(credentials.clone()));
                    Ok(credentials)
                }
                // A failed early refresh is no reason to stop signing with
                // credentials that are still valid.
                Err(e) => self
                    .current
                    .borrow()
                    .clone()
                    .filter(|c| c.expiry().is_some_and(|expiry| expiry > now))
                    .ok_or(e),
            }
        })
    }
}

fn is_fresh(credentials: &Credentials, now: SystemTime) -> bool {
    credentials
        .expiry()
        .is_none_or(|expiry| expiry > now + REFRESH_MARGIN)
}

fn cached(source: impl ProvideCredentials + 'static) -> Rc<dyn ProvideCredentials> {
    Rc::new(Cached {
        source: Box::new(source),
        current: RefCell::new(None),
        refreshing: tokio::sync::Mutex::new(()),
    })
}

fn fixed(
    key: &str,
    secret: &str,
    token: Option<String>,
    source: &'static str,
) -> Rc<dyn ProvideCredentials> {
    Rc::new(Fixed(Credentials::new(key, secret, token, None, source)))
}

/// The home directory, where `.aws` is: `HOME`, else `USERPROFILE`.
fn home(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    PathBuf::from(
        env("HOME")
            .or_else(|| env("USERPROFILE"))
            .unwrap_or_else(|| ".".into()),
    )
}

/// The profile files and the profile this run uses.
pub struct ProfileFiles {
    profiles: Profiles,
    /// The selected profile: `-p`, else `AWS_PROFILE`, else `default`.
    pub name: String,
    config_path: PathBuf,
    credentials_path: PathBuf,
}

impl ProfileFiles {
    /// Reads `AWS_CONFIG_FILE` (default `~/.aws/config`) and
    /// `AWS_SHARED_CREDENTIALS_FILE` (default `~/.aws/credentials`); a missing
    /// file counts as empty, an unreadable one is an error, and so is a
    /// profile named by `-p` or `AWS_PROFILE` that neither file defines.
    pub async fn load(
        flag: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ProfileFiles, Error> {
        let home = home(env);
        let path = |variable: &str, default: &str| match env(variable) {
            Some(path) => PathBuf::from(path),
            None => home.join(".aws").join(default),
        };
        let config_path = path("AWS_CONFIG_FILE", "config");
        let credentials_path = path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
        let read = |path: PathBuf| async move {
            match files::read_text(&path).await {
                Ok(text) => Ok(text),
                Err(e) if e.is_missing() => Ok(String::new()),
                Err(e) => Err(Error::aws(format!("cannot read {}: {e}", path.display()))),
            }
        };
        let config = read(config_path.clone()).await?;
        let credentials = read(credentials_path.clone()).await?;
        let profiles = Profiles::parse(&config, &credentials).map_err(|e| {
            let path = match e.kind {
                profile::FileKind::Config => &config_path,
                profile::FileKind::Credentials => &credentials_path,
            };
            Error::aws(format!(
                "{}, line {}: {}. The AWS CLI refuses this file too; fix that line.",
                path.display(),
                e.line,
                e.problem
            ))
        })?;
        let (name, explicit) = match flag.map(str::to_string).or_else(|| env("AWS_PROFILE")) {
            Some(name) => (name, true),
            None => ("default".to_string(), false),
        };
        let files = ProfileFiles {
            profiles,
            name,
            config_path,
            credentials_path,
        };
        // A profile the user named must exist; `default` may be absent.
        if explicit && files.profiles.get(&files.name).is_none() {
            return Err(Error::aws(format!(
                "profile '{}' was not found in {}.",
                files.name,
                files.files()
            )));
        }
        Ok(files)
    }

    /// The selected profile's `region`.
    pub fn region(&self) -> Option<String> {
        self.profiles
            .get(&self.name)
            .and_then(|p| p.get("region"))
            .filter(|r| !r.is_empty())
            .cloned()
    }

    fn files(&self) -> String {
        format!(
            "{} and {}",
            self.config_path.display(),
            self.credentials_path.display()
        )
    }
}

/// What building the chain needs besides the flags.
pub struct Context<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub profiles: &'a ProfileFiles,
    pub region: &'a str,
    /// For STS, routed as its endpoint needs.
    pub sts_http: reqwest::Client,
    /// For IMDS and container endpoints: never through a proxy.
    pub metadata_http: reqwest::Client,
    /// The root certificates `AWS_CA_BUNDLE` adds, for the clients made
    /// while the chain is built (IAM Identity Center's).
    pub extra_roots: &'a [reqwest::Certificate],
    pub verbose: bool,
}

/// Finds credentials through the chain, assumes `-a`'s role on top, and
/// fetches them once, so that a broken source is reported before any ECS call.
pub async fn resolve(
    options: &AwsOptions,
    ctx: &Context<'_>,
) -> Result<Rc<dyn ProvideCredentials>, Error> {
    let (mut provider, mut source) = match chain(options, ctx)? {
        Found::Provider(provider, source) => (provider, source),
        Found::LastResort(imds, tried) => {
            let described = imds.describe();
            let provider = cached(imds);
            if let Err(e) = provider.provide().await {
                return Err(nothing_found(&tried, &e.to_string()));
            }
            (provider, described)
        }
    };
    if let Some(role_arn) = &options.assume_role {
        provider = cached(AssumedRole {
            sts: sts_client(ctx, Some(provider))?,
            role_arn: role_arn.clone(),
            session_name: sts::default_session_name(),
            external_id: None,
            duration_seconds: None,
        });
        source = format!("role {role_arn} assumed with {source}");
    }
    provider.provide().await?;
    if ctx.verbose {
        // The source names a role and a profile from the user's files:
        // through the output boundary like every other line.
        safe::write_line(Stream::Stderr, &format!("[aws] credentials from {source}"));
    }
    Ok(provider)
}

enum Found {
    /// A configured source and its description.
    Provider(Rc<dyn ProvideCredentials>, String),
    /// Nothing configured: instance metadata is the last thing to try; the
    /// list says what was looked at before it.
    LastResort(Imds, Vec<String>),
}

fn chain(options: &AwsOptions, ctx: &Context<'_>) -> Result<Found, Error> {
    let env = ctx.env;
    let found = |provider, source: &str| Ok(Found::Provider(provider, source.to_string()));

    if options.instance_profile {
        let imds = Imds::from_env(env, ctx.metadata_http.clone()).ok_or_else(|| {
            Error::usage(exit::USAGE, "--aws-instance-profile asks for instance metadata, but AWS_EC2_METADATA_DISABLED=true turns it off.")
        })?;
        let source = imds.describe();
        return found(cached(imds), &source);
    }
    let session_token = env("AWS_SESSION_TOKEN");
    match (&options.access_key_id, &options.secret_access_key) {
        (Some(key), Some(secret)) => return found(fixed(key, secret.expose(), session_token, "flags"), "the -k/-s flags"),
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::usage(
                exit::USAGE,
                "-k/--aws-access-key and -s/--aws-secret-key go together: pass both, or neither to use the credential chain.",
            ))
        }
        (None, None) => {}
    }
    match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(key), Some(secret)) => {
            return found(
                fixed(&key, &secret, session_token, "environment"),
                "the environment (AWS_ACCESS_KEY_ID)",
            )
        }
        (Some(_), None) => {
            return Err(Error::aws(
                "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both, or neither.",
            ))
        }
        (None, Some(_)) => {
            return Err(Error::aws(
                "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: set both, or neither.",
            ))
        }
        (None, None) => {}
    }
    let profiles = ctx.profiles;
    let plan = profiles
        .profiles
        .plan(&profiles.name)
        .map_err(|e| Error::aws(format!("{e} (in {})", profiles.files())))?;
    if let Some(plan) = plan {
        let provider = from_plan(&plan, &profiles.name, ctx)?;
        return found(provider, &format!("profile '{}'", profiles.name));
    }
    match (env("AWS_WEB_IDENTITY_TOKEN_FILE"), env("AWS_ROLE_ARN")) {
        (Some(token_file), Some(role_arn)) => {
            let provider = web_identity(ctx, role_arn, token_file, env("AWS_ROLE_SESSION_NAME"))?;
            return found(provider, "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)");
        }
        (Some(_), None) => return Err(Error::aws(
            "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not: set the role to assume.",
        )),
        _ => {}
    }
    if let Some(container) = Container::from_env(env, ctx.metadata_http.clone())? {
        let source = container.describe();
        return found(cached(container), &source);
    }
    let tried = vec![
        "the -k/--aws-access-key and -s/--aws-secret-key flags (not given)".to_string(),
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (not set)".to_string(),
        format!(
            "profile '{}' in {} ({})",
            profiles.name,
            profiles.files(),
            if profiles.profiles.get(&profiles.name).is_some() {
                "it sets no credentials"
            } else {
                "not defined"
            }
        ),
        "web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (not set)".to_string(),
        "container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI (not set)"
            .to_string(),
    ];
    match Imds::from_env(env, ctx.metadata_http.clone()) {
        Some(imds) => Ok(Found::LastResort(imds, tried)),
        None => Err(nothing_found(
            &tried,
            "instance metadata: disabled by AWS_EC2_METADATA_DISABLED",
        )),
    }
}

fn nothing_found(tried: &[String], last: &str) -> Error {
    let mut message = String::from("no AWS credentials found. Tried, in order:");
    for (i, source) in tried.iter().map(String::as_str).chain([last]).enumerate() {
        message.push_str(&format!("\n  {}. {source}", i + 1));
    }
    message.push_str("\nSet AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass -p PROFILE, or run where a task or instance role is available.");
    Error::aws(message)
}

/// The provider for a profile's plan, sources first.
fn from_plan(
    plan: &Plan,
    profile: &str,
    ctx: &Context<'_>,
) -> Result<Rc<dyn ProvideCredentials>, Error> {
    let env = ctx.env;
    let in_profile = |problem: String| Error::aws(format!("profile '{profile}': {problem}"));
    Ok(match plan {
        Plan::Static(keys) => fixed(&keys.access_key_id, &keys.secret_access_key, keys.session_token.clone(), "profile"),
        Plan::Process { command } => cached(Process::new(profile, command)),
        Plan::Sso(settings) => {
            let portal = region::endpoint_override("sso", None, env)?;
            let route = match portal {
                Some(url) if url.scheme() == "http" => Route::Direct,
                _ => Route::Proxied,
            };
            let http = http_client(ctx.extra_roots, route)
                .map_err(|e| Error::usage(exit::USAGE, e))?;
            cached(Sso::new(profile, settings.clone(), &home(env), env, http)?)
        }
        Plan::Source(CredentialSource::Environment) => {
            match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
                (Some(key), Some(secret)) => fixed(&key, &secret, env("AWS_SESSION_TOKEN"), "environment"),
                _ => return Err(in_profile("credential_source = Environment, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set".into())),
            }
        }
        Plan::Source(CredentialSource::Ec2InstanceMetadata) => cached(
            Imds::from_env(env, ctx.metadata_http.clone())
                .ok_or_else(|| in_profile("credential_source = Ec2InstanceMetadata, but AWS_EC2_METADATA_DISABLED=true".into()))?,
        ),
        Plan::Source(CredentialSource::EcsContainer) => cached(
            Container::from_env(env, ctx.metadata_http.clone())?
                .ok_or_else(|| in_profile("credential_source = EcsContainer, but AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/_FULL_URI is not set".into()))?,
        ),
        Plan::WebIdentity { role_arn, token_file, session_name } => {
            web_identity(ctx, role_arn.clone(), token_file.clone(), session_name.clone())?
        }
        Plan::AssumeRole { role, source } => {
            let base = from_plan(source, profile, ctx)?;
            cached(AssumedRole {
                sts: sts_client(ctx, Some(base))?,
                role_arn: role.role_arn.clone(),
                session_name: role.session_name.clone().unwrap_or_else(sts::default_session_name),
                external_id: role.external_id.clone(),
                duration_seconds: role.duration_seconds,
            })
        }
    })
}

fn web_identity(
    ctx: &Context<'_>,
    role_arn: String,
    token_file: String,
    session_name: Option<String>,
) -> Result<Rc<dyn ProvideCredentials>, Error> {
    Ok(cached(WebIdentity {
        sts: sts_client(ctx, None)?,
        role_arn,
        token_file,
        session_name: session_name.unwrap_or_else(sts::default_session_name),
    }))
}

/// An STS client for the run's region, signing with `credentials` (or unsigned).
fn sts_client(
    ctx: &Context<'_>,
    credentials: Option<Rc<dyn ProvideCredentials>>,
) -> Result<Client, Error> {
    let url = region::endpoint("sts", None, ctx.region, ctx.env)?;
    let endpoint = Endpoint {
        signing_name: "sts",
        url,
        region: ctx.region.to_string(),
    };
    Ok(Client::new(
        ctx.sts_http.clone(),
        endpoint,
        credentials,
        ctx.verbose,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::secret::Secret;
    use std::time::UNIX_EPOCH;

    struct Setup {
        vars: Vec<(String, String)>,
        options: AwsOptions,
    }

    impl Setup {
        fn new(vars: &[(&str, &str)]) -> Setup {
            let mut vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            // Never reach for a real metadata service from a unit test.
            vars.push(("AWS_EC2_METADATA_DISABLED".into(), "true".into()));
            vars.push(("HOME".into(), "/nonexistent-home".into()));
            Setup {
                vars,
                options: AwsOptions::default(),
            }
        }

        fn resolve(&self) -> Result<Credentials, Error> {
            let env = |name: &str| {
                self.vars
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let profiles = ProfileFiles::load(self.options.profile.as_deref(), &env).await?;
                let ctx = Context {
                    env: &env,
                    profiles: &profiles,
                    region: "us-east-1",
                    sts_http: reqwest::Client::new(),
                    metadata_http: reqwest::Client::new(),
                    extra_roots: &[],
                    verbose: false,
                };
                resolve(&self.options, &ctx).await?.provide().await
            })
        }
    }

    /// The variables that point the chain at `config` and `credentials`.
    fn file_env<'a>(config: &'a str, credentials: &'a str) -> [(&'static str, &'a str); 2] {
        [
            ("AWS_CONFIG_FILE", config),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials),
        ]
    }

    fn profile_files(config: &str, credentials: &str) -> (tempdir::Dir, String, String) {
        let dir = tempdir::Dir::new();
        let config_path = dir.write("config", config);
        let credentials_path = dir.write("credentials", credentials);
        (dir, config_path, credentials_path)
    }

    /// A throwaway directory, removed on drop (no crate needed for this).
    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let path = std::env::temp_dir()
                    .join(format!("ecs-deploy-test-{}-{n}", std::process::id()));
                std::fs::create_dir_all(&path).unwrap();
                Dir(path)
            }
            pub fn write(&self, name: &str, text: &str) -> String {
                let path = self.0.join(name);
                std::fs::write(&path, text).unwrap();
                path.to_string_lossy().into_owned()
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn flags_then_environment_then_profile() {
        let (_dir, config, credentials) = profile_files(
            "",
            "[default]\naws_access_key_id = PROFILEKEY\naws_secret_access_key = p\n",
        );
        let files = file_env(&config, &credentials);
        let env_keys = [
            ("AWS_ACCESS_KEY_ID", "ENVKEY"),
            ("AWS_SECRET_ACCESS_KEY", "e"),
            ("AWS_SESSION_TOKEN", "tok"),
        ];

        let mut setup = Setup::new(&[&files[..], &env_keys[..]].concat());
        setup.options.access_key_id = Some("FLAGKEY".into());
        setup.options.secret_access_key = Some(Secret::new("f"));
        let creds = setup.resolve().unwrap();
        assert_eq!(
            (creds.access_key_id(), creds.session_token()),
            ("FLAGKEY", Some("tok"))
        );

        let creds = Setup::new(&[&files[..], &env_keys[..]].concat())
            .resolve()
            .unwrap();
        assert_eq!(creds.access_key_id(), "ENVKEY");

        let creds = Setup::new(&files).resolve().unwrap();
        assert_eq!(creds.access_key_id(), "PROFILEKEY");
    }

    #[test]
    fn named_profiles_and_their_errors() {
        let (_dir, config, credentials) = profile_files(
            "[profile deploy]\nregion = eu-west-1\n",
            "[default]\naws_access_key_id = WRONG\naws_secret_access_key = w\n[deploy]\naws_access_key_id = DEPLOYKEY\naws_secret_access_key = d\n",
        );
        let files = file_env(&config, &credentials);
        let mut setup = Setup::new(&files);
        setup.options.profile = Some("deploy".into());
        assert_eq!(setup.resolve().unwrap().access_key_id(), "DEPLOYKEY");

        let creds = Setup::new(&[&files[..], &[("AWS_PROFILE", "deploy")]].concat())
            .resolve()
            .unwrap();
        assert_eq!(creds.access_key_id(), "DEPLOYKEY");

        setup.options.profile = Some("nope".into());
        let err = setup.resolve().unwrap_err().to_string();
        assert!(
            err.contains("profile 'nope' was not found in") && err.contains(&config),
            "{err}"
        );
    }

    #[test]
    fn a_profile_with_only_a_region_does_not_stop_the_chain() {
        let (_dir, config, credentials) = profile_files("[default]\nregion = eu-west-1\n", "");
        let err = Setup::new(&[
            ("AWS_CONFIG_FILE", &config),
            ("AWS_SHARED_CREDENTIALS_FILE", &credentials),
        ])
        .resolve()
        .unwrap_err()
        .to_string();
        assert!(err.contains("no AWS credentials found"), "{err}");
        assert!(
            err.contains("profile 'default' in") && err.contains("(it sets no credentials)"),
            "{err}"
        );
    }

    #[test]
    fn nothing_found_lists_what_was_tried() {
        let err = Setup::new(&[]).resolve().unwrap_err();
        assert_eq!(err.exit_code(), exit::AWS);
        let message = err.to_string();
        for part in [
            "-k/--aws-access-key",
            "AWS_ACCESS_KEY_ID",
            "profile 'default'",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS",
            "disabled by AWS_EC2_METADATA_DISABLED",
        ] {
            assert!(message.contains(part), "{part} missing from: {message}");
        }
    }

    #[test]
    fn half_configured_sources_are_reported_as_such() {
        let err = Setup::new(&[("AWS_ACCESS_KEY_ID", "K")])
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(err.contains("AWS_SECRET_ACCESS_KEY is not"), "{err}");
        let err = Setup::new(&[("AWS_WEB_IDENTITY_TOKEN_FILE", "/t")])
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(err.contains("AWS_ROLE_ARN is not"), "{err}");
        let err = Setup::new(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.1.2.3/")])
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(err.contains("must use https://"), "{err}");
        let mut setup = Setup::new(&[]);
        setup.options.access_key_id = Some("K".into());
        assert_eq!(setup.resolve().unwrap_err().exit_code(), exit::USAGE);
        let mut setup = Setup::new(&[]);
        setup.options.instance_profile = true;
        assert!(setup
            .resolve()
            .unwrap_err()
            .to_string()
            .contains("AWS_EC2_METADATA_DISABLED"));
    }

    #[test]
    fn credential_process_profile() {
        let (_dir, config, credentials) = profile_files(
            "[default]\ncredential_process = echo '{\"Version\": 1, \"AccessKeyId\": \"PROCKEY\", \"SecretAccessKey\": \"s\"}'\n",
            "",
        );
        let creds = Setup::new(&[
            ("AWS_CONFIG_FILE", &config),
            ("AWS_SHARED_CREDENTIALS_FILE", &credentials),
        ])
        .resolve()
        .unwrap();
        assert_eq!(creds.access_key_id(), "PROCKEY");
    }

    #[test]
    fn cached_credentials_are_refreshed_before_they_expire() {
        struct Counting(RefCell<u32>, Duration);
        impl ProvideCredentials for Counting {
            fn provide(&self) -> CredentialsFuture<'_> {
                *self.0.borrow_mut() += 1;
                let n = *self.0.borrow();
                let expiry = SystemTime::now() + self.1;
                Box::pin(async move {
                    Ok(Credentials::new(
                        format!("K{n}"),
                        "s",
                        None,
                        Some(expiry),
                        "test",
                    ))
                })
            }
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let keys = |provider: Rc<dyn ProvideCredentials>| -> Vec<String> {
            (0..3)
                .map(|_| {
                    runtime
                        .block_on(provider.provide())
                        .unwrap()
                        .access_key_id()
                        .to_string()
                })
                .collect()
        };
        let long = keys(cached(Counting(RefCell::new(0), Duration::from_secs(3600))));
        assert_eq!(long, ["K1", "K1", "K1"]);
        let keys = keys(cached(Counting(RefCell::new(0), Duration::from_secs(60))));
        assert_eq!(keys, ["K1", "K2", "K3"]);
    }

    #[test]
    fn calls_made_together_share_one_refresh() {
        struct Slow(RefCell<u32>);
        impl ProvideCredentials for Slow {
            fn provide(&self) -> CredentialsFuture<'_> {
                Box::pin(async move {
                    *self.0.borrow_mut() += 1;
                    // The metadata service takes its time: the others wait.
                    tokio::task::yield_now().await;
                    let n = *self.0.borrow();
                    let expiry = SystemTime::now() + Duration::from_secs(3600);
                    Ok(Credentials::new(
                        format!("K{n}"),
                        "s",
                        None,
                        Some(expiry),
                        "test",
                    ))
                })
            }
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let provider = cached(Slow(RefCell::new(0)));
        let key = || async {
            provider
                .provide()
                .await
                .unwrap()
                .access_key_id()
                .to_string()
        };
        let keys = runtime.block_on(async { tokio::join!(key(), key(), key(), key()) });
        assert_eq!(keys, ("K1".into(), "K1".into(), "K1".into(), "K1".into()));
    }

    #[test]
    fn valid_credentials_outlive_a_failed_refresh() {
        struct FailsSecondTime(RefCell<u32>);
        impl ProvideCredentials for FailsSecondTime {
            fn provide(&self) -> CredentialsFuture<'_> {
                *self.0.borrow_mut() += 1;
                let first = *self.0.borrow() == 1;
                let expiry = SystemTime::now() + Duration::from_secs(60);
                Box::pin(async move {
                    if first {
                        Ok(Credentials::new("K1", "s", None, Some(expiry), "test"))
                    } else {
                        Err(Error::aws("endpoint down"))
                    }
                })
            }
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let provider = cached(FailsSecondTime(RefCell::new(0)));
        assert_eq!(
            runtime
                .block_on(provider.provide())
                .unwrap()
                .access_key_id(),
            "K1"
        );
        // Inside the refresh margin the refresh fails, but K1 is still valid.
        assert_eq!(
            runtime
                .block_on(provider.provide())
                .unwrap()
                .access_key_id(),
            "K1"
        );
    }

    #[test]
    fn freshness_margin() {
        let at = |secs| {
            Credentials::new(
                "K",
                "S",
                None,
                Some(UNIX_EPOCH + Duration::from_secs(secs)),
                "t",
            )
        };
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        assert!(is_fresh(&at(1000 + 301), now));
        assert!(!is_fresh(&at(1000 + 299), now));
        assert!(is_fresh(&Credentials::new("K", "S", None, None, "t"), now));
    }

    #[test]
    fn credentials_json() {
        let json = serde_json::json!({"AccessKeyId": "K", "SecretAccessKey": "S", "Token": "T", "Expiration": "2030-01-01T00:00:00Z"});
        let creds = credentials_from_json(&json, "t").unwrap();
        assert_eq!(creds.session_token(), Some("T"));
        assert!(
            credentials_from_json(&serde_json::json!({"AccessKeyId": "K"}), "t")
                .unwrap_err()
                .contains("SecretAccessKey")
        );
    }

    #[test]
    fn an_expiration_that_is_not_a_timestamp_is_no_answer() {
        for expiration in [
            serde_json::json!(1_900_000_000),
            serde_json::json!(-1),
            serde_json::json!(1e300),
            serde_json::json!(true),
            serde_json::json!("2030-01-01"),
            serde_json::json!("+275760-09-13T00:00:00Z"),
        ] {
            let json = serde_json::json!({"AccessKeyId": "K", "SecretAccessKey": "S", "Expiration": expiration});
            let err = credentials_from_json(&json, "t").unwrap_err();
            assert!(
                err.contains("not an ISO 8601 timestamp"),
                "{expiration}: {err}"
            );
        }
        let far = serde_json::json!({"AccessKeyId": "K", "SecretAccessKey": "S", "Expiration": "9999-12-31T23:59:59Z"});
        assert!(credentials_from_json(&far, "t").unwrap().expiry().is_some());
    }
}
