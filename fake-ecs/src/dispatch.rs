//! How the fake answers one HTTP request ([`State::handle`]): it records it, checks it (POST /,
//! the SigV4 header shape, the access key), answers an injected fault, a throttled ECS call or a
//! denied operation if there is one, else dispatches it by its `X-Amz-Target` to the operations
//! of its API (ECS, CodeDeploy, CloudWatch Logs, ECR); and writes the transcript line.

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use serde_json::{json, Map, Value};
use wiremock::http::Method;
use wiremock::Request;

use crate::account::arn;
use crate::auth::{self, AuthError};
use crate::model::REGISTERED_BY;
use crate::script::Fault;
use crate::state::{Recorded, State};
use crate::{codedeploy_ops, ecr, ecr_ops, express_ops, front, logs, logs_ops, ops};

/// The `X-Amz-Target` prefix of every ECS operation.
pub(crate) const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113.";
/// The `X-Amz-Target` prefix of every CodeDeploy operation.
pub(crate) const CODEDEPLOY_TARGET_PREFIX: &str = "CodeDeploy_20141006.";
/// The `X-Amz-Target` prefix of every CloudWatch Logs operation.
pub(crate) const LOGS_TARGET_PREFIX: &str = "Logs_20140328.";
/// The `X-Amz-Target` prefix of every ECR operation.
pub(crate) const ECR_TARGET_PREFIX: &str = "AmazonEC2ContainerRegistry_V20150921.";

/// The API a request is for, told by its `X-Amz-Target` prefix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Api {
    /// Amazon ECS (also what a request with an unknown or no prefix is taken for).
    Ecs,
    /// AWS CodeDeploy.
    CodeDeploy,
    /// Amazon CloudWatch Logs.
    Logs,
    /// Amazon Elastic Container Registry.
    Ecr,
}

impl Api {
    /// The APIs other than ECS, whose target prefix a request must have to be theirs.
    const OTHERS: [Api; 3] = [Api::CodeDeploy, Api::Logs, Api::Ecr];

    /// The API and the operation an `X-Amz-Target` header names (the whole header as the
    /// operation when its prefix is no API's).
    pub(crate) fn of_target(target: &str) -> (Api, &str) {
        let other = Api::OTHERS.into_iter().find_map(|api| {
            let operation = target.strip_prefix(api.target_prefix())?;
            Some((api, operation))
        });
        other.unwrap_or((
            Api::Ecs,
            target.strip_prefix(TARGET_PREFIX).unwrap_or(target),
        ))
    }

    /// The SigV4 signing name, the IAM action prefix and the transcript's `service`:
    /// `ecs`, `codedeploy`, `logs` or `ecr`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Api::Ecs => "ecs",
            Api::CodeDeploy => "codedeploy",
            Api::Logs => "logs",
            Api::Ecr => "ecr",
        }
    }

    /// The `X-Amz-Target` prefix of its operations.
    fn target_prefix(self) -> &'static str {
        match self {
            Api::Ecs => TARGET_PREFIX,
            Api::CodeDeploy => CODEDEPLOY_TARGET_PREFIX,
            Api::Logs => LOGS_TARGET_PREFIX,
            Api::Ecr => ECR_TARGET_PREFIX,
        }
    }
}

/// The media type of every request and reply of the fake's APIs.
const JSON_1_1: &str = "application/x-amz-json-1.1";

/// An HTTP reply, before it becomes a wiremock `ResponseTemplate`.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
    /// Whether an injected [`Fault`] or [`State::deny`] made (or broke) this answer.
    pub(crate) fault: bool,
    /// Whether the call's token bucket was empty (see `FakeEcs::throttle_like_ecs`).
    pub(crate) throttled: bool,
}

