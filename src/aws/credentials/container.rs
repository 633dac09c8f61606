//! ECS/EKS container credentials: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`
//! (on 169.254.170.2) or `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with an
//! `Authorization` header from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`
//! (re-read on every fetch, since EKS rotates it) or `AWS_CONTAINER_AUTHORIZATION_TOKEN`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{credentials_from_json, CredentialsFuture, ProvideCredentials};
use crate::aws::http::{innermost_cause, read_body, BodyError};
use crate::core::secret::Secret;
use crate::error::Error;
use crate::files;

const ECS_HOST: &str = "http://169.254.170.2";
/// The link-local addresses of the ECS agent and EKS Pod Identity agent.
const CONTAINER_AGENTS: [&str; 3] = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23"];
const TIMEOUT: Duration = Duration::from_secs(2);

/// The container credentials endpoint and how to authenticate to it.
pub struct Container {
    url: reqwest::Url,
    token: Option<Token>,
    http: reqwest::Client,
}

enum Token {
    File(PathBuf),
    Value(Secret),
}

impl Container {
    /// The endpoint the environment configures, if any.
    pub fn from_env(
        env: &dyn Fn(&str) -> Option<String>,
        http: reqwest::Client,
    ) -> Result<Option<Container>, Error> {
        let url = match (
            env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
            env("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        ) {
            // Without the leading '/', "@host/x" would change the host.
            (Some(relative), _) if !relative.starts_with('/') => {
                return Err(Error::aws(
                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path starting with '/'.",
                ))
            }
            (Some(relative), _) => parse(
                &format!("{ECS_HOST}{relative}"),
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            )?,
            (None, Some(full)) => {
                let url = parse(&full, "AWS_CONTAINER_CREDENTIALS_FULL_URI")?;
                if !is_allowed(&url) {
                    return Err(Error::aws(format!(
                        "AWS_CONTAINER_CREDENTIALS_FULL_URI ({}) must use https://, or http:// on a loopback address, 169.254.170.2, 169.254.170.23 or [fd00:ec2::23].",
                        origin(&url)
                    )));
                }
                url
            }
            (None, None) => return Ok(None),
        };
        let token = match (
            env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
            env("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        ) {
            (Some(file), _) => Some(Token::File(file.into())),
            (None, Some(value)) => Some(Token::Value(Secret::new(value))),
            (None, None) => None,
        };
        Ok(Some(Container { url, token, http }))
    }

    /// Where the credentials come from, for messages.
    /// Only the scheme, host and port: the path (a per-task id on ECS) and
    /// any user information work like a bearer secret.
    pub fn describe(&self) -> String {
        format!("container credentials endpoint {}", origin(&self.url))
    }

    async fn fetch(&self) -> Result<super::Credentials, Error> {
        let fail = |problem: String| Error::aws(format!("{}: {problem}", self.describe()));
        let mut request = self.http.get(self.url.clone()).timeout(TIMEOUT);
        match &self.token {
            Some(Token::File(path)) => {
                let token = files::read_text(path).await.map_err(|e| {
                    fail(format!(
                        "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {}: {e}",
                        path.display()
                    ))
                })?;
                request =
                    request.header("authorization", header_value(token.trim()).map_err(fail)?);
            }
            Some(Token::Value(token)) => {
                request =
                    request.header("authorization", header_value(token.expose()).map_err(fail)?);
            }
            None => {}
        }
        let response = request
            .send()
            .await
            .map_err(|e| fail(format!("no answer ({})", innermost_cause(&e))))?;
        let status = response.status();
        let body = read_body(response).await.map_err(|e| match e {
            BodyError::Transport(e) => fail(format!("no answer ({})", innermost_cause(&e))),
            BodyError::TooLarge => fail("the answer is too large to be credentials".into()),
        })?;
        if !status.is_success() {
            return Err(fail(format!("answered HTTP {}", status.as_u16())));
        }
        let json = serde_json::from_slice(&body)
            .map_err(|e| fail(format!("the reply is not JSON ({e})")))?;
        credentials_from_json(&json, "container").map_err(fail)
    }
}

impl ProvideCredentials for Container {
    fn provide(&self) -> CredentialsFuture<'_> {
        Box::pin(self.fetch())
    }
}

/// Scheme, host and port of an endpoint: never its path (a per-task id on
/// ECS) or user information, which work like a bearer secret.
fn origin(url: &reqwest::Url) -> String {
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "{}://{}{port}",
        url.scheme(),
        url.host_str().unwrap_or_default()
    )
}

