//! IAM Identity Center (`aws sso login`) profiles, as the AWS SDKs resolve
//! them: the token `aws sso login` cached in `~/.aws/sso/cache/<sha1>.json`
//! buys role credentials from the portal (`GetRoleCredentials`, unsigned,
//! with the token as a bearer header). A token of an `sso_session` within
//! fifteen minutes of its expiry is refreshed first (SSO-OIDC `CreateToken`
//! with its refresh token) and written back to the cache file, atomically and
//! with the file's mode (see [`files::replace_private`]). The numbers of
//! both answers are range-checked before they become times, so no answer can
//! crash the run or put a broken `expiresAt` into the cache the AWS CLI
//! shares. The token and the role credentials are secrets: they appear in
//! no message.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::profile::SsoSettings;
use super::{Credentials, CredentialsFuture, ProvideCredentials};
use crate::aws::client::decode_error;
use crate::aws::http::{innermost_cause, read_body, BodyError};
use crate::aws::region;
use crate::error::Error;
use crate::files;

/// A token this close to its expiry is refreshed (as the SDKs do).
const REFRESH_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The longest lifetime `CreateToken` can give a token: its `expiresIn` is
/// an int32 of seconds in the SSO-OIDC API.
const MAX_EXPIRES_IN: u64 = i32::MAX as u64;

/// The latest `expiration` of role credentials taken for a time: the last
/// moment an AWS timestamp can name, 9999-12-31T23:59:59.999Z, in
/// milliseconds since 1970.
const MAX_EXPIRATION_MS: u64 = 253_402_300_799_999;

/// IAM Identity Center for one profile.
pub struct Sso {
    profile: String,
    settings: SsoSettings,
    cache_file: PathBuf,
    portal: reqwest::Url,
    oidc: reqwest::Url,
    http: reqwest::Client,
}

impl Sso {
    /// The provider of `profile`, whose settings are `settings`; `home` is
    /// where `.aws/sso/cache` is; `portal` and `oidc` the endpoints (the
    /// regional defaults unless `AWS_ENDPOINT_URL_SSO` / `_SSO_OIDC` say).
    pub fn new(
        profile: &str,
        settings: SsoSettings,
        home: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        http: reqwest::Client,
    ) -> Result<Sso, Error> {
        let sso_region = region::validate(settings.region.clone())?;
        let endpoint = |service: &str, host: String| -> Result<reqwest::Url, Error> {
            match region::endpoint_override(service, None, env)? {
                Some(url) => Ok(url),
                None => reqwest::Url::parse(&host).map_err(|e| Error::aws(format!("{host}: {e}"))),
            }
        };
        let suffix = if sso_region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        let key = settings.session.as_deref().unwrap_or(&settings.start_url);
        Ok(Sso {
            profile: profile.to_string(),
            cache_file: home
                .join(".aws/sso/cache")
                .join(format!("{}.json", sha1_hex(key))),
            portal: endpoint("sso", format!("https://portal.sso.{sso_region}.{suffix}/"))?,
            oidc: endpoint("sso_oidc", format!("https://oidc.{sso_region}.{suffix}/"))?,
            settings,
            http,
        })
    }

    /// Where the credentials come from, for messages.
    pub fn describe(&self) -> String {
        format!(
            "IAM Identity Center (profile '{}', account {}, role {})",
            self.profile, self.settings.account_id, self.settings.role_name
        )
    }

    /// The command that gets a new token.
    fn login_command(&self) -> String {
        match &self.settings.session {
            Some(session) => format!("aws sso login --sso-session {session}"),
            None => format!("aws sso login --profile {}", self.profile),
        }
    }

    fn error(&self, problem: String) -> Error {
        Error::aws(format!("{}: {problem}", self.describe()))
    }