impl Reply {
    fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            content_type: JSON_1_1.to_string(),
            headers: Vec::new(),
            body: body.to_string(),
            fault: false,
            throttled: false,
        }
    }

    /// An AWS JSON error: `{"__type": code, "message": ...}` plus `x-amzn-errortype`.
    pub(crate) fn error(status: u16, code: &str, message: &str) -> Reply {
        let mut reply = Reply::json(status, &json!({"__type": code, "message": message}));
        reply.headers.push(("x-amzn-errortype".into(), code.into()));
        reply
    }

    /// What ECS answers a call over its rate: HTTP 400 `ThrottlingException`.
    fn throttling() -> Reply {
        Reply::error(400, "ThrottlingException", "Rate exceeded")
    }

    /// The canned reply of a fault; `None` for faults that let the request through
    /// ([`Fault::Pass`], and those the front carries out on the real answer).
    fn fault(fault: &Fault) -> Option<Reply> {
        Some(match fault.clone() {
            Fault::Pass | Fault::ResetMidBody | Fault::TruncatedBody | Fault::Stall { .. } => {
                return None
            }
            Fault::HugeBody { bytes } => {
                let mut reply = Reply::json(200, &json!({}));
                reply
                    .headers
                    .push((front::MARKER.into(), format!("huge:{bytes}")));
                reply
            }
            Fault::Redirect { status, location } => {
                let mut reply = Reply::json(status, &json!({}));
                reply.headers.push(("location".into(), location));
                reply
            }
            Fault::Throttle => Reply::throttling(),
            Fault::ServiceUnavailable => Reply {
                status: 503,
                content_type: "text/html".into(),
                headers: Vec::new(),
                body: "<html><body><b>Http/1.1 Service Unavailable</b></body> </html>".into(),
                fault: false,
                throttled: false,
            },
            Fault::Raw {
                status,
                content_type,
                body,
            } => Reply {
                status,
                content_type,
                headers: Vec::new(),
                body,
                fault: false,
                throttled: false,
            },
        })
    }
}

/// The free-text fields of answers: what a user with the right permission can choose (or, for
/// a log event's `message`, what the application wrote).
const TEXT_FIELDS: [&str; 5] = [
    "message",
    "reason",
    "stoppedReason",
    "rolloutStateReason",
    "statusReason",
];

fn inject_text(value: &mut Value, text: &str) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                match field {
                    Value::String(s) if TEXT_FIELDS.contains(&key.as_str()) => s.push_str(text),
                    other => inject_text(other, text),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| inject_text(item, text)),
        _ => {}
    }
}

/// What IAM answers a principal whose policy does not allow `{api}:{operation}`, for a request
/// on `resource`.
fn access_denied_message(api: Api, operation: &str, resource: &str) -> String {
    let action = format!("{}:{operation}", api.name());
    format!(
        "User: {REGISTERED_BY} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"
    )
}

/// The ECS resource a request names, as far as the fake can tell (`*` when none).
fn ecs_resource(body: &Value) -> String {
    let text = |key: &str| body.get(key).and_then(Value::as_str);
    let first = |key: &str| body.get(key).and_then(|v| v.get(0)).and_then(Value::as_str);
    let cluster = text("cluster").map_or("default", |c| c.rsplit('/').next().unwrap_or(c));
    let service_arn = |name: &str| {
        if name.starts_with("arn:") {
            name.to_string()
        } else {
            arn(&format!("service/{cluster}/{name}"))
        }
    };
    text("serviceDeploymentArn")
        .or_else(|| first("serviceDeploymentArns"))
        .or_else(|| text("serviceArn"))
        .map(str::to_string)
        .or_else(|| text("service").map(service_arn))
        .or_else(|| first("services").map(service_arn))
        .unwrap_or_else(|| "*".to_string())
}

/// Append one answered request to the transcript: a whole JSON line in one write, to a file
/// opened for appending, so that several processes can share the file.
fn append_transcript(path: &Path, api: Api, operation: &str, request: Value, reply: &Reply) {
    let entry = json!({
        "service": api.name(),
        "operation": operation,
        "request": request,
        "status": reply.status,
        "response": serde_json::from_str::<Value>(&reply.body).ok(),
        "fault": reply.fault,
    });
    let mut line = entry.to_string();
    line.push('\n');
    let written = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!(
            "fake-ecs: cannot append to the transcript {}: {e}",
            path.display()
        );
    }
}

