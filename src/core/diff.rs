//! A unified diff of two texts, line by line, for `--dry-run`. Pure.
//! Task definitions are a few hundred lines, so the quadratic
//! longest-common-subsequence table is small and keeps this short.

const CONTEXT: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

/// The unified diff of `old` and `new` (only the changed hunks, with three
/// lines of context), under `---`/`+++` headers; empty when they are equal.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    let lines = diff_lines(old, new);
    if lines.iter().all(|l| matches!(l, Line::Same(_))) {
        return String::new();
    }
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    for hunk in hunks(&lines) {
        out.push_str(&render(&lines, hunk));
    }
    out
}

fn diff_lines<'a>(old: &'a str, new: &'a str) -> Vec<Line<'a>> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut lines = Vec::with_capacity(a.len().max(b.len()));
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            lines.push(Line::Same(a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removals first, as diff(1) shows them.
            lines.push(Line::Removed(a[i]));
            i += 1;
        } else {
            lines.push(Line::Added(b[j]));
            j += 1;
        }
    }
    lines
}

/// Ranges of `lines` to show: each change with its context, overlapping ones merged.
fn hunks(lines: &[Line<'_>]) -> Vec<std::ops::Range<usize>> {
    let mut hunks: Vec<std::ops::Range<usize>> = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if matches!(line, Line::Same(_)) {
            continue;
        }
        let start = index.saturating_sub(CONTEXT);
        let end = (index + CONTEXT + 1).min(lines.len());
        match hunks.last_mut() {
            Some(last) if start <= last.end => last.end = last.end.max(end),
            _ => hunks.push(start..end),
        }
    }
    hunks
}

fn render(lines: &[Line<'_>], hunk: std::ops::Range<usize>) -> String {
    // 1-based line numbers of the hunk's first line in each text.
    let before = &lines[..hunk.start];
    let old_start = before
        .iter()
        .filter(|l| !matches!(l, Line::Added(_)))
        .count()
        + 1;
    let new_start = before
        .iter()
        .filter(|l| !matches!(l, Line::Removed(_)))
        .count()
        + 1;
    let body = &lines[hunk];
    let old_len = body.iter().filter(|l| !matches!(l, Line::Added(_))).count();
    let new_len = body
        .iter()
        .filter(|l| !matches!(l, Line::Removed(_)))
        .count();
    let mut out = format!("@@ -{old_start},{old_len} +{new_start},{new_len} @@\n");
    for line in body {
        let (mark, text) = match line {
            Line::Same(t) => (' ', t),
            Line::Removed(t) => ('-', t),
            Line::Added(t) => ('+', t),
        };
        out.push(mark);
        out.push_str(text);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a\nb\n", "a\nb\n", "old", "new"), "");
    }

    #[test]
    fn one_change_with_context() {
        let old: String = (1..=10).map(|i| format!("line {i}\n")).collect();
        let new = old.replace("line 5\n", "line five\n");
        assert_eq!(
            unified(&old, &new, "web:1", "web:2"),
            "--- web:1\n+++ web:2\n@@ -2,7 +2,7 @@\n line 2\n line 3\n line 4\n-line 5\n+line five\n line 6\n line 7\n line 8\n"
        );
    }

    #[test]
    fn distant_changes_make_separate_hunks_and_near_ones_merge() {
        let old: String = (1..=30).map(|i| format!("{i}\n")).collect();
        let new = old
            .replace("\n3\n", "\nthree\n")
            .replace("\n25\n", "\n")
            .replace("\n6\n", "\nsix\n");
        let diff = unified(&old, &new, "a", "b");
        assert_eq!(diff.matches("@@ -").count(), 2, "{diff}");
        assert!(diff.contains("@@ -1,9 +1,9 @@"), "{diff}");
        assert!(diff.contains("@@ -22,7 +22,6 @@"), "{diff}");
        assert!(diff.contains("-25\n"), "{diff}");
    }

    #[test]
    fn additions_at_the_end() {
        assert_eq!(
            unified("a\n", "a\nb\n", "x", "y"),
            "--- x\n+++ y\n@@ -1,1 +1,2 @@\n a\n+b\n"
        );
    }
}
