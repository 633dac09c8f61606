//! The thin AWS layer: signing, credentials, region and endpoints, STS, and
//! one client that every call goes through.

/// One JSON-1.1 API: checked answers, cleaned answers, the paginator.
pub mod api;
/// One signed (or unsigned) POST with retries and error decoding.
pub mod client;
/// Typed CodeDeploy operations.
pub mod codedeploy;
/// The credential chain.
pub mod credentials;
/// Typed ECR operations: does an image exist.
pub mod ecr;
/// Typed ECS operations.
pub mod ecs;
/// What the client and the credential sources share of HTTP.
pub mod http;
/// Credentials, and what hands them out.
pub mod identity;
/// Typed CloudWatch Logs operations: a log's last lines, whether a group exists.
pub mod logs;
/// ECS's token buckets, kept on our side: every ECS call paced within them.
pub mod pace;
/// Region and endpoints.
pub mod region;
mod sign;
/// AssumeRole and AssumeRoleWithWebIdentity.
pub mod sts;

use std::cell::OnceCell;
use std::future::Future;

use futures_util::stream::{self, Stream, StreamExt};
use std::rc::Rc;

use self::client::{Client, Endpoint, Route};
use self::credentials::{Context, Imds, ProfileFiles};
use self::identity::ProvideCredentials;
use crate::error::{exit, Error};
use crate::request::AwsOptions;

/// How many calls a run has in flight at once: enough to hide the round
/// trips of a many-service run, few enough for one small connection pool
/// (ECS's buckets, not this, set the pace: [`pace`]).
pub const IN_FLIGHT: usize = 8;

/// Runs `call` on each item, at most [`IN_FLIGHT`] at once, and returns the
/// results in the items' order, so that what a run prints of them does not
/// depend on which answer came first.
pub async fn in_parallel<I, T, F>(items: I, call: impl FnMut(I::Item) -> F) -> Vec<T>
where
    I: IntoIterator,
    F: Future<Output = T>,
{
    in_parallel_stream(items, call).collect().await
}

/// [`in_parallel`], its results one at a time in the items' order as they
/// come, so that a long phase of a run can say how it goes.
pub fn in_parallel_stream<I, T, F>(
    items: I,
    call: impl FnMut(I::Item) -> F,
) -> impl Stream<Item = T>
where
    I: IntoIterator,
    F: Future<Output = T>,
{
    stream::iter(items).map(call).buffered(IN_FLIGHT)
}

/// What a run talks to: ECS and CodeDeploy, in one region, with one
/// credentials provider (so temporary credentials are fetched once for
/// all), and the services it reaches only sometimes, in whatever region
/// they are.
pub struct Connection {
    pub ecs: Client,
    pub codedeploy: Client,
    pub region: String,
    pub others: Clients,
}