/// The variable's URL; the error does not repeat it (it may hold a secret).
fn parse(text: &str, variable: &str) -> Result<reqwest::Url, Error> {
    reqwest::Url::parse(text).map_err(|e| Error::aws(format!("{variable} is not a URL: {e}")))
}

/// A token that cannot smuggle extra headers into the request.
fn header_value(token: &str) -> Result<reqwest::header::HeaderValue, String> {
    if token.contains(['\r', '\n']) {
        return Err("the authorization token contains a line break".into());
    }
    reqwest::header::HeaderValue::from_str(token)
        .map(|mut v| {
            v.set_sensitive(true);
            v
        })
        .map_err(|_| "the authorization token is not a valid header value".into())
}

/// https anywhere; plain http only where the credentials cannot leave the
/// host or the task: loopback and the ECS/EKS link-local agents.
fn is_allowed(url: &reqwest::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => {
            let host = url.host_str().unwrap_or_default();
            let ip = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .ok();
            crate::aws::region::is_loopback(url)
                || ip.is_some_and(|ip| {
                    CONTAINER_AGENTS
                        .iter()
                        .any(|agent| agent.parse::<IpAddr>() == Ok(ip))
                })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Option<Container>, Error> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Container::from_env(
            &move |n: &str| vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()),
            reqwest::Client::new(),
        )
    }

    #[test]
    fn relative_uri_goes_to_the_ecs_agent() {
        let c = from(&[(
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "/v2/credentials/abc",
        )])
        .unwrap()
        .unwrap();
        assert_eq!(c.url.as_str(), "http://169.254.170.2/v2/credentials/abc");
        assert!(from(&[]).unwrap().is_none());
        assert!(from(&[("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "@evil.example/x")]).is_err());
    }

    #[test]
    fn full_uri_hosts_are_restricted() {
        for ok in [
            "https://creds.example.com/x",
            "http://127.0.0.1:9911/creds",
            "http://localhost/x",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials",
            "http://[::1]:80/",
        ] {
            assert!(
                from(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", ok)])
                    .unwrap()
                    .is_some(),
                "{ok}"
            );
        }
        for bad in [
            "http://10.0.0.5/creds",
            "http://example.com/",
            "ftp://127.0.0.1/",
        ] {
            assert!(
                from(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", bad)]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn refusals_leave_out_the_path_and_user() {
        let err = from(&[(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://user:hunter2@10.0.0.5:8080/v2/secret-id",
        )])
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("(http://10.0.0.5:8080)"), "{err}");
        assert!(
            !err.contains("hunter2") && !err.contains("secret-id"),
            "{err}"
        );
        let err = from(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", "hunter2 not a url")])
            .err()
            .unwrap()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn descriptions_leave_out_the_path_and_user() {
        let c = from(&[(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "https://user:pw@creds.example:8443/v2/abc-id",
        )])
        .unwrap()
        .unwrap();
        assert_eq!(
            c.describe(),
            "container credentials endpoint https://creds.example:8443"
        );
    }

    #[test]
    fn tokens_cannot_inject_headers() {
        assert!(header_value("abc\r\nX-Evil: 1").is_err());
        assert!(header_value("Bearer abc").unwrap().is_sensitive());
    }
}
