//! The one place that makes text safe to show (design §11). Everything an AWS
//! answer carries (service events, stopped-task reasons, error messages,
//! ARNs) is untrusted: whoever may call `ecs:StopTask` chooses a
//! `stoppedReason`. Two layers keep such text from steering a terminal or a
//! CI runner:
//!
//! - [`clean`] makes an untrusted value one line without control characters
//!   where it enters (the ECS operations and the error decoder call it);
//! - [`guard`] is applied to every line this program writes, whatever its
//!   source, so that no line of ours can carry an escape sequence, start a
//!   GitHub Actions workflow command (`::error::`, `::add-mask::`,
//!   `::stop-commands::`) or hold a legacy one (`##[error]`, which the
//!   runner acts on anywhere in a line) — [`guard_json`] does the same for
//!   the JSON document without changing what it says.
//!
//! Writes are best effort: a reader that went away (`| head`, a dead log
//! forwarder) must not stop a deploy, a wait or a rollback.

use std::io::Write;

use serde_json::Value;

/// Whether `c` may not appear in text we print: C0 and C1 control characters
/// (ESC, CR, BEL, …), DEL, and the Unicode controls that reorder or hide text
/// (bidirectional overrides and isolates, the line and paragraph separators).
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
        )
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// An untrusted value as one line: line breaks and tabs become spaces (runs
/// of them one space), every other control character is dropped.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if matches!(c, '\n' | '\r' | '\t' | '\u{2028}' | '\u{2029}') {
            pending_space = true;
        } else if !is_unsafe(c) {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// Applies [`clean`] to every string (and object key) of a JSON answer that
/// is only read and shown, never sent back (task definitions are not
/// cleaned: they are data the user owns).
pub fn clean_json(value: &mut Value) {
    match value {
        Value::String(text) if text.chars().any(is_unsafe) => *text = clean(text),
        Value::Array(items) => items.iter_mut().for_each(clean_json),
        Value::Object(map) => {
            if map.keys().any(|k| k.chars().any(is_unsafe)) {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(k, v)| (clean(&k), v))
                    .collect();
            }
            map.values_mut().for_each(clean_json);
        }
        _ => {}
    }
}

/// Text as it may be written: each line without control characters, and a
/// line that would start a workflow command (after leading blanks, where the
/// runner looks) defanged by a space after its first character.
pub fn guard(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let line: String = line
            .chars()
            .map(|c| if c == '\t' { ' ' } else { c })
            .filter(|c| !is_unsafe(*c))
            .collect();
        // The runner's legacy parser acts on `##[` anywhere in a line.
        let line = line.replace(LEGACY_COMMAND, "# #[");
        let body = line.trim_start();
        if body.starts_with("::") {
            let indent = line.len() - body.len();
            out.push_str(&line[..indent + 1]);
            out.push(' ');
            out.push_str(&line[indent + 1..]);
        } else {
            out.push_str(&line);
        }
    }
    out
}

/// What starts a legacy workflow command (`##[error]…`, `##[add-mask]…`).
const LEGACY_COMMAND: &str = "##[";

/// A JSON document as it may be written: a legacy workflow command inside
/// one of its strings is written with its first `#` escaped (`\u0023`),
/// which any JSON reader reads back as the same text. (Its lines cannot start
/// with `::`: each starts with blanks and a quote or a bracket.)
pub fn guard_json(document: &str) -> String {
    document.replace(LEGACY_COMMAND, "\\u0023#[")
}

/// Which stream a line goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Writes `text` and a line break, guarded, ignoring a closed or broken
/// stream. Each call is one write of whole lines, flushed, so CI logs show
/// them live and two streams interleave by line.
pub fn write_line(stream: Stream, text: &str) {
    write_raw(stream, &guard(text));
}

