//! Ctrl-C and SIGTERM: one listener for the whole run, and the journal of
//! what the run changed and waits for, which becomes the message.

use std::cell::RefCell;

/// What a run has changed so far and what it is waiting for: the message
/// when a Ctrl-C or SIGTERM stops it.
#[derive(Default)]
pub struct Journal {
    changed: RefCell<Vec<String>>,
    in_progress: RefCell<Vec<String>>,
}

impl Journal {
    /// Notes a change made in AWS.
    pub fn changed(&self, what: String) {
        self.changed.borrow_mut().push(what);
    }

    /// Replaces the lines about what is still going on.
    pub fn in_progress(&self, lines: Vec<String>) {
        self.in_progress.replace(lines);
    }

    /// The message for a run that `signal` stopped.
    pub fn interrupted(&self, signal: &str) -> String {
        let changed = self.changed.borrow();
        let mut message = if changed.is_empty() {
            format!("{signal} received before anything was changed in AWS.")
        } else {
            format!("{signal} received. Changed so far: {}.", changed.join("; "))
        };
        for line in self.in_progress.borrow().iter() {
            message.push('\n');
            message.push_str(line);
        }
        message.push_str("\nNothing was rolled back.");
        message
    }
}

/// Resolves on Ctrl-C or SIGTERM, naming which.
pub async fn interrupted() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "Ctrl-C",
                _ = term.recv() => "SIGTERM",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "Ctrl-C"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
