//! One signed AWS JSON-1.1 POST, with retries, timeouts and error decoding
//! (design §3). Every AWS call of the tool goes through [`Client::send`].

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::http::{innermost_cause, read_body, xml_element, BodyError, MAX_REPLY_BYTES};
use super::identity::ProvideCredentials;
use super::pace::Pacer;
use super::sign::{signing_headers, Unsigned};
use crate::error::Error;
use crate::files;
use crate::output::safe::{self, Stream};

const USER_AGENT: &str = concat!("ecs-deploy/", env!("CARGO_PKG_VERSION"));
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Metadata endpoints answer within a second or are not there.
const METADATA_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Attempts per call, first one included ("standard" retry mode uses 3; a
/// deploy that has already registered a revision is worth a little more patience).
const MAX_ATTEMPTS: u32 = 5;
const BACKOFF_BASE: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(20);

/// Codes that mean "slow down", retried with backoff.
const THROTTLING_CODES: [&str; 9] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "SlowDown",
];

/// One AWS service at one endpoint.
pub struct Endpoint {
    /// The SigV4 signing name, e.g. `ecs` or `sts`.
    pub signing_name: &'static str,
    pub url: reqwest::Url,
    pub region: String,
}

/// Sends requests to one endpoint, signed with what a credentials provider
/// hands out (or unsigned, for the few calls that must not be signed).
pub struct Client {
    http: reqwest::Client,
    endpoint: Endpoint,
    credentials: Option<Rc<dyn ProvideCredentials>>,
    verbose: bool,
    jitter: Cell<u64>,
    /// ECS's token buckets, for a client of ECS ([`Client::paced`]).
    pacer: Option<Pacer>,
}

/// Why an AWS call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsError {
    /// The service answered with an error (or with a status no AWS API
    /// answers with, such as a redirect).
    Service {
        operation: String,
        status: u16,
        code: String,
        message: String,
        /// Attempts made, the first one included.
        attempts: u32,
    },
    /// A successful status, but the answer does not say what the operation
    /// promises (not JSON, empty, fields missing): an error of that call.
    BadReply {
        operation: String,
        status: u16,
        problem: String,
        attempts: u32,
    },
    /// The service could not be reached or did not answer in time.
    Transport {
        operation: String,
        message: String,
        /// False for failures that a retry cannot mend (a certificate the
        /// trust store rejects, a request that cannot be built).
        retryable: bool,
        /// Whether the request may have reached the service (it was not a
        /// failure to connect).
        sent: bool,
        attempts: u32,
    },
    /// No credentials could be had for signing.
    Credentials(String),
}

impl AwsError {
    /// A successful answer that does not say what it should.
    pub fn bad_reply(operation: &str, problem: String) -> AwsError {
        AwsError::BadReply {
            operation: operation.to_string(),
            status: 200,
            problem,
            attempts: 1,
        }
    }

