//! The CloudWatch Logs operations (GetLogEvents, DescribeLogGroups): input checks and replies,
//! with the error codes of the `logs` model and `ops`' input checks.

use serde_json::{Map, Value};

use crate::logs::{self, Logs, Start};
use crate::ops::{
    check_length, err, invalid, opt_bool, opt_choice, opt_int, opt_text, page_of, required,
    str_list, ApiError, Pattern,
};
use crate::state::State;

type Input = Map<String, Value>;

/// The longest log group or log stream name.
const MAX_NAME: usize = 512;
/// The most events GetLogEvents answers (also its default `limit`).
const MAX_EVENTS: i64 = 10_000;
/// The most groups DescribeLogGroups answers (also its default `limit`).
const MAX_GROUPS: i64 = 50;
/// The most `logGroupIdentifiers` DescribeLogGroups takes.
const MAX_IDENTIFIERS: usize = 50;
/// The log group classes of the model; the fake's groups are all STANDARD.
const GROUP_CLASSES: [&str; 3] = ["STANDARD", "INFREQUENT_ACCESS", "DELIVERY"];

/// A character of a log group name (or of a pattern to match names with).
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ".-_/#".contains(c)
}

const LOG_GROUP_NAME: Pattern = (r"[\.\-_/#A-Za-z0-9]+", |s| {
    !s.is_empty() && s.chars().all(is_name_char)
});
const LOG_GROUP_NAME_PATTERN: Pattern = (r"[\.\-_/#A-Za-z0-9]*", |s| s.chars().all(is_name_char));
const LOG_GROUP_IDENTIFIER: Pattern = (r"[\w#+=/:,.@-]*", |s| {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_#+=/:,.@-".contains(c))
});
const LOG_STREAM_NAME: Pattern = (r"[^:*]*", |s| !s.contains([':', '*']));

/// What CloudWatch Logs answers for a `nextToken` it did not hand out.
const INVALID_TOKEN: &str = "The specified nextToken is invalid.";

/// Run one CloudWatch Logs operation against the state.
pub(crate) fn call(state: &State, operation: &str, input: &Input) -> Result<Value, ApiError> {
    let logs = &state.world.logs;
    match operation {
        "GetLogEvents" => get_log_events(logs, input),
        "DescribeLogGroups" => describe_log_groups(logs, input),
        _ => Err(err(
            "UnknownOperationException",
            format!("The fake CloudWatch Logs does not know the operation '{operation}'."),
        )),
    }
}

/// The log group a request names by `logGroupName` or `logGroupIdentifier` (exactly one).
fn group_of(input: &Input) -> Result<&str, ApiError> {
    let name = opt_text(input, "logGroupName", 1..=MAX_NAME, Some(LOG_GROUP_NAME))?;
    let identifier = opt_text(
        input,
        "logGroupIdentifier",
        1..=2048,
        Some(LOG_GROUP_IDENTIFIER),
    )?;
    match (name, identifier) {
        (Some(name), None) => Ok(name),
        (None, Some(identifier)) => Ok(logs::group_name(identifier)),
        (Some(_), Some(_)) => Err(invalid(
            "LogGroupName and LogGroupIdentifier are mutually exclusive parameters.",
        )),
        (None, None) => Err(invalid(
            "Either LogGroupName or LogGroupIdentifier must be specified.",
        )),
    }
}

fn get_log_events(logs: &Logs, input: &Input) -> Result<Value, ApiError> {
    let group = group_of(input)?;
    let stream = opt_text(input, "logStreamName", 1..=MAX_NAME, Some(LOG_STREAM_NAME))?;
    let stream = required(stream, "logStreamName")?;
    let from = opt_int(input, "startTime", 0..=i64::MAX)?;
    let until = opt_int(input, "endTime", 0..=i64::MAX)?;
    let limit = opt_int(input, "limit", 1..=MAX_EVENTS)?.unwrap_or(MAX_EVENTS);
    let from_head = opt_bool(input, "startFromHead")?.unwrap_or(false);
    // Nothing is masked in the fake's events: `unmask` changes nothing.
    opt_bool(input, "unmask")?;
    let start = match opt_text(input, "nextToken", 1..=usize::MAX, None)? {
        Some(token) => Start::of_token(token).ok_or_else(|| invalid(INVALID_TOKEN))?,
        None if from_head => Start::HEAD,
        None => Start::TAIL,
    };
    let stream = logs
        .group(group)
        .ok_or_else(|| {
            err(
                "ResourceNotFoundException",
                "The specified log group does not exist.",
            )
        })?
        .stream(stream)
        .ok_or_else(|| {
            err(
                "ResourceNotFoundException",
                "The specified log stream does not exist.",
            )
        })?;
    Ok(stream.page(start, from, until, limit as usize))
}

fn describe_log_groups(logs: &Logs, input: &Input) -> Result<Value, ApiError> {
    let prefix = opt_text(
        input,
        "logGroupNamePrefix",
        1..=MAX_NAME,
        Some(LOG_GROUP_NAME),
    )?;
    let pattern = opt_text(
        input,
        "logGroupNamePattern",
        0..=MAX_NAME,
        Some(LOG_GROUP_NAME_PATTERN),
    )?;
    if prefix.is_some() && pattern.is_some() {
        return Err(invalid(
            "LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive parameters.",
        ));
    }
    let identifiers = str_list(input, "logGroupIdentifiers")?;
    if input.contains_key("logGroupIdentifiers") {
        let shown = format!("'[{}]'", identifiers.join(", "));
        check_length(
            "logGroupIdentifiers",
            &shown,
            identifiers.len(),
            1..=MAX_IDENTIFIERS,
        )?;
    }
    let identified: Vec<&str> = identifiers.into_iter().map(logs::group_name).collect();
    let class = opt_choice(input, "logGroupClass", &GROUP_CLASSES)?;
    // The fake plays one account, with no linked ones: these select nothing more or less.
    opt_bool(input, "includeLinkedAccounts")?;
    str_list(input, "accountIdentifiers")?;
    let limit = opt_int(input, "limit", 1..=MAX_GROUPS)?.unwrap_or(MAX_GROUPS);
    let token = opt_text(input, "nextToken", 1..=usize::MAX, None)?;
    let pattern = pattern.map(str::to_ascii_lowercase);
    let groups = logs.describe(|name| {
        prefix.is_none_or(|p| name.starts_with(p))
            // A pattern matches case-insensitively anywhere in the name.
            && pattern
                .as_deref()
                .is_none_or(|p| name.to_ascii_lowercase().contains(p))
            && (identified.is_empty() || identified.contains(&name))
            && class.is_none_or(|c| c == "STANDARD")
    });
    page_of(groups, token, limit as usize, "logGroups").ok_or_else(|| invalid(INVALID_TOKEN))
}
