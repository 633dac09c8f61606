//! Typed CloudWatch Logs operations (design §12): the last lines of a log
//! stream, and whether a log group exists. Answers are checked like ECS's
//! (`api`) and cleaned as they arrive: a log line is untrusted text.

use serde_json::{json, Value};

use super::api::{list_of, Api};
use super::client::{AwsError, Client};

/// The `X-Amz-Target` prefix of the CloudWatch Logs API.
pub const TARGET_PREFIX: &str = "Logs_20140328";
/// The most events `GetLogEvents` returns in one call.
pub const MAX_EVENTS: u32 = 10_000;

/// CloudWatch Logs in one region.
pub struct Logs {
    api: Api,
}

impl Logs {
    /// CloudWatch Logs through `client` (every call of ours is a read).
    pub fn new(client: Client) -> Logs {
        Logs {
            api: Api::new(client, TARGET_PREFIX, &[]),
        }
    }

    /// The last `limit` messages of a stream, oldest first: one
    /// `GetLogEvents` from the end of the stream. Its tokens are never
    /// followed, so a stream that never ends costs one call.
    pub async fn last_lines(
        &self,
        group: &str,
        stream: &str,
        limit: u32,
    ) -> Result<Vec<String>, AwsError> {
        let input = json!({
            "logGroupName": group,
            "logStreamName": stream,
            "limit": limit.clamp(1, MAX_EVENTS),
            "startFromHead": false,
        });
        let reply = self
            .api
            .read("GetLogEvents", &input, &|reply| {
                list_of(reply, "events").map(drop)
            })
            .await?;
        Ok(reply["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|event| event["message"].as_str().map(str::to_string))
            .collect())
    }

    /// Whether a log group of exactly this name exists. Groups are listed
    /// in name order, so the first whose name starts with `name` is `name`
    /// itself when it exists: one call of one group.
    pub async fn group_exists(&self, name: &str) -> Result<bool, AwsError> {
        let input = json!({"logGroupNamePrefix": name, "limit": 1});
        let reply = self
            .api
            .read("DescribeLogGroups", &input, &|reply| {
                list_of(reply, "logGroups").map(drop)
            })
            .await?;
        Ok(reply["logGroups"]
            .as_array()
            .and_then(|groups| groups.first())
            .is_some_and(|group: &Value| group["logGroupName"] == name))
    }
}