    /// The AWS error code, when the service gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Service { code, .. } if !code.is_empty() => Some(code),
            _ => None,
        }
    }

    /// Whether the service said "slow down": a throttling code, or 429.
    pub fn is_throttling(&self) -> bool {
        match self {
            AwsError::Service { status, code, .. } => {
                *status == 429 || THROTTLING_CODES.contains(&code.as_str())
            }
            _ => false,
        }
    }

    /// Whether the service refused the request itself (a 4xx that is not
    /// throttling: no permission, an operation this endpoint does not know,
    /// a bad parameter), as opposed to failing to answer it.
    pub fn is_refusal(&self) -> bool {
        match self {
            AwsError::Service { status, .. } => {
                (400..500).contains(status) && !self.is_throttling()
            }
            _ => false,
        }
    }

    /// Whether the service may have acted on the request although the call
    /// failed: the answer was lost on the way back, garbled, or a 5xx.
    pub fn may_have_acted(&self) -> bool {
        match self {
            AwsError::Service { status, .. } => *status >= 500,
            AwsError::BadReply { .. } => true,
            AwsError::Transport { sent, .. } => *sent,
            AwsError::Credentials(_) => false,
        }
    }

    fn set_attempts(&mut self, n: u32) {
        match self {
            AwsError::Service { attempts, .. }
            | AwsError::BadReply { attempts, .. }
            | AwsError::Transport { attempts, .. } => *attempts = n,
            AwsError::Credentials(_) => {}
        }
    }

    /// Whether another attempt may succeed. For a call that is not
    /// idempotent, only when the service cannot have acted on the first:
    /// it was throttled, or the request never left.
    fn is_retryable(&self, idempotent: bool) -> bool {
        if !idempotent {
            return match self {
                AwsError::Service { .. } => self.is_throttling(),
                AwsError::Transport {
                    retryable, sent, ..
                } => *retryable && !sent,
                AwsError::BadReply { .. } | AwsError::Credentials(_) => false,
            };
        }
        match self {
            AwsError::Service { status, code, .. } => {
                matches!(status, 500 | 502 | 503 | 504)
                    || self.is_throttling()
                    || code.starts_with("RequestTimeout")
            }
            AwsError::BadReply { .. } => true,
            AwsError::Transport { retryable, .. } => *retryable,
            AwsError::Credentials(_) => false,
        }
    }

    /// The short cause, for a retry line.
    fn cause(&self) -> String {
        match self {
            AwsError::Service {
                status,
                code,
                message,
                ..
            } => match (code.is_empty(), message.is_empty()) {
                (false, _) => format!("{code} (HTTP {status})"),
                (true, false) => format!("{message} (HTTP {status})"),
                (true, true) => format!("HTTP {status}"),
            },
            AwsError::BadReply { problem, .. } => problem.clone(),
            AwsError::Transport { message, .. } => message.clone(),
            AwsError::Credentials(message) => message.clone(),
        }
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let after = |attempts: u32| {
            if attempts > 1 {
                format!(" after {attempts} attempts")
            } else {
                String::new()
            }
        };
        match self {
            AwsError::Service {
                operation,
                status,
                code,
                message,
                attempts,
            } => {
                write!(f, "{operation} failed{}: ", after(*attempts))?;
                match (code.is_empty(), message.is_empty()) {
                    (false, false) => write!(f, "{code}: {message}")?,
                    (false, true) => write!(f, "{code}")?,
                    (true, false) => write!(f, "{message}")?,
                    (true, true) => write!(f, "no error details")?,
                }
                write!(f, " (HTTP {status})")
            }
            AwsError::BadReply {
                operation,
                status,
                problem,
                attempts,
            } => write!(
                f,
                "{operation} failed{}: {problem} (HTTP {status})",
                after(*attempts)
            ),
            AwsError::Transport {
                operation,
                message,
                attempts,
                ..
            } => {
                write!(f, "{operation} failed{}: {message}", after(*attempts))
            }
            AwsError::Credentials(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for AwsError {}

impl From<AwsError> for Error {
    /// An AWS failure as the error that ends a run (exit 2).
    fn from(error: AwsError) -> Error {
        Error::aws(error.to_string())
    }
}

/// Which requests an HTTP client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// AWS APIs: through `HTTPS_PROXY`/`ALL_PROXY` (minus `NO_PROXY`).
    Proxied,
    /// Plain-http (loopback) endpoints: never through a proxy, where signed
    /// requests and session tokens would travel in clear text.
    Direct,
    /// Instance metadata and container credentials: never through a proxy
    /// (it would reach the proxy's host, not ours), and answered within a
    /// second or not there.
    Metadata,
}

/// The most ecs-deploy reads of a CA bundle: several times a whole system
/// store (Mozilla's, every root in it, is about 220 KiB of PEM).
const MAX_CA_BUNDLE_BYTES: u64 = 4 << 20;

/// The root certificates of `AWS_CA_BUNDLE` (else `SSL_CERT_FILE`), which
/// every client adds to the bundled ones: read once, off the runtime thread.
pub async fn extra_roots(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<reqwest::Certificate>, String> {
    let bundle = ["AWS_CA_BUNDLE", "SSL_CERT_FILE"]
        .into_iter()
        .find_map(|name| env(name).map(|path| (name, path)));
    let Some((variable, path)) = bundle else {
        return Ok(Vec::new());
    };
    let pem = files::read(std::path::Path::new(&path), MAX_CA_BUNDLE_BYTES)
        .await
        .map_err(|e| format!("{variable} {path}: cannot read it ({e})"))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{variable} {path}: not a PEM certificate bundle ({e})"))?;
    if certificates.is_empty() {
        return Err(format!("{variable} {path}: no PEM certificate in it"));
    }
    Ok(certificates)
}

/// An HTTP client: rustls with the bundled Mozilla roots plus `extra_roots`
/// (see [`extra_roots`]), no redirects (AWS APIs do not
/// redirect; following one would re-send the body and the session token to
/// wherever it points), our User-Agent, and the timeouts and proxy rules of
/// its `route`.
pub fn http_client(
    extra_roots: &[reqwest::Certificate],
    route: Route,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none());
    builder = match route {
        Route::Proxied => builder
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT),
        Route::Direct => builder
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .no_proxy(),
        Route::Metadata => builder.connect_timeout(METADATA_CONNECT_TIMEOUT).no_proxy(),
    };
    for certificate in extra_roots {
        builder = builder.add_root_certificate(certificate.clone());
    }
    builder
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))
}

