//! CloudWatch Logs: log groups, their streams and events; how GetLogEvents reads a stream and
//! DescribeLogGroups renders a group; and what the `awslogs` log driver ships for a task's
//! container that fails (see `FakeEcs::set_failing_task_log`).
//!
//! Times are epoch milliseconds, as CloudWatch Logs counts them, taken from the fake clock.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::account::{ACCOUNT, REGION};

/// The first line a failing container writes unless a test sets others; the second says why
/// it dies.
const DEFAULT_FIRST_LINE: &str = "Starting the application";

/// The ARN of a log group, as `logGroupArn` shows it (`arn` adds `:*`).
fn group_arn(name: &str) -> String {
    format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}")
}

/// The fake clock's epoch seconds as epoch milliseconds.
fn millis(epoch_seconds: f64) -> i64 {
    (epoch_seconds * 1000.0).round() as i64
}

/// The log group a `logGroupIdentifier` names: a name, or the ARN of one of the fake's groups
/// (as `logGroupArn` shows it: the model's pattern leaves no room for the `:*` of `arn`).
pub(crate) fn group_name(identifier: &str) -> &str {
    let prefix = group_arn("");
    identifier.strip_prefix(&prefix).unwrap_or(identifier)
}

/// The resource IAM would name when refusing a request with this body: the log stream, or the
/// log group, it names; else `log-group::log-stream:`, as IAM names it for DescribeLogGroups.
pub(crate) fn resource_of(body: &Value) -> String {
    let text = |key: &str| body.get(key).and_then(Value::as_str);
    let group = text("logGroupName").or_else(|| text("logGroupIdentifier").map(group_name));
    match (group, text("logStreamName")) {
        (Some(group), Some(stream)) => format!("{}:log-stream:{stream}", group_arn(group)),
        (Some(group), None) => group_arn(group),
        (None, _) => format!("{}:log-stream:", group_arn("")),
    }
}

/// One log event.
struct Event {
    timestamp: i64,
    ingestion_time: i64,
    message: String,
}

/// Where GetLogEvents reads a stream from: the events at and after an index of the stream, or
/// those before it (indexes count every event of the stream, oldest first).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Start {
    After(usize),
    Before(usize),
}

impl Start {
    /// The oldest events first (`startFromHead: true`).
    pub(crate) const HEAD: Start = Start::After(0);
    /// The newest events (`startFromHead: false`, the default).
    pub(crate) const TAIL: Start = Start::Before(usize::MAX);

    /// Where a `nextForwardToken` or `nextBackwardToken` the fake handed out reads from; `None`
    /// for any other text. They look like real ones: `f/` or `b/`, 56 digits, `/s`.
    pub(crate) fn of_token(token: &str) -> Option<Start> {
        let (direction, rest) = token.split_at_checked(2)?;
        let digits = rest.strip_suffix("/s")?;
        if digits.len() != 56 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let index = digits.parse().ok()?;
        match direction {
            "f/" => Some(Start::After(index)),
            "b/" => Some(Start::Before(index)),
            _ => None,
        }
    }

    fn token(self) -> String {
        match self {
            Start::After(index) => format!("f/{index:056}/s"),
            Start::Before(index) => format!("b/{index:056}/s"),
        }
    }
}

/// One log stream: its events, oldest first.
#[derive(Default)]
pub(crate) struct Stream {
    events: Vec<Event>,
}

impl Stream {
    /// GetLogEvents' answer: up to `limit` events whose timestamp is within `[from, until)` (either
    /// end open when `None`), read from `start`, oldest first, with the tokens that read on
    /// forward (newer) and backward (older). A page that finds nothing hands back tokens to
    /// where it read, so a client that follows `nextForwardToken` gets what arrives later.
    pub(crate) fn page(
        &self,
        start: Start,
        from: Option<i64>,
        until: Option<i64>,
        limit: usize,
    ) -> Value {
        let candidates: Vec<usize> = (0..self.events.len())
            .filter(|&i| {
                let t = self.events[i].timestamp;
                from.is_none_or(|from| t >= from) && until.is_none_or(|until| t < until)
            })
            .collect();
        let (chosen, at) = match start {
            Start::After(index) => {
                let k = candidates.partition_point(|&i| i < index);
                let end = k.saturating_add(limit).min(candidates.len());
                (&candidates[k..end], index)
            }
            Start::Before(index) => {
                let k = candidates.partition_point(|&i| i < index);
                (&candidates[k.saturating_sub(limit)..k], index)
            }
        };
        let at = at.min(self.events.len());
        let forward = chosen.last().map_or(at, |&i| i + 1);
        let backward = chosen.first().copied().unwrap_or(at);
        let events: Vec<Value> = chosen
            .iter()
            .map(|&i| {
                let e = &self.events[i];
                json!({
                    "timestamp": e.timestamp,
                    "message": e.message,
                    "ingestionTime": e.ingestion_time,
                })
            })
            .collect();
        json!({
            "events": events,
            "nextForwardToken": Start::After(forward).token(),
            "nextBackwardToken": Start::Before(backward).token(),
        })
    }
}

/// One log group.
pub(crate) struct Group {
    creation_time: i64,
    streams: BTreeMap<String, Stream>,
}