/// Writes a workflow command of ours (or text already guarded) as it is:
/// only for lines this program composes from escaped parts.
pub fn write_raw(stream: Stream, text: &str) {
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    bytes.push(b'\n');
    // Best effort: EPIPE, EBADF or a full disk must not end a deploy.
    let _ = match stream {
        Stream::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes).and_then(|()| out.flush())
        }
        Stream::Stderr => std::io::stderr().lock().write_all(&bytes),
    };
}

/// A fenced Markdown code block that `text` cannot close: the fence is
/// longer than any run of backticks inside.
pub fn code_block(text: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(text).max(2) + 1);
    format!("{fence}\n{}\n{fence}\n", guard(text))
}

/// A Markdown code span for a table cell: one line, delimited by more
/// backticks than it holds, with `|` escaped so it stays in its cell.
pub fn code_span(text: &str) -> String {
    let text = clean(text).replace('|', "\\|");
    let ticks = "`".repeat(longest_backtick_run(&text) + 1);
    // A span that starts or ends with a backtick needs a space inside.
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str =
        "bad\x1b[2J\x1b]0;title\x07 thing\r\n::error::pwned\n##[error]x\u{202E}evil\u{9b}31m";

    #[test]
    fn clean_makes_one_line_without_controls() {
        let cleaned = clean(HOSTILE);
        assert_eq!(
            cleaned,
            "bad[2J]0;title thing ::error::pwned ##[error]xevil31m"
        );
        assert!(!cleaned.contains(['\n', '\r', '\x1b', '\x07']));
        assert_eq!(clean("  a\t\tb \n"), "  a b");
        assert_eq!(clean("plain text: 5/5 ok"), "plain text: 5/5 ok");
    }

    #[test]
    fn guard_defangs_workflow_commands_at_any_line_start() {
        let guarded = guard(HOSTILE);
        for line in guarded.lines() {
            let body = line.trim_start();
            assert!(
                !body.starts_with("::") && !body.starts_with("##["),
                "{line:?}"
            );
            assert!(!line.contains(['\r', '\x1b', '\x07', '\u{202E}', '\u{9b}']));
        }
        assert_eq!(guard("   ::add-mask::x"), "   : :add-mask::x");
        assert_eq!(guard("\t##[group]y"), " # #[group]y");
        assert_eq!(guard("event: ::error::x"), "event: ::error::x");
        assert_eq!(guard("a\nb"), "a\nb");
        // Legacy commands are acted on mid-line too.
        assert_eq!(
            guard("stopped: x ##[add-mask]web ##[stop-commands]tok"),
            "stopped: x # #[add-mask]web # #[stop-commands]tok"
        );
    }

    #[test]
    fn guard_json_hides_legacy_commands_and_keeps_the_text() {
        let document = serde_json::json!({"reason": "a ##[add-mask]web\n##[error]x"}).to_string();
        let guarded = guard_json(&document);
        assert!(!guarded.contains("##["), "{guarded}");
        let back: Value = serde_json::from_str(&guarded).unwrap();
        assert_eq!(back["reason"], "a ##[add-mask]web\n##[error]x");
    }

    #[test]
    fn clean_json_cleans_every_string_and_key() {
        let mut value = serde_json::json!({
            "events": [{"message": "ok\n::error::x"}],
            "k\u{1b}": "v",
            "n": 3
        });
        clean_json(&mut value);
        assert_eq!(value["events"][0]["message"], "ok ::error::x");
        assert_eq!(value["k"], "v");
        assert_eq!(value["n"], 3);
    }

    #[test]
    fn markdown_stays_inside_its_span() {
        let block = code_block("a\n```\n# not a heading\n````x");
        assert!(
            block.starts_with("`````\n") && block.ends_with("\n`````\n"),
            "{block}"
        );
        assert_eq!(code_span("web:1"), "`web:1`");
        assert_eq!(code_span("a`b|c\nd"), "``a`b\\|c d``");
        assert_eq!(code_span("`x"), "`` `x ``");
    }
}