impl Client {
    /// A client for `endpoint`; `credentials` of `None` sends unsigned requests.
    pub fn new(
        http: reqwest::Client,
        endpoint: Endpoint,
        credentials: Option<Rc<dyn ProvideCredentials>>,
        verbose: bool,
    ) -> Client {
        let seed = random_u64();
        Client {
            http,
            endpoint,
            credentials,
            verbose,
            jitter: Cell::new(seed | 1),
            pacer: None,
        }
    }

    /// The client, its calls paced to stay within ECS's token buckets
    /// ([`Pacer`]): for the ECS endpoint.
    pub fn paced(self) -> Client {
        Client {
            pacer: Some(Pacer::default()),
            ..self
        }
    }

    /// Whether the endpoint is on this machine (a local fake, not AWS).
    pub fn is_loopback(&self) -> bool {
        super::region::is_loopback(&self.endpoint.url)
    }

    /// Calls a JSON-1.1 `operation` (`X-Amz-Target: {target_prefix}.{operation}`)
    /// and returns its answer, a JSON object for which `promises` (what the
    /// operation always answers with) finds nothing missing; see
    /// [`Client::send`] for `idempotent`.
    pub async fn call_json(
        &self,
        target_prefix: &str,
        operation: &str,
        input: &Value,
        idempotent: bool,
        promises: &dyn Fn(&Value) -> Result<(), String>,
    ) -> Result<Value, AwsError> {
        let body = serde_json::to_vec(input).expect("a JSON value serialises");
        let target = format!("{target_prefix}.{operation}");
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        let accept = |reply: &[u8]| {
            let value = json_object(reply)?;
            promises(&value)?;
            Ok(value)
        };
        self.send(operation, &headers, &body, idempotent, accept)
            .await
    }

