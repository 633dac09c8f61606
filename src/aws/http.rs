//! What the AWS client and the credential sources share of HTTP: reading
//! a bounded body, the innermost cause of a transport error, and the bit
//! of XML that error bodies and STS answers need.

/// The most a reply may hold: ECS's largest answers (a hundred described
/// tasks) are a few hundred KiB; anything near this is not an AWS answer.
pub const MAX_REPLY_BYTES: usize = 8 << 20;

/// Why a body could not be read.
pub enum BodyError {
    /// It is larger than [`MAX_REPLY_BYTES`]; reading stopped there.
    TooLarge,
    /// The connection failed while it was read.
    Transport(reqwest::Error),
}

/// Reads a body of at most [`MAX_REPLY_BYTES`], chunk by chunk, so that a
/// huge or endless answer costs no more memory than the cap.
pub async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_REPLY_BYTES as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_REPLY_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The text of the first `<name>…</name>` in `text`, trimmed; enough XML for
/// error bodies and STS replies, whose elements are flat and unique.
pub fn xml_element(text: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{name}>"))? + start;
    Some(text[start..end].trim().to_string()).filter(|s| !s.is_empty())
}

/// The innermost cause of an error, which says the most ("Connection
/// refused", "invalid peer certificate: UnknownIssuer").
pub fn innermost_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
