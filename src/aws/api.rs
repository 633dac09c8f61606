//! One JSON-1.1 API over the signed client: calls whose answers are checked
//! against what the operation promises, answers cleaned where they are only
//! read and shown, and the paginator (design §11). ECS and CodeDeploy are
//! each one of these.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::client::{AwsError, Client};
use crate::output::safe;

/// A listing longer than this many pages is taken for a loop, as the SDK
/// paginators do (a hundred thousand revisions or stopped tasks).
const MAX_PAGES: usize = 1000;

/// An AWS JSON-1.1 API at one endpoint.
pub struct Api {
    client: Client,
    target_prefix: &'static str,
    /// Operations that make something new each time (a revision, a
    /// deployment): not retried once they may have reached the service.
    not_idempotent: &'static [&'static str],
}

impl Api {
    /// The API whose `X-Amz-Target` starts with `target_prefix`.
    pub fn new(
        client: Client,
        target_prefix: &'static str,
        not_idempotent: &'static [&'static str],
    ) -> Api {
        Api {
            client,
            target_prefix,
            not_idempotent,
        }
    }

    /// Calls `operation`; its answer must satisfy `promises`.
    pub async fn call(
        &self,
        operation: &str,
        input: &Value,
        promises: &dyn Fn(&Value) -> Result<(), String>,
    ) -> Result<Value, AwsError> {
        let idempotent = !self.not_idempotent.contains(&operation);
        self.client
            .call_json(self.target_prefix, operation, input, idempotent, promises)
            .await
    }

    /// A call whose answer is only read and shown: cleaned as it arrives.
    pub async fn read(
        &self,
        operation: &str,
        input: &Value,
        promises: &dyn Fn(&Value) -> Result<(), String>,
    ) -> Result<Value, AwsError> {
        let mut reply = self.call(operation, input, promises).await?;
        safe::clean_json(&mut reply);
        Ok(reply)
    }

    /// Every item of `key` over all pages of a listing. A page whose
    /// `nextToken` was seen before, or more than [`MAX_PAGES`] pages, ends
    /// it with an error: such a listing would never end.
    pub async fn list_all(
        &self,
        operation: &str,
        mut input: Value,
        key: &'static str,
    ) -> Result<Vec<String>, AwsError> {
        let mut items = Vec::new();
        let mut tokens = HashSet::new();
        for _ in 0..MAX_PAGES {
            let reply = self
                .read(operation, &input, &|reply| list_of(reply, key).map(drop))
                .await?;
            items.extend(strings(&reply[key]));
            match reply["nextToken"].as_str() {
                Some(token) if !token.is_empty() => {
                    if !tokens.insert(token.to_string()) {
                        return Err(AwsError::bad_reply(
                            operation,
                            format!(
                                "page {} repeats a nextToken of an earlier page, so the listing would never end",
                                tokens.len() + 1
                            ),
                        ));
                    }
                    input["nextToken"] = json!(token);
                }
                _ => return Ok(items),
            }
        }
        Err(AwsError::bad_reply(
            operation,
            format!("the listing goes on past {MAX_PAGES} pages"),
        ))
    }
}

/// The strings of a JSON list (others left out).
pub fn strings(list: &Value) -> impl Iterator<Item = String> + '_ {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
}

/// The array `key` of an answer.
pub fn list_of<'v>(reply: &'v Value, key: &str) -> Result<&'v Vec<Value>, String> {
    reply[key]
        .as_array()
        .ok_or_else(|| format!("the answer has no {key} list"))
}

/// `value` is an object, else the answer lacks `what`.
pub fn is_object(value: &Value, what: &str) -> Result<(), String> {
    if value.is_object() {
        Ok(())
    } else {
        Err(format!("the answer has no {what}"))
    }
}

/// An answer's `found` (its `what`: "deployment", "service", …) must be the
/// one `asked` for: an answer about another one is no answer to the call.
pub fn names_the_one_asked(found: Option<&str>, asked: &str, what: &str) -> Result<(), String> {
    match found {
        Some(found) if found == asked => Ok(()),
        Some(found) => Err(format!(
            "the answer is about {what} {}, not {asked}",
            safe::clean(found)
        )),
        None => Err(format!("the answer names no {what}")),
    }
}
