//! The AWS region and the endpoints a run talks to.

use crate::error::{exit, Error};

/// The region from settings: `-r`, else `AWS_REGION`, else
/// `AWS_DEFAULT_REGION`, else the profile's `region`; `None` when none is set
/// (the caller may still ask instance metadata).
pub fn from_settings(
    flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    profile_region: Option<String>,
) -> Result<Option<String>, Error> {
    let region = flag
        .map(str::to_string)
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or(profile_region);
    match region {
        Some(region) => validate(region).map(Some),
        None => Ok(None),
    }
}

/// Checks that a region name cannot bend an endpoint URL.
pub fn validate(region: String) -> Result<String, Error> {
    let valid = !region.is_empty()
        && region.len() <= 32
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(region)
    } else {
        Err(Error::usage(
            exit::USAGE,
            format!("'{region}' is not an AWS region name (like us-east-1 or eu-central-2)."),
        ))
    }
}

/// The endpoint of `service` (e.g. `ecs`): the flag, else
/// `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`, else the regional default.
pub fn endpoint(
    service: &str,
    flag: Option<&str>,
    region: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<reqwest::Url, Error> {
    match endpoint_override(service, flag, env)? {
        Some(url) => Ok(url),
        None => default_endpoint(service, region),
    }
}

/// `https://{host}.{region}.amazonaws.com/` (`.com.cn` in China), where the
/// host is the service's name, except ECR's API (`api.ecr`).
pub fn default_endpoint(service: &str, region: &str) -> Result<reqwest::Url, Error> {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    let host = match service {
        "ecr" => "api.ecr",
        other => other,
    };
    let url = format!("https://{host}.{region}.{suffix}/");
    reqwest::Url::parse(&url)
        .map_err(|e| Error::usage(exit::USAGE, format!("bad endpoint {url}: {e}")))
}

/// An endpoint set by the flag or the environment, checked: plain `http://`
/// is allowed only on loopback, so that credentials and request bodies never
/// cross a network unencrypted.
pub fn endpoint_override(
    service: &str,
    flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<reqwest::Url>, Error> {
    // The SDKs name the variable after the service's id, which for
    // CloudWatch Logs is not its signing name.
    let id = match service {
        "logs" => "CLOUDWATCH_LOGS".to_string(),
        other => other.to_ascii_uppercase(),
    };
    let specific = format!("AWS_ENDPOINT_URL_{id}");
    let (text, origin) = match (flag, env(&specific), env("AWS_ENDPOINT_URL")) {
        (Some(url), _, _) => (url.to_string(), "--endpoint-url".to_string()),
        (None, Some(url), _) => (url, specific),
        (None, None, Some(url)) => (url, "AWS_ENDPOINT_URL".to_string()),
        (None, None, None) => return Ok(None),
    };
    let url = reqwest::Url::parse(&text)
        .map_err(|e| Error::usage(exit::USAGE, format!("{origin} '{text}' is not a URL: {e}")))?;
    match url.scheme() {
        "https" => Ok(Some(url)),
        "http" if is_loopback(&url) => Ok(Some(url)),
        "http" => Err(Error::usage(
            exit::USAGE,
            format!("{origin} '{text}' uses plain http:// on a non-loopback host; use https:// (http:// is allowed only for 127.0.0.1, ::1 and localhost)."),
        )),
        other => Err(Error::usage(
            exit::USAGE,
            format!("{origin} '{text}' has scheme '{other}'; use https://"),
        )),
    }
}

/// Whether `url`'s host is this machine (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn region_precedence() {
        let env = env_of(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-west-2"),
        ]);
        let profile = || Some("sa-east-1".to_string());
        let region = |flag, env: &dyn Fn(&str) -> Option<String>, profile| {
            from_settings(flag, env, profile).unwrap()
        };
        assert_eq!(
            region(Some("ap-south-1"), &env, profile()).as_deref(),
            Some("ap-south-1")
        );
        assert_eq!(region(None, &env, profile()).as_deref(), Some("eu-west-1"));
        let default_only = env_of(&[("AWS_DEFAULT_REGION", "us-west-2")]);
        assert_eq!(
            region(None, &default_only, profile()).as_deref(),
            Some("us-west-2")
        );
        assert_eq!(
            region(None, &env_of(&[]), profile()).as_deref(),
            Some("sa-east-1")
        );
        assert_eq!(region(None, &env_of(&[]), None), None);
        let err = from_settings(Some("us-east-1/x"), &env_of(&[]), None).unwrap_err();
        assert_eq!(err.exit_code(), exit::USAGE);
    }

    #[test]
    fn endpoint_precedence_and_defaults() {
        let none = env_of(&[]);
        assert_eq!(
            endpoint("ecs", None, "us-east-1", &none).unwrap().as_str(),
            "https://ecs.us-east-1.amazonaws.com/"
        );
        assert_eq!(
            endpoint("ecs", None, "cn-north-1", &none).unwrap().as_str(),
            "https://ecs.cn-north-1.amazonaws.com.cn/"
        );
        let env = env_of(&[
            ("AWS_ENDPOINT_URL", "https://general.example"),
            ("AWS_ENDPOINT_URL_ECS", "https://ecs.example"),
        ]);
        assert_eq!(
            endpoint("ecs", None, "us-east-1", &env).unwrap().as_str(),
            "https://ecs.example/"
        );
        assert_eq!(
            endpoint("sts", None, "us-east-1", &env).unwrap().as_str(),
            "https://general.example/"
        );
        assert_eq!(
            endpoint("ecs", Some("http://127.0.0.1:4566"), "us-east-1", &env)
                .unwrap()
                .as_str(),
            "http://127.0.0.1:4566/"
        );
    }

    #[test]
    fn logs_and_ecr_have_their_own_names() {
        let none = env_of(&[]);
        assert_eq!(
            endpoint("ecr", None, "eu-west-1", &none).unwrap().as_str(),
            "https://api.ecr.eu-west-1.amazonaws.com/"
        );
        assert_eq!(
            endpoint("logs", None, "cn-north-1", &none)
                .unwrap()
                .as_str(),
            "https://logs.cn-north-1.amazonaws.com.cn/"
        );
        let env = env_of(&[
            ("AWS_ENDPOINT_URL_LOGS", "https://wrong.example"),
            ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "https://logs.example"),
            ("AWS_ENDPOINT_URL_ECR", "https://ecr.example"),
        ]);
        assert_eq!(
            endpoint("logs", None, "us-east-1", &env).unwrap().as_str(),
            "https://logs.example/"
        );
        assert_eq!(
            endpoint("ecr", None, "us-east-1", &env).unwrap().as_str(),
            "https://ecr.example/"
        );
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let none = env_of(&[]);
        for ok in ["http://localhost:1", "http://127.0.0.2:8", "http://[::1]:9"] {
            assert!(
                endpoint("ecs", Some(ok), "us-east-1", &none).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://10.0.0.1:4566",
            "http://example.com",
            "ftp://127.0.0.1",
            "not a url",
        ] {
            let err = endpoint("ecs", Some(bad), "us-east-1", &none).unwrap_err();
            assert_eq!(err.exit_code(), exit::USAGE, "{bad}");
        }
    }
}
