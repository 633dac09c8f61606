//! `credential_process`: a command that prints credentials as JSON
//! (`{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}`).
//! It gets [`TIMEOUT`] to answer; on a timeout, or when the run is
//! interrupted, it is killed — with everything it started, where it runs in
//! a process group of its own (whenever no person is at a terminal, who
//! may have to answer its prompt).

use std::io::IsTerminal;
use std::process::Stdio;
use std::time::Duration;

use super::{credentials_from_json, CredentialsFuture, ProvideCredentials};
use crate::error::Error;

/// How long a `credential_process` may take (as the Go SDK allows).
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A profile's `credential_process` command.
#[derive(Clone)]
pub struct Process {
    profile: String,
    command: String,
}

/// Kills what a helper started when the wait for it ends early (timeout,
/// interrupt): its whole process group where it has one, else itself.
struct Reaper {
    pid: Option<u32>,
    group: bool,
}

impl Drop for Reaper {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(pid) = self.pid.and_then(|p| i32::try_from(p).ok()) {
            let target = if self.group { -pid } else { pid };
            // SAFETY: kill(2) only sends a signal; a stale pid is harmless
            // because the child is not reaped before this runs.
            unsafe {
                libc::kill(target, libc::SIGKILL);
            }
        }
    }
}

impl Process {
    /// The `credential_process` `command` of `profile`.
    pub fn new(profile: &str, command: &str) -> Process {
        Process {
            profile: profile.to_string(),
            command: command.to_string(),
        }
    }

    /// Where the credentials come from, for messages.
    pub fn describe(&self) -> String {
        format!("credential_process of profile '{}'", self.profile)
    }

    /// The program the command runs, for messages: not its arguments
    /// (they often carry tokens), nor the `NAME=value` assignments before it.
    fn program(&self) -> &str {
        self.command
            .split_whitespace()
            .find(|word| !is_assignment(word))
            .unwrap_or_default()
    }

    /// Runs the command, giving it `timeout` to answer; in a process group
    /// of its own when `group` (see the module's notes).
    async fn run(&self, timeout: Duration, group: bool) -> Result<super::Credentials, Error> {
        let fail = |problem: String| {
            Error::aws(format!(
                "{} ({} …): {problem}",
                self.describe(),
                self.program()
            ))
        };
        // Through the shell, as the AWS CLI and SDKs run it, so quoting works the same.
        let mut command = tokio::process::Command::new("sh");
        command
            .args(["-c", &self.command])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        if group {
            command.process_group(0);
        }
        let child = command
            .spawn()
            .map_err(|e| fail(format!("cannot run it: {e}")))?;
        let mut reaper = Reaper {
            pid: child.id(),
            group,
        };
        let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Ok(output) => output.map_err(|e| fail(format!("cannot run it: {e}")))?,
            Err(_) => {
                return Err(fail(format!(
                    "it did not finish within {} s and was stopped",
                    timeout.as_secs_f64()
                )))
            }
        };
        // It ended by itself: nothing left to kill (its pid may be reused).
        reaper.pid = None;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stderr: String = stderr.trim().chars().take(300).collect();
            return Err(fail(format!("it exited with {}: {stderr}", output.status)));
        }
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| fail(format!("its output is not JSON ({e})")))?;
        if json["Version"].as_i64() != Some(1) {
            return Err(fail("its output must have \"Version\": 1".into()));
        }
        credentials_from_json(&json, "credential_process").map_err(fail)
    }
}

/// `NAME=value`, a shell assignment before the program.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

impl ProvideCredentials for Process {
    fn provide(&self) -> CredentialsFuture<'_> {
        // A person at a terminal may have to answer the helper's prompt,
        // which it can only read in the terminal's own process group.
        Box::pin(self.run(TIMEOUT, !std::io::stderr().is_terminal()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_within(command: &str, timeout: Duration) -> Result<super::super::Credentials, Error> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(Process::new("tool", command).run(timeout, true))
    }

    fn run(command: &str) -> Result<super::super::Credentials, Error> {
        run_within(command, TIMEOUT)
    }

    #[test]
    fn a_helper_that_hangs_is_stopped_with_what_it_started() {
        let dir = std::env::temp_dir().join(format!("ecs-deploy-hang-{}", std::process::id()));
        let pid_file = dir.with_extension("pid");
        let command = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
        let err = run_within(&command, Duration::from_millis(300))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("did not finish within 0.3 s and was stopped"),
            "{err}"
        );
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let _ = std::fs::remove_file(&pid_file);
        // Gone, or a zombie waiting for a parent that reaps nothing here.
        let stat = format!("/proc/{}/stat", pid.trim());
        for _ in 0..100 {
            match std::fs::read_to_string(&stat) {
                Err(_) => return,
                Ok(stat) if stat.contains(") Z ") => return,
                Ok(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        panic!("the helper's child outlived the timeout");
    }

    #[test]
    fn reads_version_1_output() {
        let creds = run(r#"echo '{"Version": 1, "AccessKeyId": "K", "SecretAccessKey": "S", "SessionToken": "T", "Expiration": "2030-01-01T00:00:00Z"}'"#).unwrap();
        assert_eq!(creds.access_key_id(), "K");
        assert_eq!(creds.session_token(), Some("T"));
        assert!(creds.expiry().is_some());
        let long_term =
            run(r#"echo '{"Version": 1, "AccessKeyId": "K", "SecretAccessKey": "S"}'"#).unwrap();
        assert_eq!(long_term.expiry(), None);
    }

    #[test]
    fn errors_do_not_show_the_arguments_or_assignments() {
        let err = run("false --token s3cr3t").unwrap_err().to_string();
        assert!(
            err.contains("(false …)") && !err.contains("s3cr3t"),
            "{err}"
        );
        let err = run("TOKEN=s3cr3t OTHER=x false").unwrap_err().to_string();
        assert!(
            err.contains("(false …)") && !err.contains("s3cr3t"),
            "{err}"
        );
    }

    #[test]
    fn failures_are_explained() {
        let err = run("echo nope >&2; exit 3").unwrap_err().to_string();
        assert!(
            err.contains("credential_process of profile 'tool'") && err.contains("nope"),
            "{err}"
        );
        let err = run("echo not-json").unwrap_err().to_string();
        assert!(err.contains("not JSON"), "{err}");
        let err = run(r#"echo '{"Version": 2, "AccessKeyId": "K", "SecretAccessKey": "S"}'"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("Version"), "{err}");
    }
}
