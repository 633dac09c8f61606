//! `credential_process`: a command that prints credentials as JSON
//! (`{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}`).

use std::process::{Command, Stdio};

use super::{credentials_from_json, CredentialsFuture, ProvideCredentials};
use crate::error::Error;

/// A profile's `credential_process` command.
#[derive(Clone)]
pub struct Process {
    profile: String,
    command: String,
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

    fn run(&self) -> Result<super::Credentials, Error> {
        let fail = |problem: String| {
            // Only the program: its arguments often carry tokens.
            let program = self.command.split_whitespace().next().unwrap_or_default();
            Error::aws(format!("{} ({program} …): {problem}", self.describe()))
        };
        // Through the shell, as the AWS CLI and SDKs run it, so quoting works the same.
        let output = Command::new("sh")
            .args(["-c", &self.command])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| fail(format!("cannot run it: {e}")))?;
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

impl ProvideCredentials for Process {
    fn provide(&self) -> CredentialsFuture<'_> {
        // On the blocking pool, so that the runtime can still answer a
        // Ctrl-C while a slow (or hung) helper runs.
        let process = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || process.run())
                .await
                .map_err(|e| Error::aws(format!("credential_process did not finish: {e}")))?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(command: &str) -> Result<super::super::Credentials, Error> {
        Process::new("tool", command).run()
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
    fn errors_do_not_show_the_arguments() {
        let err = run("false --token s3cr3t").unwrap_err().to_string();
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