    /// POSTs `body` with `headers`, retrying what is worth retrying, and
    /// returns what `accept` makes of the successful reply's body (it says
    /// what is wrong with an answer that does not hold what it should; such
    /// an answer is retried like a 5xx). A call that is not `idempotent`
    /// (registering a revision) is retried only when the service cannot have
    /// acted on it, so that a lost answer does not make two.
    pub async fn send<T>(
        &self,
        operation: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        idempotent: bool,
        accept: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<T, AwsError> {
        let mut attempt = 1;
        loop {
            let token = match &self.pacer {
                Some(pacer) => Some(pacer.take(operation).await),
                None => None,
            };
            let started = Instant::now();
            let answer = self.attempt(operation, headers, body).await;
            // Answered: a burst the token began refills from now.
            let paced = token.map_or(Duration::ZERO, |token| token.waited);
            let (status, result) = match answer {
                Ok((status, reply)) => (
                    status.to_string(),
                    accept(&reply).map_err(|problem| AwsError::BadReply {
                        operation: operation.to_string(),
                        status,
                        problem,
                        attempts: 1,
                    }),
                ),
                Err(e) => {
                    let status = match &e {
                        AwsError::Service { status, code, .. } => format!("{status} {code}"),
                        AwsError::BadReply { status, .. } => status.to_string(),
                        AwsError::Transport { .. } => "no answer".to_string(),
                        AwsError::Credentials(_) => "no credentials".to_string(),
                    };
                    (status, Err(e))
                }
            };
            if let (Some(pacer), Err(e)) = (&self.pacer, &result) {
                if e.is_throttling() {
                    pacer.throttled(operation);
                }
            }
            if self.verbose {
                let unreadable = if matches!(result, Err(AwsError::BadReply { .. })) {
                    " (unreadable answer)"
                } else {
                    ""
                };
                let paced = if paced.as_millis() > 0 {
                    format!(" (after {} ms within ECS's rate limits)", paced.as_millis())
                } else {
                    String::new()
                };
                safe::write_line(
                    Stream::Stderr,
                    &format!(
                        "[aws] {operation} {} attempt {attempt} {} ms{unreadable}{paced}",
                        status.trim_end(),
                        started.elapsed().as_millis()
                    ),
                );
            }
            match result {
                Err(e) if e.is_retryable(idempotent) && attempt < MAX_ATTEMPTS => {
                    let wait = self.backoff(attempt);
                    safe::write_line(
                        Stream::Stderr,
                        &format!(
                            "retrying {operation} in {:.1} s (attempt {} of {MAX_ATTEMPTS}): {}",
                            wait.as_secs_f64(),
                            attempt + 1,
                            e.cause()
                        ),
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(mut e) => {
                    e.set_attempts(attempt);
                    return Err(e);
                }
                Ok(value) => return Ok(value),
            }
        }
    }

    /// One request: the status and body of a 2xx answer, else the error.
    async fn attempt(
        &self,
        operation: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), AwsError> {
        let url = self.endpoint.url.as_str();
        let mut request = self.http.post(url).body(body.to_vec());
        for (name, value) in headers.iter().copied() {
            request = request.header(name, value);
        }
        if let Some(provider) = &self.credentials {
            let credentials = provider
                .provide()
                .await
                .map_err(|e| AwsError::Credentials(e.to_string()))?;
            let signed = signing_headers(
                &Unsigned {
                    method: "POST",
                    url,
                    headers,
                    body,
                },
                &credentials,
                &self.endpoint.region,
                self.endpoint.signing_name,
                SystemTime::now(),
            )
            .map_err(AwsError::Credentials)?;
            for (name, value) in &signed {
                request = request.header(name.as_str(), value.as_str());
            }
        }
        let transport = |e: reqwest::Error| {
            let cause = innermost_cause(&e);
            AwsError::Transport {
                operation: operation.to_string(),
                sent: !e.is_connect(),
                // A certificate the trust store rejects, or a proxy that
                // refuses the tunnel, fails the same way every time.
                retryable: !e.is_builder()
                    && !["certificate", "tunnel"]
                        .iter()
                        .any(|word| cause.to_lowercase().contains(word)),
                message: describe_transport_error(&e, url, &cause),
                attempts: 1,
            }
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let error_type = header("x-amzn-errortype");
        let location = header("location");
        let bytes = match read_body(response).await {
            Ok(bytes) => bytes,
            Err(BodyError::Transport(e)) => return Err(transport(e)),
            Err(BodyError::TooLarge) => {
                // Whatever it is, it is not an AWS answer, and another try
                // would only read it again.
                return Err(AwsError::Service {
                    operation: operation.to_string(),
                    status,
                    code: String::new(),
                    message: format!(
                        "the answer is larger than {} MiB, which no ECS answer is; it was not read",
                        MAX_REPLY_BYTES >> 20
                    ),
                    attempts: 1,
                });
            }
        };
        match status {
            200..=299 => Ok((status, bytes)),
            300..=399 => Err(AwsError::Service {
                operation: operation.to_string(),
                status,
                code: String::new(),
                message: format!(
                    "a redirect{}, which AWS APIs never answer and ecs-deploy does not follow; check the endpoint and any proxy",
                    location
                        .as_deref()
                        .and_then(|l| reqwest::Url::parse(l).ok())
                        .and_then(|u| u.host_str().map(|h| format!(" to {}", safe::clean(h))))
                        .unwrap_or_default()
                ),
                attempts: 1,
            }),
            _ => Err(decode_error(
                operation,
                status,
                error_type.as_deref(),
                &bytes,
            )),
        }
    }

    /// Full-jitter exponential backoff: a random wait up to base·2^(n-1), capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = BACKOFF_BASE
            .saturating_mul(1 << (attempt - 1).min(16))
            .min(BACKOFF_CAP);
        // xorshift64: enough randomness to spread retries, no extra crate.
        let mut x = self.jitter.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter.set(x);
        ceiling.mul_f64((x % 10_000) as f64 / 10_000.0)
    }
}

/// 64 unpredictable bits: std's randomly keyed hasher, fed the time so two
/// calls differ. Enough for backoff jitter and idempotency tokens without a
/// random-number crate.
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish() | 1
}

/// Turns an error reply into an [`AwsError`]: the code from the
/// `x-amzn-errortype` header or the JSON body (`__type`, `code`), the message
/// from the body; for a body that is not JSON (proxies, fakes, XML-speaking
/// endpoints) whatever `<Code>`/`<Message>` can be seen. Anything else of the
/// body is described, never quoted: a body may echo what was sent, and what
/// is sent may hold a task definition's environment values.
pub fn decode_error(
    operation: &str,
    status: u16,
    error_type: Option<&str>,
    body: &[u8],
) -> AwsError {
    let json: Option<Value> = serde_json::from_slice(body).ok().filter(Value::is_object);
    let field = |names: &[&str]| {
        json.as_ref().and_then(|j| {
            names
                .iter()
                .find_map(|n| j.get(*n).and_then(Value::as_str))
                .map(str::to_string)
        })
    };
    let text = String::from_utf8_lossy(body);
    let code = error_type
        .map(str::to_string)
        .filter(|c| !c.is_empty())
        .or_else(|| field(&["__type", "code", "Code"]))
        .or_else(|| xml_element(&text, "Code"))
        .map(|c| clean_code(&c))
        .unwrap_or_default();
    let message = field(&["message", "Message", "errorMessage"])
        .or_else(|| xml_element(&text, "Message"))
        .map(|m| safe::clean(&m))
        .unwrap_or_else(|| {
            if json.is_some() || body.is_empty() {
                String::new()
            } else {
                describe_body(status, body)
            }
        });
    AwsError::Service {
        operation: operation.to_string(),
        status,
        code,
        message,
        attempts: 1,
    }
}

/// What a body that is not an AWS answer looks like, without quoting it:
/// the status's reason phrase, the kind of document, its size.
fn describe_body(status: u16, body: &[u8]) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!("{r}: "))
        .unwrap_or_default();
    let start = String::from_utf8_lossy(&body[..body.len().min(512)]).to_ascii_lowercase();
    let kind = if start.contains("<html") || start.contains("<!doctype html") {
        "an HTML page"
    } else if start.trim_start().starts_with('<') {
        "an XML document without <Code> or <Message>"
    } else {
        "a body that is not JSON"
    };
    format!("{reason}{kind} of {} bytes", body.len())
}

