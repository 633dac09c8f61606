//! Names the build for `--version`: the target it was built for and the
//! commit it was built from (`ECS_DEPLOY_COMMIT` when set, e.g. for a build
//! outside a git checkout; else `git rev-parse`; else "unknown").

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=ECS_DEPLOY_COMMIT");
    // A new commit moves the branch HEAD points at.
    println!("cargo:rerun-if-changed=.git/HEAD");
    if let Ok(head) = std::fs::read_to_string(".git/HEAD") {
        if let Some(reference) = head.trim().strip_prefix("ref: ") {
            println!("cargo:rerun-if-changed=.git/{reference}");
        }
    }
    println!("cargo:rerun-if-changed=.git/packed-refs");
    let commit = std::env::var("ECS_DEPLOY_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            let output = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()?;
            let commit = String::from_utf8(output.stdout).ok()?.trim().to_string();
            (output.status.success() && !commit.is_empty()).then_some(commit)
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=ECS_DEPLOY_COMMIT={commit}");
    println!(
        "cargo:rustc-env=ECS_DEPLOY_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
}
