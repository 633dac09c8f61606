//! SigV4 glue over `aws-sigv4`: the headers that sign one request.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

/// What to sign: a request about to be sent.
pub struct Unsigned<'a> {
    pub method: &'a str,
    pub url: &'a str,
    /// Headers that must be covered by the signature (e.g. `x-amz-target`).
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// The headers to add to `request` (`authorization`, `x-amz-date`, and
/// `x-amz-security-token` for temporary credentials), signed for `service`
/// in `region` at `time`.
pub fn signing_headers(
    request: &Unsigned<'_>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("cannot sign the request: {e}"))?
        .into();
    let signable = SignableRequest::new(
        request.method,
        request.url,
        request.headers.iter().copied(),
        SignableBody::Bytes(request.body),
    )
    .map_err(|e| format!("cannot sign the request: {e}"))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| format!("cannot sign the request: {e}"))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn signed(secret: &str, token: Option<&str>) -> Vec<(String, String)> {
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            secret,
            token.map(str::to_string),
            None,
            "test",
        );
        let request = Unsigned {
            method: "POST",
            url: "https://ecs.us-east-1.amazonaws.com/",
            headers: &[
                ("content-type", "application/x-amz-json-1.1"),
                (
                    "x-amz-target",
                    "AmazonEC2ContainerServiceV20141113.DescribeServices",
                ),
                ("host", "ecs.us-east-1.amazonaws.com"),
            ],
            body: b"{}",
        };
        let time = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        signing_headers(&request, &credentials, "us-east-1", "ecs", time).unwrap()
    }

    fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn authorization_has_the_sigv4_shape() {
        let headers = signed("secret", None);
        let auth = header(&headers, "authorization").unwrap();
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/ecs/aws4_request, SignedHeaders="
        ), "{auth}");
        assert!(auth.contains("x-amz-target"), "{auth}");
        assert_eq!(header(&headers, "x-amz-date"), Some("20231114T221320Z"));
        assert_eq!(header(&headers, "x-amz-security-token"), None);
        assert!(!auth.contains("secret"));
    }

    #[test]
    fn signature_depends_on_the_secret_and_carries_the_token() {
        let a = signed("secret-a", None);
        let b = signed("secret-b", Some("TOKEN"));
        assert_ne!(header(&a, "authorization"), header(&b, "authorization"));
        assert_eq!(header(&b, "x-amz-security-token"), Some("TOKEN"));
    }
}