/// A reply as a JSON object, or what is wrong with it (where the JSON
/// breaks, never what it holds).
fn json_object(reply: &[u8]) -> Result<Value, String> {
    if reply.iter().all(u8::is_ascii_whitespace) {
        return Err("the answer is empty".into());
    }
    match serde_json::from_slice::<Value>(reply) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err(format!(
            "the answer ({} bytes) is JSON but not an object",
            reply.len()
        )),
        Err(e) => Err(format!(
            "the answer ({} bytes) is not valid JSON: {}",
            reply.len(),
            crate::core::json_breaks(&e)
        )),
    }
}

/// `aws.protocoltests#ThrottlingException:http://…` → `ThrottlingException`.
fn clean_code(code: &str) -> String {
    let after_hash = code.rsplit('#').next().unwrap_or(code);
    after_hash
        .split(':')
        .next()
        .unwrap_or(after_hash)
        .trim()
        .to_string()
}

fn describe_transport_error(error: &reqwest::Error, url: &str, cause: &str) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    format!("{what} to {url}: {cause}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(status: u16, header: Option<&str>, body: &str) -> (String, String) {
        match decode_error("Op", status, header, body.as_bytes()) {
            AwsError::Service { code, message, .. } => (code, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_errors() {
        assert_eq!(
            decoded(
                400,
                None,
                r#"{"__type":"com.amazonaws.ecs#ClientException","message":"bad"}"#
            ),
            ("ClientException".into(), "bad".into())
        );
        assert_eq!(
            decoded(
                400,
                Some("ThrottlingException:http://internal.amazon.com/"),
                r#"{"Message":"Rate exceeded"}"#
            ),
            ("ThrottlingException".into(), "Rate exceeded".into())
        );
    }

    #[test]
    fn non_json_errors_stay_readable() {
        let xml = "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error></ErrorResponse>";
        assert_eq!(
            decoded(403, None, xml),
            (
                "SignatureDoesNotMatch".into(),
                "The request signature we calculated does not match".into()
            )
        );
        let (code, message) = decoded(502, None, "<html>\n<body>Bad   Gateway</body></html>");
        assert_eq!(code, "");
        assert_eq!(message, "Bad Gateway: an HTML page of 40 bytes");
        let shown = decode_error("DescribeServices", 500, None, b"MODE=s3cr3t oops").to_string();
        assert_eq!(
            shown,
            "DescribeServices failed: Internal Server Error: a body that is not JSON of 16 bytes (HTTP 500)"
        );
    }

    #[test]
    fn replies_are_described_never_quoted() {
        let problem =
            json_object(br#"{"taskDefinition": {"environment": [{"value": "s3cr3t""#).unwrap_err();
        assert_eq!(
            problem,
            "the answer (54 bytes) is not valid JSON: it ends too early at line 1, column 54"
        );
        assert!(!problem.contains("s3cr3t"));
        assert_eq!(json_object(b"").unwrap_err(), "the answer is empty");
        assert!(json_object(b"[1]").unwrap_err().contains("not an object"));
        assert!(json_object(b" {} ").is_ok());
    }

    #[test]
    fn what_is_retried() {
        let err = |status, code: &str| AwsError::Service {
            operation: "Op".into(),
            status,
            code: code.into(),
            message: String::new(),
            attempts: 1,
        };
        for retried in [
            err(429, ""),
            err(400, "ThrottlingException"),
            err(400, "RequestTimeoutException"),
            err(503, ""),
            err(500, "ServerException"),
        ] {
            assert!(retried.is_retryable(true), "{retried:?}");
        }
        for final_ in [
            err(400, "ClientException"),
            err(400, "InvalidParameterException"),
            err(400, "ClusterNotFoundException"),
            err(400, "AccessDeniedException"),
            err(403, "SignatureDoesNotMatch"),
            err(400, "LimitExceededException"),
        ] {
            assert!(!final_.is_retryable(true), "{final_:?}");
        }
    }

    #[test]
    fn ca_bundle_problems_are_explained() {
        let env = |path: &'static str| {
            move |name: &str| (name == "AWS_CA_BUNDLE").then(|| path.to_string())
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let roots = |path| runtime.block_on(extra_roots(&env(path)));
        let err = roots("/nonexistent/ca.pem").unwrap_err();
        assert!(
            err.starts_with("AWS_CA_BUNDLE /nonexistent/ca.pem: cannot read it"),
            "{err}"
        );
        let err = roots("/proc/self/cmdline").unwrap_err();
        assert!(err.contains("PEM"), "{err}");
        let err = roots("/dev/zero").unwrap_err();
        assert_eq!(
            err,
            "AWS_CA_BUNDLE /dev/zero: cannot read it (larger than 4 MiB, the most ecs-deploy reads of such a file)"
        );
    }

    #[test]
    fn calls_that_are_not_idempotent_are_retried_only_when_nothing_happened() {
        let service = |status, code: &str| AwsError::Service {
            operation: "RegisterTaskDefinition".into(),
            status,
            code: code.into(),
            message: String::new(),
            attempts: 1,
        };
        let transport = |sent| AwsError::Transport {
            operation: "RegisterTaskDefinition".into(),
            message: String::new(),
            retryable: true,
            sent,
            attempts: 1,
        };
        assert!(service(400, "ThrottlingException").is_retryable(false));
        assert!(transport(false).is_retryable(false));
        assert!(!service(503, "").is_retryable(false));
        assert!(!transport(true).is_retryable(false));
        assert!(transport(true).is_retryable(true));
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let endpoint = Endpoint {
            signing_name: "ecs",
            url: "https://example.com".parse().unwrap(),
            region: "us-east-1".into(),
        };
        let client = Client::new(
            http_client(&[], Route::Proxied).unwrap(),
            endpoint,
            None,
            false,
        );
        for attempt in 1..10 {
            let wait = client.backoff(attempt);
            let ceiling = BACKOFF_BASE
                .saturating_mul(1 << (attempt - 1))
                .min(BACKOFF_CAP);
            assert!(wait <= ceiling, "{attempt}: {wait:?}");
        }
        let waits: Vec<_> = (0..5).map(|_| client.backoff(3)).collect();
        assert!(
            waits.windows(2).any(|w| w[0] != w[1]),
            "no jitter: {waits:?}"
        );
    }
}
