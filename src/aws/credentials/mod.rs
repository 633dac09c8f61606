//! Where the AWS credentials come from. The client asks a
//! [`ProvideCredentials`] for them before every signed request, so sources
//! that hand out temporary credentials can refresh them behind this seam.
//!
//! Sources, in order: the `-k`/`-s` flags (with `AWS_SESSION_TOKEN`), then the
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;

pub use aws_credential_types::Credentials;

use crate::cli::AwsOptions;
use crate::error::{exit, Error};

/// A string that must never be printed: `Debug` shows only that it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that needs it (signing).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(** redacted **)")
    }
}

/// A future returned by a credentials source.
pub type CredentialsFuture<'a> = Pin<Box<dyn Future<Output = Result<Credentials, Error>> + 'a>>;

/// Something that can hand out credentials for the next request.
pub trait ProvideCredentials {
    fn provide(&self) -> CredentialsFuture<'_>;
}

/// Credentials that were given outright and never change.
struct Fixed(Credentials);

impl ProvideCredentials for Fixed {
    fn provide(&self) -> CredentialsFuture<'_> {
        let credentials = self.0.clone();
        Box::pin(async move { Ok(credentials) })
    }
}

/// Picks the first source that is configured; `env` looks up environment variables.
pub fn resolve(
    options: &AwsOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Box<dyn ProvideCredentials>, Error> {
    let non_empty = |name: &str| env(name).filter(|v| !v.is_empty());
    let session_token = non_empty("AWS_SESSION_TOKEN");
    match (&options.access_key_id, &options.secret_access_key) {
        (Some(key), Some(secret)) => {
            return Ok(fixed(key, secret.expose(), session_token, "flags"));
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::usage(
                exit::USAGE,
                "-k/--aws-access-key and -s/--aws-secret-key go together: pass both, or neither to use the environment.",
            ));
        }
        (None, None) => {}
    }
    match (non_empty("AWS_ACCESS_KEY_ID"), non_empty("AWS_SECRET_ACCESS_KEY")) {
        (Some(key), Some(secret)) => Ok(fixed(&key, &secret, session_token, "environment")),
        (Some(_), None) => Err(Error::aws(
            "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both (or pass -k and -s).",
        )),
        (None, Some(_)) => Err(Error::aws(
            "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: set both (or pass -k and -s).",
        )),
        (None, None) => Err(Error::aws(
            "no AWS credentials found. Tried, in order: the -k/--aws-access-key and -s/--aws-secret-key flags; the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Set one of them.",
        )),
    }
}

fn fixed(
    key: &str,
    secret: &str,
    token: Option<String>,
    source: &'static str,
) -> Box<dyn ProvideCredentials> {
    Box::new(Fixed(Credentials::new(key, secret, token, None, source)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provide(options: &AwsOptions, env: &[(&str, &str)]) -> Result<Credentials, Error> {
        let lookup = |name: &str| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let provider = resolve(options, &lookup)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(provider.provide())
    }

    #[test]
    fn flags_win_over_the_environment() {
        let options = AwsOptions {
            access_key_id: Some("FLAGKEY".into()),
            secret_access_key: Some(Secret::new("flagsecret")),
            ..AwsOptions::default()
        };
        let env = [
            ("AWS_ACCESS_KEY_ID", "ENVKEY"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
            ("AWS_SESSION_TOKEN", "tok"),
        ];
        let creds = provide(&options, &env).unwrap();
        assert_eq!(creds.access_key_id(), "FLAGKEY");
        assert_eq!(creds.secret_access_key(), "flagsecret");
        assert_eq!(creds.session_token(), Some("tok"));
    }

    #[test]
    fn environment_is_used_without_flags() {
        let env = [
            ("AWS_ACCESS_KEY_ID", "ENVKEY"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
        ];
        let creds = provide(&AwsOptions::default(), &env).unwrap();
        assert_eq!(creds.access_key_id(), "ENVKEY");
        assert_eq!(creds.session_token(), None);
    }

    #[test]
    fn missing_or_half_credentials_are_explained() {
        let err = provide(&AwsOptions::default(), &[]).err().unwrap();
        assert_eq!(err.exit_code(), exit::AWS);
        assert!(err.to_string().contains("AWS_ACCESS_KEY_ID"));
        let err = provide(&AwsOptions::default(), &[("AWS_ACCESS_KEY_ID", "K")])
            .err()
            .unwrap();
        assert!(err.to_string().contains("AWS_SECRET_ACCESS_KEY is not"));
        let only_key = AwsOptions {
            access_key_id: Some("K".into()),
            ..AwsOptions::default()
        };
        assert_eq!(
            provide(&only_key, &[]).err().unwrap().exit_code(),
            exit::USAGE
        );
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        assert!(!format!("{:?}", Secret::new("hunter2")).contains("hunter2"));
        let creds = provide(
            &AwsOptions::default(),
            &[
                ("AWS_ACCESS_KEY_ID", "K"),
                ("AWS_SECRET_ACCESS_KEY", "hunter2"),
                ("AWS_SESSION_TOKEN", "tok3n"),
            ],
        )
        .unwrap();
        let shown = format!("{creds:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok3n"),
            "{shown}"
        );
    }
}
