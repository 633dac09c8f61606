//! Who signs: the credentials a request is signed with, what hands them
//! out ([`ProvideCredentials`], asked before every signed request), and
//! how an answer carrying them (JSON or an ISO 8601 expiry) is read. The
//! client and every credential source share these.

use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

pub use aws_credential_types::Credentials;

use crate::error::Error;

/// A future returned by a credentials source.
pub type CredentialsFuture<'a> = Pin<Box<dyn Future<Output = Result<Credentials, Error>> + 'a>>;

/// Something that can hand out credentials for the next request.
pub trait ProvideCredentials {
    /// Credentials valid for the next request.
    fn provide(&self) -> CredentialsFuture<'_>;
}

/// Credentials from the JSON that IMDS, container endpoints and
/// `credential_process` print (`AccessKeyId`, `SecretAccessKey`,
/// `Token`/`SessionToken`, `Expiration`).
pub fn credentials_from_json(
    json: &serde_json::Value,
    source: &'static str,
) -> Result<Credentials, String> {
    let field = |name: &str| json[name].as_str().filter(|v| !v.is_empty());
    let key = field("AccessKeyId").ok_or("the reply has no AccessKeyId")?;
    let secret = field("SecretAccessKey").ok_or("the reply has no SecretAccessKey")?;
    let token = field("Token")
        .or_else(|| field("SessionToken"))
        .map(str::to_string);
    // A time that is not a string is no answer: taken for "never expires",
    // it would keep keys in use long after they stopped working.
    let expiry = match &json["Expiration"] {
        serde_json::Value::Null => None,
        serde_json::Value::String(text) if text.is_empty() => None,
        serde_json::Value::String(text) => Some(parse_timestamp(text)?),
        _ => return Err("the reply's Expiration is not an ISO 8601 timestamp".into()),
    };
    Ok(Credentials::new(key, secret, token, expiry, source))
}

/// An ISO 8601 timestamp as AWS writes them (`2026-11-27T04:00:00Z`).
pub fn parse_timestamp(text: &str) -> Result<SystemTime, String> {
    use aws_smithy_types::date_time::{DateTime, Format};
    DateTime::from_str(text.trim(), Format::DateTime)
        .ok()
        .and_then(|t| SystemTime::try_from(t).ok())
        .ok_or_else(|| format!("'{text}' is not an ISO 8601 timestamp"))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn timestamps_with_and_without_fractions() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_timestamp("2023-11-14T22:13:20Z").unwrap(), t);
        assert_eq!(parse_timestamp("2023-11-14T22:13:20.000Z").unwrap(), t);
        assert!(parse_timestamp("tomorrow").is_err());
    }
}