/// Makes clients for the services a run reaches only now and then —
/// CloudWatch Logs (a failed task's log), ECR (does the image exist) — in
/// the region the log group or the registry is in, with the run's
/// credentials. Their endpoint overrides were checked when the run
/// connected, before any network call.
pub struct Clients {
    credentials: Rc<dyn ProvideCredentials>,
    overrides: Vec<(&'static str, Option<reqwest::Url>)>,
    extra_roots: Vec<reqwest::Certificate>,
    direct: OnceCell<reqwest::Client>,
    proxied: OnceCell<reqwest::Client>,
    verbose: bool,
}

/// The services [`Clients`] makes clients for, by signing name.
const OCCASIONAL_SERVICES: [&str; 2] = ["logs", "ecr"];

impl Clients {
    /// A client of `service` (`logs` or `ecr`) in `region`.
    pub fn client(&self, service: &'static str, region: &str) -> Result<Client, Error> {
        let region = region::validate(region.to_string())?;
        let url = match self.overrides.iter().find(|(s, _)| *s == service) {
            Some((_, Some(url))) => url.clone(),
            _ => region::default_endpoint(service, &region)?,
        };
        let (cell, route) = if url.scheme() == "http" {
            (&self.direct, Route::Direct)
        } else {
            (&self.proxied, Route::Proxied)
        };
        let http = match cell.get() {
            Some(http) => http.clone(),
            None => {
                let http = client::http_client(&self.extra_roots, route)
                    .map_err(|e| Error::usage(exit::USAGE, e))?;
                cell.get_or_init(|| http).clone()
            }
        };
        let endpoint = Endpoint {
            signing_name: service,
            url,
            region,
        };
        Ok(Client::new(
            http,
            endpoint,
            Some(self.credentials.clone()),
            self.verbose,
        ))
    }
}

/// Resolves region, endpoints and credentials (in that order, so that a bad
/// flag is reported before any network call) and returns signed clients for
/// ECS (whose endpoint `--endpoint-url` sets) and CodeDeploy.
pub async fn connect(
    options: &AwsOptions,
    env: &dyn Fn(&str) -> Option<String>,
    verbose: bool,
) -> Result<Connection, Error> {
    let profiles = ProfileFiles::load(options.profile.as_deref(), env).await?;
    let extra_roots = client::extra_roots(env)
        .await
        .map_err(|e| Error::usage(exit::USAGE, e))?;
    let ecs_override = region::endpoint_override("ecs", options.endpoint_url.as_deref(), env)?;
    let codedeploy_override = region::endpoint_override("codedeploy", None, env)?;
    let sts_override = region::endpoint_override("sts", None, env)?;
    let overrides = OCCASIONAL_SERVICES
        .into_iter()
        .map(|service| Ok((service, region::endpoint_override(service, None, env)?)))
        .collect::<Result<Vec<_>, Error>>()?;
    // Plain-http (loopback) endpoints go direct; each endpoint its own way.
    let http_for = |url: &Option<reqwest::Url>| {
        let route = match url {
            Some(url) if url.scheme() == "http" => Route::Direct,
            _ => Route::Proxied,
        };
        client::http_client(&extra_roots, route).map_err(|e| Error::usage(exit::USAGE, e))
    };
    let ecs_http = http_for(&ecs_override)?;
    // ECS's HTTP client serves the occasional services on its route too, so
    // that an endpoint on the same host (a local fake) reuses its connection.
    let ecs_direct = ecs_override
        .as_ref()
        .is_some_and(|url| url.scheme() == "http");
    let (direct, proxied) = if ecs_direct {
        (OnceCell::from(ecs_http.clone()), OnceCell::new())
    } else {
        (OnceCell::new(), OnceCell::from(ecs_http.clone()))
    };
    let codedeploy_http = http_for(&codedeploy_override)?;
    let sts_http = http_for(&sts_override)?;
    let metadata_http = client::http_client(&extra_roots, Route::Metadata)
        .map_err(|e| Error::usage(exit::USAGE, e))?;
    let region = match region::from_settings(options.region.as_deref(), env, profiles.region())? {
        Some(region) => region,
        None => region_from_instance_metadata(env, &profiles, metadata_http.clone()).await?,
    };
    let endpoint = |service: &'static str, url: Option<reqwest::Url>| -> Result<Endpoint, Error> {
        Ok(Endpoint {
            signing_name: service,
            url: match url {
                Some(url) => url,
                None => region::default_endpoint(service, &region)?,
            },
            region: region.clone(),
        })
    };
    let ecs_endpoint = endpoint("ecs", ecs_override)?;
    let codedeploy_endpoint = endpoint("codedeploy", codedeploy_override)?;
    let ctx = Context {
        env,
        profiles: &profiles,
        region: &region,
        sts_http,
        metadata_http,
        extra_roots: &extra_roots,
        verbose,
    };
    let credentials = credentials::resolve(options, &ctx).await?;
    Ok(Connection {
        ecs: Client::new(ecs_http, ecs_endpoint, Some(credentials.clone()), verbose).paced(),
        codedeploy: Client::new(
            codedeploy_http,
            codedeploy_endpoint,
            Some(credentials.clone()),
            verbose,
        ),
        region,
        others: Clients {
            credentials,
            overrides,
            extra_roots,
            direct,
            proxied,
            verbose,
        },
    })
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
