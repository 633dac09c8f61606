//! The README against the tree: its list of source files is every source
//! file and nothing else, and its benchmark table is `bench/results.md`
//! (what `make bench` wrote last), not numbers typed by hand; the IAM
//! statements it shows, for tests that hold runs to them.

use std::collections::BTreeSet;
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Where the source files the README lists live, and their extensions.
const SOURCE_DIRS: [(&str, &str); 7] = [
    ("src", "rs"),
    ("fake-ecs/src", "rs"),
    ("tests", "rs"),
    ("examples", "rs"),
    ("scripts", "py"),
    ("fixtures", "py"),
    ("action", "sh"),
];
/// Source files at the top of the tree.
const TOP_LEVEL_SOURCES: [&str; 1] = ["build.rs"];

fn readme() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap()
}

/// The actions of the IAM statement the README shows with this `Sid`, in
/// a ```json block of its own.
pub(crate) fn policy_statement(sid: &str) -> Vec<String> {
    let text = readme();
    let marker = format!("\"Sid\": \"{sid}\"");
    let at = text
        .find(&marker)
        .unwrap_or_else(|| panic!("README shows no statement {sid}"));
    let start = text[..at].rfind("```json\n").unwrap() + "```json\n".len();
    let end = at + text[at..].find("```").unwrap();
    let statement: serde_json::Value = serde_json::from_str(&text[start..end])
        .unwrap_or_else(|e| panic!("README's statement {sid} is not JSON: {e}"));
    statement["Action"]
        .as_array()
        .unwrap_or_else(|| panic!("README's statement {sid} lists no actions"))
        .iter()
        .map(|action| action.as_str().unwrap().to_string())
        .collect()
}

/// The text between `<!-- {name}:begin…-->` and `<!-- {name}:end -->`.
fn block(text: &str, name: &str) -> String {
    let start = text
        .find(&format!("<!-- {name}:begin"))
        .unwrap_or_else(|| panic!("README has no {name} block"));
    let start = start + text[start..].find("-->").unwrap() + "-->".len();
    let end = text[start..]
        .find(&format!("<!-- {name}:end -->"))
        .unwrap_or_else(|| panic!("README's {name} block has no end"))
        + start;
    text[start..end].trim().to_string()
}

fn files_under(dir: &Path, extension: &str, relative_to: &Path, into: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, extension, relative_to, into);
        } else if path.extension().is_some_and(|e| e == extension) {
            let relative = path.strip_prefix(relative_to).unwrap();
            into.insert(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[test]
fn the_layout_lists_every_source_file_and_nothing_else() {
    let root = Path::new(ROOT);
    let mut tree = BTreeSet::new();
    for (dir, extension) in SOURCE_DIRS {
        files_under(&root.join(dir), extension, root, &mut tree);
    }
    tree.extend(TOP_LEVEL_SOURCES.iter().map(|f| f.to_string()));
    let layout = block(&readme(), "layout");
    let listed: BTreeSet<String> = layout
        .lines()
        .filter(|line| !line.starts_with("```"))
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect();
    let missing: Vec<&String> = tree.difference(&listed).collect();
    let stale: Vec<&String> = listed.difference(&tree).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "README's layout is out of date: not listed {missing:?}; listed but gone {stale:?}"
    );
}

#[test]
fn the_benchmark_table_is_the_last_make_bench() {
    let results = std::fs::read_to_string(Path::new(ROOT).join("bench/results.md")).unwrap();
    assert_eq!(
        block(&readme(), "bench"),
        results.trim(),
        "run `make readme` to copy bench/results.md into the README"
    );
}