    /// The cached token: valid, refreshed where it is about to expire and
    /// can be, else the command that makes a new one.
    async fn token(&self) -> Result<String, Error> {
        let login = || {
            self.error(format!(
                "the cached sign-in has expired or is missing; run `{}`",
                self.login_command()
            ))
        };
        let text = match files::read_text(&self.cache_file).await {
            Ok(text) => text,
            Err(e) if e.is_missing() => return Err(login()),
            Err(e) => {
                return Err(self.error(format!("cannot read {}: {e}", self.cache_file.display())))
            }
        };
        let cached: Value = serde_json::from_str(&text).map_err(|e| {
            self.error(format!(
                "{} is not JSON ({}); run `{}`",
                self.cache_file.display(),
                crate::core::json_breaks(&e),
                self.login_command()
            ))
        })?;
        let now = SystemTime::now();
        let expires = cached["expiresAt"]
            .as_str()
            .and_then(|t| crate::aws::identity::parse_timestamp(&t.replace("UTC", "Z")).ok());
        let token = cached["accessToken"].as_str().filter(|t| !t.is_empty());
        let (Some(token), Some(expires)) = (token, expires) else {
            return Err(login());
        };
        if expires > now + REFRESH_WINDOW {
            return Ok(token.to_string());
        }
        if self.settings.session.is_some() {
            match self.refresh(&cached, now).await {
                Ok(fresh) => return Ok(fresh),
                // Still valid for a while: use it, and refresh next time.
                Err(_) if expires > now => return Ok(token.to_string()),
                Err(why) => {
                    return Err(self.error(format!(
                    "the cached sign-in has expired and could not be refreshed ({why}); run `{}`",
                    self.login_command()
                )))
                }
            }
        }
        if expires > now {
            Ok(token.to_string())
        } else {
            Err(login())
        }
    }

    /// Refreshes the token of an `sso_session` with SSO-OIDC `CreateToken`
    /// and writes it back to the cache file; returns the new access token.
    async fn refresh(&self, cached: &Value, now: SystemTime) -> Result<String, String> {
        let field = |key: &str| cached[key].as_str().filter(|v| !v.is_empty());
        let (Some(refresh), Some(client_id), Some(client_secret)) = (
            field("refreshToken"),
            field("clientId"),
            field("clientSecret"),
        ) else {
            return Err("the cache holds no refresh token".into());
        };
        let registration_expired = field("registrationExpiresAt")
            .and_then(|t| crate::aws::identity::parse_timestamp(t).ok())
            .is_some_and(|t| t <= now);
        if registration_expired {
            return Err("the client registration has expired".into());
        }
        let url = self
            .oidc
            .join("token")
            .map_err(|e| format!("bad endpoint: {e}"))?;
        let body = json!({
            "grantType": "refresh_token",
            "clientId": client_id,
            "clientSecret": client_secret,
            "refreshToken": refresh,
        });
        let request = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string());
        let reply = self.json(request, "CreateToken").await?;
        let access = reply["accessToken"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or("the CreateToken answer has no accessToken")?;
        let expires_at = reply["expiresIn"]
            .as_u64()
            .filter(|seconds| (1..=MAX_EXPIRES_IN).contains(seconds))
            .and_then(|seconds| iso8601(now.checked_add(Duration::from_secs(seconds))?))
            .ok_or_else(|| {
                format!("CreateToken: the answer's expiresIn is not a whole number of seconds from 1 to {MAX_EXPIRES_IN}")
            })?;
        let mut updated = cached.clone();
        updated["accessToken"] = json!(access);
        updated["expiresAt"] = json!(expires_at);
        if let Some(rotated) = reply["refreshToken"].as_str().filter(|t| !t.is_empty()) {
            updated["refreshToken"] = json!(rotated);
        }
        let text = serde_json::to_vec(&updated).expect("JSON serialises");
        files::replace_private(&self.cache_file, text)
            .await
            .map_err(|e| format!("cannot write {} ({e})", self.cache_file.display()))?;
        Ok(access.to_string())
    }

