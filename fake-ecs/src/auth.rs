//! The shape check of a SigV4-signed request (the signature itself is not verified).

use wiremock::http::HeaderMap;

use crate::account::REGION;

/// Why a request's signing headers were refused.
#[derive(Debug, PartialEq)]
pub(crate) enum AuthError {
    /// Missing or malformed `Authorization` / `x-amz-date` (403 IncompleteSignatureException).
    Incomplete(String),
    /// A well-formed credential scoped to another region or service (403 InvalidSignatureException).
    Invalid(String),
}

/// A header's value as text, if present and visible ASCII.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The access key id named by the `Authorization` header, read leniently (for recording).
pub(crate) fn access_key(headers: &HeaderMap) -> Option<String> {
    let value = header(headers, "authorization")?;
    let start = value.find("Credential=")? + "Credential=".len();
    let key = value[start..].split('/').next()?;
    Some(key.trim().to_string())
}

/// Check the SigV4 header shape: `AWS4-HMAC-SHA256 Credential=AKID/YYYYMMDD/REGION/SERVICE/aws4_request,
/// SignedHeaders=...;host;...;x-amz-date;..., Signature=<64 hex>` plus a matching `x-amz-date`,
/// where SERVICE is `signing_name` (`ecs` or `codedeploy`). Returns the access key id.
pub(crate) fn check(headers: &HeaderMap, signing_name: &str) -> Result<String, AuthError> {
    let incomplete = |m: &str| AuthError::Incomplete(m.to_string());
    let value = header(headers, "authorization")
        .ok_or_else(|| incomplete("Request is missing Authentication Token"))?;
    let params = value.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| {
        incomplete("Authorization header requires the AWS4-HMAC-SHA256 algorithm.")
    })?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in params.split(',').map(str::trim) {
        let (key, val) = part.split_once('=').ok_or_else(|| {
            AuthError::Incomplete(format!(
                "Authorization header requires each component to be of the form key=value: '{part}'."
            ))
        })?;
        match key {
            "Credential" => credential = Some(val),
            "SignedHeaders" => signed = Some(val),
            "Signature" => signature = Some(val),
            _ => {}
        }
    }
    let missing = |what: &str| {
        AuthError::Incomplete(format!(
            "Authorization header requires '{what}' parameter. Authorization={value}"
        ))
    };
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed = signed.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;

    let scope: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, terminator] = scope[..] else {
        return Err(incomplete(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term.",
        ));
    };
    if key.is_empty() || date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(incomplete("Credential has a malformed access key or date."));
    }
    if terminator != "aws4_request" {
        return Err(incomplete(
            "Credential should be scoped with a valid terminator: 'aws4_request'.",
        ));
    }
    let names: Vec<&str> = signed.split(';').collect();
    if names
        .iter()
        .any(|n| n.is_empty() || *n != n.to_ascii_lowercase())
    {
        return Err(incomplete(
            "SignedHeaders must be lowercase header names separated by ';'.",
        ));
    }
    for required in ["host", "x-amz-date"] {
        if !names.contains(&required) {
            return Err(AuthError::Incomplete(format!(
                "SignedHeaders does not include '{required}'."
            )));
        }
    }
    if signature.len() != 64
        || !signature
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(incomplete(
            "Signature must be 64 lowercase hexadecimal characters.",
        ));
    }
    let amz_date = header(headers, "x-amz-date").ok_or_else(|| {
        incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    })?;
    let well_formed = amz_date.len() == 16
        && amz_date.bytes().enumerate().all(|(i, b)| match i {
            8 => b == b'T',
            15 => b == b'Z',
            _ => b.is_ascii_digit(),
        });
    if !well_formed {
        return Err(AuthError::Incomplete(format!(
            "X-Amz-Date must be in the ISO8601 basic format YYYYMMDD'T'HHMMSS'Z', got '{amz_date}'."
        )));
    }
    if &amz_date[..8] != date {
        return Err(AuthError::Incomplete(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{date}' != '{}'.",
            &amz_date[..8]
        )));
    }
    if region != REGION {
        return Err(AuthError::Invalid(format!(
            "Credential should be scoped to a valid region. (got '{region}', this fake serves '{REGION}')"
        )));
    }
    if service != signing_name {
        return Err(AuthError::Invalid(format!(
            "Credential should be scoped to correct service: '{signing_name}'. (got '{service}')"
        )));
    }
    Ok(key.to_string())
}
