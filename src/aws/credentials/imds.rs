//! EC2 instance metadata (IMDS): the instance profile's credentials and the
//! instance's region. IMDSv2 (a session token from `PUT /latest/api/token`)
//! first; IMDSv1 only when the token call is refused as an old IMDS or a
//! hop-limited proxy would refuse it (403/404/405), unless
//! `AWS_EC2_METADATA_V1_DISABLED` forbids it. Short timeouts, so that off EC2
//! the chain ends in about a second.

use std::time::Duration;

use super::{credentials_from_json, CredentialsFuture, ProvideCredentials};
use crate::aws::http::{read_body, BodyError};
use crate::error::Error;

const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
const DEFAULT_ENDPOINT_IPV6: &str = "http://[fd00:ec2::254]";
const TIMEOUT: Duration = Duration::from_secs(1);
const ATTEMPTS: u32 = 2;
const TOKEN_TTL_SECONDS: &str = "21600";
const CREDENTIALS_PATH: &str = "/latest/meta-data/iam/security-credentials/";

/// The instance metadata service.
pub struct Imds {
    base: String,
    allow_v1: bool,
    http: reqwest::Client,
}

impl Imds {
    /// IMDS as the environment configures it; `None` when `AWS_EC2_METADATA_DISABLED=true`.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>, http: reqwest::Client) -> Option<Imds> {
        let is_true = |name: &str| env(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if is_true("AWS_EC2_METADATA_DISABLED") {
            return None;
        }
        let base = match env("AWS_EC2_METADATA_SERVICE_ENDPOINT") {
            Some(endpoint) => endpoint,
            None => match env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE") {
                Some(mode) if mode.eq_ignore_ascii_case("IPv6") => DEFAULT_ENDPOINT_IPV6.into(),
                _ => DEFAULT_ENDPOINT.into(),
            },
        };
        Some(Imds {
            base: base.trim_end_matches('/').to_string(),
            allow_v1: !is_true("AWS_EC2_METADATA_V1_DISABLED"),
            http,
        })
    }

    /// Where the credentials come from, for messages.
    pub fn describe(&self) -> String {
        format!("instance metadata at {}", self.base)
    }

    /// The region the instance runs in.
    pub async fn region(&self) -> Result<String, Error> {
        let token = self.token().await?;
        self.get("/latest/meta-data/placement/region", token.as_deref())
            .await
            .map(|r| r.trim().to_string())
    }

    async fn credentials(&self) -> Result<super::Credentials, Error> {
        let token = self.token().await?;
        let roles = self.get(CREDENTIALS_PATH, token.as_deref()).await?;
        let role = roles
            .lines()
            .next()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                self.error("the instance has no IAM instance profile (no role is listed)".into())
            })?;
        let body = self
            .get(&format!("{CREDENTIALS_PATH}{role}"), token.as_deref())
            .await?;
        let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
            self.error(format!("the credentials of role {role} are not JSON ({e})"))
        })?;
        if let Some(code) = json["Code"].as_str().filter(|c| *c != "Success") {
            return Err(self.error(format!(
                "role {role}: {code} {}",
                json["Message"].as_str().unwrap_or("")
            )));
        }
        credentials_from_json(&json, "imds").map_err(|e| self.error(e))
    }

    /// An IMDSv2 session token, or `None` to fall back to IMDSv1.
    async fn token(&self) -> Result<Option<String>, Error> {
        let url = format!("{}/latest/api/token", self.base);
        let response = self
            .send(|| {
                self.http
                    .put(&url)
                    .header("x-aws-ec2-metadata-token-ttl-seconds", TOKEN_TTL_SECONDS)
            })
            .await?;
        let status = response.status().as_u16();
        match status {
            200 => Ok(Some(self.text(response).await?)),
            403..=405 if self.allow_v1 => Ok(None),
            _ => Err(self.error(format!(
                "the IMDSv2 token request answered HTTP {status}{}",
                if self.allow_v1 {
                    ""
                } else {
                    " (IMDSv1 is disabled by AWS_EC2_METADATA_V1_DISABLED)"
                }
            ))),
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Result<String, Error> {
        let url = format!("{}{path}", self.base);
        let response = self
            .send(|| {
                let request = self.http.get(&url);
                match token {
                    Some(token) => request.header("x-aws-ec2-metadata-token", token),
                    None => request,
                }
            })
            .await?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(self.error(format!("GET {path} answered HTTP {status}")));
        }
        self.text(response).await
    }

    /// A reply's body as text, at most [`read_body`]'s cap.
    async fn text(&self, response: reqwest::Response) -> Result<String, Error> {
        match read_body(response).await {
            Ok(body) => Ok(String::from_utf8_lossy(&body).into_owned()),
            Err(BodyError::Transport(e)) => Err(self.error(format!(
                "no answer ({})",
                crate::aws::http::innermost_cause(&e)
            ))),
            Err(BodyError::TooLarge) => Err(self.error("the answer is too large".into())),
        }
    }

    /// Sends with the short timeout, once more if the first try gets no answer.
    async fn send(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Error> {
        let mut attempt = 1;
        loop {
            match request().timeout(TIMEOUT).send().await {
                Ok(response) => return Ok(response),
                Err(_) if attempt < ATTEMPTS => attempt += 1,
                Err(e) => {
                    let why = if e.is_timeout() {
                        "timed out".to_string()
                    } else {
                        format!("not reachable ({})", crate::aws::http::innermost_cause(&e))
                    };
                    return Err(self.error(why));
                }
            }
        }
    }

    fn error(&self, problem: String) -> Error {
        Error::aws(format!("{}: {problem}", self.describe()))
    }
}

impl ProvideCredentials for Imds {
    fn provide(&self) -> CredentialsFuture<'_> {
        Box::pin(self.credentials())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &'static [(&'static str, &'static str)]) -> Option<Imds> {
        Imds::from_env(
            &|n: &str| {
                vars.iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.to_string())
            },
            reqwest::Client::new(),
        )
    }

    #[test]
    fn endpoint_and_switches_from_the_environment() {
        let default = from(&[]).unwrap();
        assert_eq!(default.base, "http://169.254.169.254");
        assert!(default.allow_v1);
        let v6 = from(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6")]).unwrap();
        assert_eq!(v6.base, "http://[fd00:ec2::254]");
        let custom = from(&[
            (
                "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                "http://127.0.0.1:1338/",
            ),
            ("AWS_EC2_METADATA_V1_DISABLED", "true"),
        ])
        .unwrap();
        assert_eq!(custom.base, "http://127.0.0.1:1338");
        assert!(!custom.allow_v1);
        assert!(from(&[("AWS_EC2_METADATA_DISABLED", "TRUE")]).is_none());
    }
}