impl State {
    /// Answer one HTTP request: record it, check it, then run the operation.
    pub(crate) fn handle(&mut self, request: &Request) -> Reply {
        self.world.tick();
        let target = auth::header(&request.headers, "x-amz-target").unwrap_or_default();
        let (api, operation) = Api::of_target(target);
        let operation = operation.to_string();
        let body = if request.body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(&request.body).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&request.body).into_owned())
            })
        };
        self.requests.push(Recorded {
            service: api.name().to_string(),
            operation: operation.clone(),
            body: body.clone(),
            access_key: auth::access_key(&request.headers),
            security_token: auth::header(&request.headers, "x-amz-security-token")
                .map(str::to_string),
            throttled: false,
        });
        let mut reply = self.dispatch(request, target, api, &operation, body.clone());
        if let Some(recorded) = self.requests.last_mut() {
            recorded.throttled = reply.throttled;
        }
        let request_id = self.world.uuid();
        reply.headers.push(("x-amzn-requestid".into(), request_id));
        if let Some(path) = &self.transcript {
            append_transcript(path, api, &operation, body, &reply);
        }
        reply
    }

    fn dispatch(
        &mut self,
        request: &Request,
        target: &str,
        api: Api,
        operation: &str,
        body: Value,
    ) -> Reply {
        if request.method != Method::POST || request.url.path() != "/" {
            return Reply::error(
                404,
                "UnknownOperationException",
                "The fake's APIs answer only POST / (JSON 1.1 protocol).",
            );
        }
        match auth::check(&request.headers, api.name()) {
            Err(AuthError::Incomplete(m)) => {
                return Reply::error(403, "IncompleteSignatureException", &m)
            }
            Err(AuthError::Invalid(m)) => {
                return Reply::error(403, "InvalidSignatureException", &m)
            }
            Ok(key) if !self.access_keys.contains(&key) => {
                return Reply::error(
                    403,
                    "UnrecognizedClientException",
                    "The security token included in the request is invalid.",
                )
            }
            Ok(_) => {}
        }
        let fault = self.faults.get_mut(operation).and_then(VecDeque::pop_front);
        if let Some(mut reply) = fault.as_ref().and_then(Reply::fault) {
            reply.fault = true;
            return reply;
        }
        let ecs_operation = target.strip_prefix(TARGET_PREFIX);
        if let (Some(buckets), Some(operation)) = (&mut self.throttle, ecs_operation) {
            if !buckets.take(operation, Instant::now()) {
                let mut reply = Reply::throttling();
                reply.throttled = true;
                return reply;
            }
        }
        if self.denied.iter().any(|d| d == operation) {
            let resource = match api {
                Api::Ecs => ecs_resource(&body),
                Api::CodeDeploy => self.codedeploy.resource_of(&body),
                Api::Logs => logs::resource_of(&body),
                Api::Ecr => ecr::resource_of(&body),
            };
            let mut reply = Reply::error(
                400,
                "AccessDeniedException",
                &access_denied_message(api, operation, &resource),
            );
            reply.fault = true;
            return reply;
        }
        let mut reply = self.answer(target, api, operation, request, body);
        // What the front is to do with the real answer.
        let marker = match fault {
            Some(Fault::ResetMidBody) => Some("reset".to_string()),
            Some(Fault::TruncatedBody) => Some("truncate".to_string()),
            Some(Fault::Stall { seconds }) => Some(format!("stall:{seconds}")),
            _ => None,
        };
        if let Some(marker) = marker {
            reply.headers.push((front::MARKER.into(), marker));
            reply.fault = true;
        }
        reply
    }

    /// The real answer to a well-signed request.
    /// Runs an operation on the state as another client would (see
    /// [`crate::FakeEcs::call_as_another_client`]).
    pub(crate) fn call_as_another_client(
        &mut self,
        target: &str,
        input: &Map<String, Value>,
    ) -> Result<Value, String> {
        let (api, operation) = Api::of_target(target);
        self.run(api, operation, input)
            .map_err(|e| format!("{}: {}", e.code, e.message))
    }

    /// Runs one operation of `api` on the state.
    fn run(
        &mut self,
        api: Api,
        operation: &str,
        input: &Map<String, Value>,
    ) -> Result<Value, ops::ApiError> {
        match api {
            Api::Ecs if express_ops::OPERATIONS.contains(&operation) => {
                express_ops::call(self, operation, input)
            }
            Api::Ecs => ops::call(self, operation, input),
            Api::CodeDeploy => codedeploy_ops::call(self, operation, input),
            Api::Logs => logs_ops::call(self, operation, input),
            Api::Ecr => ecr_ops::call(self, operation, input),
        }
    }

    fn answer(
        &mut self,
        target: &str,
        api: Api,
        operation: &str,
        request: &Request,
        body: Value,
    ) -> Reply {
        let content_type = auth::header(&request.headers, "content-type").unwrap_or_default();
        if !target.starts_with(api.target_prefix()) || !content_type.starts_with(JSON_1_1) {
            return Reply::error(
                400,
                "UnknownOperationException",
                &format!(
                    "No operation for X-Amz-Target '{target}' and Content-Type '{content_type}'."
                ),
            );
        }
        let Value::Object(input) = body else {
            return Reply::error(
                400,
                "SerializationException",
                "The request body is not a JSON object.",
            );
        };
        let answered = self.run(api, operation, &input);
        match answered {
            Ok(mut value) => {
                if let Some(text) = &self.injected_text {
                    inject_text(&mut value, text);
                }
                Reply::json(200, &value)
            }
            Err(e) => Reply::error(400, e.code, &e.message),
        }
    }
}