    /// Sends an unsigned request and reads its JSON answer; an error never
    /// quotes the body (it may hold a token).
    async fn json(
        &self,
        request: reqwest::RequestBuilder,
        operation: &str,
    ) -> Result<Value, String> {
        let response = request
            .send()
            .await
            .map_err(|e| format!("{operation}: no answer ({})", innermost_cause(&e)))?;
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = read_body(response).await.map_err(|e| match e {
            BodyError::TooLarge => format!("{operation}: the answer is too large"),
            BodyError::Transport(e) => format!("{operation}: no answer ({})", innermost_cause(&e)),
        })?;
        if !(200..300).contains(&status) {
            return Err(decode_error(operation, status, error_type.as_deref(), &body).to_string());
        }
        serde_json::from_slice(&body).map_err(|e| {
            format!(
                "{operation}: the answer is not JSON ({})",
                crate::core::json_breaks(&e)
            )
        })
    }

    async fn fetch(&self) -> Result<Credentials, Error> {
        let token = self.token().await?;
        let mut url = self
            .portal
            .join("federation/credentials")
            .map_err(|e| self.error(format!("bad endpoint: {e}")))?;
        url.query_pairs_mut()
            .append_pair("role_name", &self.settings.role_name)
            .append_pair("account_id", &self.settings.account_id);
        let mut header = reqwest::header::HeaderValue::from_str(&token)
            .map_err(|_| self.error("the cached token is not a valid header value".into()))?;
        header.set_sensitive(true);
        let request = self.http.get(url).header("x-amz-sso_bearer_token", header);
        let reply = self
            .json(request, "GetRoleCredentials")
            .await
            .map_err(|why| {
                let login = if why.contains("Unauthorized") || why.contains("(HTTP 401)") {
                    format!("; run `{}`", self.login_command())
                } else {
                    String::new()
                };
                self.error(format!("{why}{login}"))
            })?;
        let role = &reply["roleCredentials"];
        let field = |key: &str| role[key].as_str().filter(|v| !v.is_empty());
        let (Some(key), Some(secret)) = (field("accessKeyId"), field("secretAccessKey")) else {
            return Err(self.error("the portal's answer has no roleCredentials".into()));
        };
        let expiry = match &role["expiration"] {
            Value::Null => None,
            expiration => Some(
                expiration
                    .as_u64()
                    .filter(|ms| *ms <= MAX_EXPIRATION_MS)
                    .map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
                    .ok_or_else(|| {
                        self.error("GetRoleCredentials: the answer's expiration is not a time in milliseconds since 1970".into())
                    })?,
            ),
        };
        Ok(Credentials::new(
            key,
            secret,
            field("sessionToken").map(str::to_string),
            expiry,
            "sso",
        ))
    }
}

impl ProvideCredentials for Sso {
    fn provide(&self) -> CredentialsFuture<'_> {
        Box::pin(self.fetch())
    }
}

/// Lower-case hex SHA-1, as the AWS CLI names its token cache files.
fn sha1_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `2026-11-28T23:59:59Z`; `None` for a time that has no such form (before
/// 1970 here, or after 9999).
fn iso8601(time: SystemTime) -> Option<String> {
    use aws_smithy_types::date_time::{DateTime, Format};
    let seconds = time.duration_since(UNIX_EPOCH).ok()?.as_secs();
    DateTime::from_secs(i64::try_from(seconds).ok()?)
        .fmt(Format::DateTime)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_files_are_named_like_the_aws_clis() {
        // The SHA-1 test vector of FIPS 180.
        assert_eq!(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            iso8601(UNIX_EPOCH + Duration::from_secs(1_700_000_000)).as_deref(),
            Some("2023-11-14T22:13:20Z")
        );
    }

    #[test]
    fn times_without_a_timestamp_form_are_none_never_empty() {
        let latest = UNIX_EPOCH + Duration::from_millis(MAX_EXPIRATION_MS);
        assert_eq!(iso8601(latest).as_deref(), Some("9999-12-31T23:59:59Z"));
        assert_eq!(iso8601(latest + Duration::from_secs(1)), None);
        assert_eq!(iso8601(UNIX_EPOCH - Duration::from_secs(1)), None);
        // The longest token lifetime stays writable for decades to come.
        let in_2100 = UNIX_EPOCH + Duration::from_secs(4_102_444_800);
        assert!(iso8601(in_2100 + Duration::from_secs(MAX_EXPIRES_IN)).is_some());
    }
}
