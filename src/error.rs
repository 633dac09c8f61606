//! The one error type `main` maps to an exit status (design §8).

use std::fmt;

/// Exit statuses, upstream-compatible where upstream defines them.
pub mod exit {
    /// The deployment failed, timed out or was rolled back.
    pub const FAILED: u8 = 1;
    /// AWS refused the request or could not be reached.
    pub const AWS: u8 = 2;
    /// Unknown flag, missing value, bad value, no arguments.
    pub const USAGE: u8 = 3;
    /// Neither `-n` nor `-d` was given.
    pub const NO_TARGET: u8 = 5;
    /// Both `-n` and `-d` were given.
    pub const BOTH_TARGETS: u8 = 6;
    /// `-n` without `-c`.
    pub const NO_CLUSTER: u8 = 7;
    /// No image to deploy.
    pub const NO_IMAGE: u8 = 8;
    /// `--max-definitions` is not a positive number.
    pub const BAD_MAX_DEFINITIONS: u8 = 9;
    /// `--launch-type` without `--run-task`.
    pub const LAUNCH_TYPE_WITHOUT_RUN_TASK: u8 = 10;
    /// `--network-configuration` or `--wait-for-success` without `--run-task`.
    pub const RUN_TASK_OPTION_WITHOUT_RUN_TASK: u8 = 11;
    /// `--platform-version` without `--run-task`.
    pub const PLATFORM_VERSION_WITHOUT_RUN_TASK: u8 = 12;
    /// The image reference (or `-to` tag) cannot be parsed, or the image
    /// is not in its ECR repository.
    pub const BAD_IMAGE: u8 = 13;
    /// Interrupted by Ctrl-C or SIGTERM.
    pub const INTERRUPTED: u8 = 130;
}

/// A failure that ends the run: a readable paragraph and its exit status.
#[derive(Debug)]
pub struct Error {
    exit_code: u8,
    message: String,
    /// A mistake on the command line, which `--help` answers.
    of_usage: bool,
}

impl Error {
    /// Bad command-line input; `exit_code` is one of the usage statuses.
    pub fn usage(exit_code: u8, message: impl Into<String>) -> Error {
        Error {
            exit_code,
            message: message.into(),
            of_usage: true,
        }
    }

    /// The image to deploy is not in its registry (exit 13, as for an image
    /// reference that cannot be parsed, but no mistake of the flags).
    pub fn missing_image(message: impl Into<String>) -> Error {
        Error {
            exit_code: exit::BAD_IMAGE,
            message: message.into(),
            of_usage: false,
        }
    }

    /// AWS refused or could not be reached, or the target does not exist.
    pub fn aws(message: impl Into<String>) -> Error {
        Error {
            exit_code: exit::AWS,
            message: message.into(),
            of_usage: false,
        }
    }

    /// The deployment did not succeed.
    pub fn failed(message: impl Into<String>) -> Error {
        Error {
            exit_code: exit::FAILED,
            message: message.into(),
            of_usage: false,
        }
    }

    /// The run was interrupted.
    pub fn interrupted(message: impl Into<String>) -> Error {
        Error {
            exit_code: exit::INTERRUPTED,
            message: message.into(),
            of_usage: false,
        }
    }

    /// The same error, with `lines` after its message (what else went wrong
    /// in the same step).
    pub fn with_lines(mut self, lines: impl IntoIterator<Item = String>) -> Error {
        for line in lines {
            self.message.push('\n');
            self.message.push_str(&line);
        }
        self
    }

    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        self.exit_code
    }

    /// Whether this is a command-line mistake (so a pointer to `--help` helps).
    pub fn is_usage(&self) -> bool {
        self.of_usage
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
