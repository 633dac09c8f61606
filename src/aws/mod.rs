//! The thin AWS layer: signing, credentials, region and endpoints, STS, and
//! one client that every call goes through.

/// One signed (or unsigned) POST with retries and error decoding.
pub mod client;
/// The credential chain.
pub mod credentials;
/// Typed ECS operations.
pub mod ecs;
/// Region and endpoints.
pub mod region;
mod sign;
/// AssumeRole and AssumeRoleWithWebIdentity.
pub mod sts;

use self::client::{Client, Endpoint, Route};
use self::credentials::{Context, Imds, ProfileFiles};
use crate::cli::AwsOptions;
use crate::error::{exit, Error};

/// Resolves region, endpoint and credentials (in that order, so that a bad
/// flag is reported before any network call) and returns a signed client for
/// `service` (`ecs`) with the region it talks to.
pub async fn connect(
    service: &'static str,
    options: &AwsOptions,
    env: &dyn Fn(&str) -> Option<String>,
    verbose: bool,
) -> Result<(Client, String), Error> {
    let profiles = ProfileFiles::load(options.profile.as_deref(), env)?;
    let endpoint_override =
        region::endpoint_override(service, options.endpoint_url.as_deref(), env)?;
    let sts_override = region::endpoint_override("sts", None, env)?;
    // Plain-http (loopback) endpoints go direct; each endpoint its own way.
    let route_of = |url: &Option<reqwest::Url>| match url {
        Some(url) if url.scheme() == "http" => Route::Direct,
        _ => Route::Proxied,
    };
    let http = |route| client::http_client(env, route).map_err(|e| Error::usage(exit::USAGE, e));
    let service_http = http(route_of(&endpoint_override))?;
    let sts_http = http(route_of(&sts_override))?;
    let metadata_http = http(Route::Metadata)?;
    let region = match region::from_settings(options.region.as_deref(), env, profiles.region())? {
        Some(region) => region,
        None => region_from_instance_metadata(env, &profiles, metadata_http.clone()).await?,
    };
    let url = match endpoint_override {
        Some(url) => url,
        None => region::default_endpoint(service, &region)?,
    };
    let ctx = Context {
        env,
        profiles: &profiles,
        region: &region,
        sts_http,
        metadata_http,
        verbose,
    };
    let credentials = credentials::resolve(options, &ctx).await?;
    let endpoint = Endpoint {
        signing_name: service,
        url,
        region: region.clone(),
    };
    Ok((
        Client::new(service_http, endpoint, Some(credentials), verbose),
        region,
    ))
}

async fn region_from_instance_metadata(
    env: &dyn Fn(&str) -> Option<String>,
    profiles: &ProfileFiles,
    http: reqwest::Client,
) -> Result<String, Error> {
    let tried = format!(
        "no AWS region given. Tried, in order: the -r/--region flag; AWS_REGION; AWS_DEFAULT_REGION; the region of profile '{}'; instance metadata",
        profiles.name
    );
    let hint = "Set one of them, e.g. -r us-east-1.";
    match Imds::from_env(env, http) {
        None => Err(Error::aws(format!(
            "{tried} (disabled by AWS_EC2_METADATA_DISABLED). {hint}"
        ))),
        Some(imds) => match imds.region().await {
            Ok(region) => region::validate(region),
            Err(e) => Err(Error::aws(format!("{tried} ({e}). {hint}"))),
        },
    }
}
