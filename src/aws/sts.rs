//! AWS STS: `AssumeRole` (signed) and `AssumeRoleWithWebIdentity` (unsigned),
//! in the Query protocol with XML replies.

use aws_credential_types::Credentials;

use super::client::{AwsError, Client};
use super::http::xml_element;
use super::identity::parse_timestamp;

const VERSION: &str = "2011-06-15";
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// What to ask of `AssumeRole`.
pub struct AssumeRole<'a> {
    pub role_arn: &'a str,
    pub session_name: &'a str,
    pub external_id: Option<&'a str>,
    pub duration_seconds: Option<u32>,
}

/// Temporary credentials for `request.role_arn`; `client` must sign with the
/// credentials that are allowed to assume it.
pub async fn assume_role(
    client: &Client,
    request: &AssumeRole<'_>,
) -> Result<Credentials, AwsError> {
    let duration = request.duration_seconds.map(|d| d.to_string());
    let mut form = vec![
        ("Action", "AssumeRole"),
        ("Version", VERSION),
        ("RoleArn", request.role_arn),
        ("RoleSessionName", request.session_name),
    ];
    if let Some(external_id) = request.external_id {
        form.push(("ExternalId", external_id));
    }
    if let Some(duration) = &duration {
        form.push(("DurationSeconds", duration));
    }
    call(client, "AssumeRole", &form).await
}

/// Temporary credentials for `role_arn` in exchange for an OIDC `token`;
/// `client` must be unsigned.
pub async fn assume_role_with_web_identity(
    client: &Client,
    role_arn: &str,
    session_name: &str,
    token: &str,
) -> Result<Credentials, AwsError> {
    let form = [
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", VERSION),
        ("RoleArn", role_arn),
        ("RoleSessionName", session_name),
        ("WebIdentityToken", token),
    ];
    call(client, "AssumeRoleWithWebIdentity", &form).await
}

async fn call(
    client: &Client,
    action: &str,
    form: &[(&str, &str)],
) -> Result<Credentials, AwsError> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    client
        .send(
            action,
            &[("content-type", FORM)],
            body.as_bytes(),
            true,
            |reply| parse_credentials(&String::from_utf8_lossy(reply)),
        )
        .await
}

/// The `<Credentials>` of an AssumeRole* reply.
fn parse_credentials(xml: &str) -> Result<Credentials, String> {
    let field =
        |name: &str| xml_element(xml, name).ok_or_else(|| format!("the STS reply has no <{name}>"));
    let expiration = field("Expiration")?;
    Ok(Credentials::new(
        unescape(&field("AccessKeyId")?),
        unescape(&field("SecretAccessKey")?),
        Some(unescape(&field("SessionToken")?)),
        Some(parse_timestamp(&expiration)?),
        "sts",
    ))
}

/// The five predefined XML entities (a token may contain none, but be safe).
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn parses_assume_role_replies() {
        let xml = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>
      <SecretAccessKey>secret/with+chars</SecretAccessKey>
      <SessionToken>token&amp;more</SessionToken>
      <Expiration>2023-11-14T22:13:20Z</Expiration>
    </Credentials>
  </AssumeRoleResult>
</AssumeRoleResponse>"#;
        let creds = parse_credentials(xml).unwrap();
        assert_eq!(creds.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(creds.secret_access_key(), "secret/with+chars");
        assert_eq!(creds.session_token(), Some("token&more"));
        assert_eq!(
            creds.expiry(),
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert!(parse_credentials("<x/>")
            .unwrap_err()
            .contains("<Expiration>"));
    }
}