impl Group {
    /// The stream of this name.
    pub(crate) fn stream(&self, name: &str) -> Option<&Stream> {
        self.streams.get(name)
    }

    /// As DescribeLogGroups renders it (`storedBytes`: the bytes of its messages).
    fn render(&self, name: &str) -> Value {
        let stored: usize = self
            .streams
            .values()
            .flat_map(|s| &s.events)
            .map(|e| e.message.len())
            .sum();
        json!({
            "logGroupName": name,
            "creationTime": self.creation_time,
            "metricFilterCount": 0,
            "arn": format!("{}:*", group_arn(name)),
            "storedBytes": stored,
            "logGroupClass": "STANDARD",
            "logGroupArn": group_arn(name),
        })
    }
}

/// Where the `awslogs` driver of a container definition ships what the container writes.
struct AwsLogs<'a> {
    group: &'a str,
    stream_prefix: &'a str,
    /// `awslogs-create-group` is "true": the driver creates a missing group.
    create_group: bool,
}

impl AwsLogs<'_> {
    /// The `logConfiguration` of a container definition, if it ships to a group of the fake's
    /// region with a stream prefix (without one the stream would be named after the Docker
    /// container id, which the fake has not).
    fn of(definition: &Value) -> Option<AwsLogs<'_>> {
        let config = &definition["logConfiguration"];
        if config["logDriver"] != "awslogs" {
            return None;
        }
        let option = |key: &str| config["options"][key].as_str();
        if option("awslogs-region").is_some_and(|region| region != REGION) {
            return None;
        }
        Some(AwsLogs {
            group: option("awslogs-group")?,
            stream_prefix: option("awslogs-stream-prefix")?,
            create_group: option("awslogs-create-group") == Some("true"),
        })
    }
}

/// Everything CloudWatch Logs knows.
#[derive(Default)]
pub(crate) struct Logs {
    groups: BTreeMap<String, Group>,
    /// What a failing container writes (see `FakeEcs::set_failing_task_log`); `None`: the
    /// default lines.
    failing_task_log: Option<Vec<String>>,
}

impl Logs {
    /// Create an empty group (nothing happens if it exists).
    pub(crate) fn add_group(&mut self, name: &str, now: f64) {
        self.groups
            .entry(name.to_string())
            .or_insert_with(|| Group {
                creation_time: millis(now),
                streams: BTreeMap::new(),
            });
    }

    /// The group of this name.
    pub(crate) fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(name)
    }

    /// Every group `keep` takes by name, as DescribeLogGroups renders them, by name.
    pub(crate) fn describe(&self, keep: impl Fn(&str) -> bool) -> Vec<Value> {
        self.groups
            .iter()
            .filter(|(name, _)| keep(name))
            .map(|(name, group)| group.render(name))
            .collect()
    }

    /// Append one event per line to the stream, stamped `now`, creating the group and the
    /// stream if missing. The stream stays in timestamp order (the clock can be set back).
    pub(crate) fn put(&mut self, group: &str, stream: &str, lines: &[String], now: f64) {
        self.add_group(group, now);
        let Some(group) = self.groups.get_mut(group) else {
            return;
        };
        let events = &mut group.streams.entry(stream.to_string()).or_default().events;
        let timestamp = millis(now);
        let at = events.partition_point(|e| e.timestamp <= timestamp);
        let new = lines.iter().map(|line| Event {
            timestamp,
            ingestion_time: timestamp,
            message: line.clone(),
        });
        events.splice(at..at, new);
    }

    /// The messages of a stream, oldest first; none if the group or the stream is missing.
    pub(crate) fn lines(&self, group: &str, stream: &str) -> Vec<String> {
        let stream = self.group(group).and_then(|g| g.stream(stream));
        stream
            .into_iter()
            .flat_map(|s| &s.events)
            .map(|e| e.message.clone())
            .collect()
    }

    /// See `FakeEcs::set_failing_task_log`.
    pub(crate) fn set_failing_task_log(&mut self, lines: Vec<String>) {
        self.failing_task_log = Some(lines);
    }

    /// A task's essential container, defined by `definition` (a container definition of the
    /// task's revision), exited non-zero with `reason`: if it logs with `awslogs`, the
    /// failing-task lines go to the stream `<awslogs-stream-prefix>/<container>/<task id>`
    /// of its group, which is created if `awslogs-create-group` is "true". Where the group is
    /// missing and may not be created, nothing is written (real ECS would not have started the
    /// task; the fake keeps its scripted failure).
    pub(crate) fn container_failed(
        &mut self,
        definition: &Value,
        task_id: &str,
        reason: &str,
        now: f64,
    ) {
        let Some(awslogs) = AwsLogs::of(definition) else {
            return;
        };
        if !awslogs.create_group && !self.groups.contains_key(awslogs.group) {
            return;
        }
        let container = definition["name"].as_str().unwrap_or_default();
        let stream = format!("{}/{container}/{task_id}", awslogs.stream_prefix);
        let lines = self
            .failing_task_log
            .clone()
            .unwrap_or_else(|| vec![DEFAULT_FIRST_LINE.to_string(), format!("FATAL: {reason}")]);
        self.put(awslogs.group, &stream, &lines, now);
    }
}
