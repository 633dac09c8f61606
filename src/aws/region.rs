//! The AWS region and the ECS endpoint a run talks to.

use crate::error::{exit, Error};

/// The region: `-r`, else `AWS_REGION`, else `AWS_DEFAULT_REGION`.
pub fn resolve(flag: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Error> {
    let region = flag
        .map(str::to_string)
        .or_else(|| env("AWS_REGION").filter(|r| !r.is_empty()))
        .or_else(|| env("AWS_DEFAULT_REGION").filter(|r| !r.is_empty()))
        .ok_or_else(|| {
            Error::aws("no AWS region given. Tried, in order: the -r/--region flag; the environment variables AWS_REGION and AWS_DEFAULT_REGION. Set one of them, e.g. -r us-east-1.")
        })?;
    let valid = !region.is_empty()
        && region.len() <= 32
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(Error::usage(
            exit::USAGE,
            format!("'{region}' is not an AWS region name (like us-east-1 or eu-central-2)."),
        ));
    }
    Ok(region)
}

/// The endpoint of `service` (e.g. `ecs`): the flag, else
/// `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`, else the regional
/// default. Plain `http://` is allowed only on loopback, so that credentials
/// and request bodies never cross a network unencrypted.
pub fn endpoint(
    service: &str,
    flag: Option<&str>,
    region: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<reqwest::Url, Error> {
    let specific = format!("AWS_ENDPOINT_URL_{}", service.to_ascii_uppercase());
    let (text, origin) = match flag {
        Some(url) => (url.to_string(), "--endpoint-url".to_string()),
        None => match env(&specific).filter(|u| !u.is_empty()) {
            Some(url) => (url, specific),
            None => match env("AWS_ENDPOINT_URL").filter(|u| !u.is_empty()) {
                Some(url) => (url, "AWS_ENDPOINT_URL".to_string()),
                None => {
                    let suffix = if region.starts_with("cn-") {
                        "amazonaws.com.cn"
                    } else {
                        "amazonaws.com"
                    };
                    let url = format!("https://{service}.{region}.{suffix}/");
                    return reqwest::Url::parse(&url).map_err(|e| {
                        Error::usage(exit::USAGE, format!("bad endpoint {url}: {e}"))
                    });
                }
            },
        },
    };
    let url = reqwest::Url::parse(&text)
        .map_err(|e| Error::usage(exit::USAGE, format!("{origin} '{text}' is not a URL: {e}")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
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

fn is_loopback(url: &reqwest::Url) -> bool {
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
        assert_eq!(resolve(Some("ap-south-1"), &env).unwrap(), "ap-south-1");
        assert_eq!(resolve(None, &env).unwrap(), "eu-west-1");
        assert_eq!(
            resolve(None, &env_of(&[("AWS_DEFAULT_REGION", "us-west-2")])).unwrap(),
            "us-west-2"
        );
        let err = resolve(None, &env_of(&[])).unwrap_err();
        assert_eq!(err.exit_code(), exit::AWS);
        assert!(err.to_string().contains("AWS_DEFAULT_REGION"));
        assert_eq!(
            resolve(Some("us-east-1/x"), &env_of(&[]))
                .unwrap_err()
                .exit_code(),
            exit::USAGE
        );
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
