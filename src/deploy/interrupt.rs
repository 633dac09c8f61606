//! Ctrl-C, SIGTERM, SIGHUP and SIGQUIT: one listener for the whole run, and
//! the journal of what the run changed, what it was doing and what it waits
//! for, which becomes the message.

use std::cell::{Cell, RefCell};

/// What a run has changed so far, the writes it is in the middle of, and
/// what it is waiting for: the message when a signal stops it.
#[derive(Default)]
pub struct Journal {
    changed: RefCell<Vec<String>>,
    /// The writes in flight (several when services are updated together),
    /// each with its number and the AWS service it went to.
    sending: RefCell<Vec<(u64, &'static str, String)>>,
    sent: Cell<u64>,
    in_progress: RefCell<Vec<String>>,
    rolling_back: Cell<bool>,
}

/// A write in flight, as [`Journal::sending`] noted it: it ends as a change
/// ([`Sending::changed`]) or as nothing done ([`Sending::settled`]). One
/// that is simply dropped stays in flight, as it should when an interrupt
/// drops the run in the middle of it.
#[must_use = "a write in flight ends as changed or settled"]
pub struct Sending<'j> {
    journal: &'j Journal,
    number: u64,
}

impl Sending<'_> {
    /// The write went through: it changed `what`.
    pub fn changed(self, what: String) {
        self.end();
        self.journal.changed(what);
    }

    /// The write failed: AWS did not act on it, or the error message says
    /// that it may have.
    pub fn settled(self) {
        self.end();
    }

    fn end(&self) {
        self.journal
            .sending
            .borrow_mut()
            .retain(|(number, _, _)| *number != self.number);
    }
}

impl Journal {
    /// Notes a change made in AWS.
    pub fn changed(&self, what: String) {
        self.changed.borrow_mut().push(what);
    }

    /// Notes a write about to be sent to `api` ("ECS", "CodeDeploy"), which
    /// may take effect even when its answer never comes: "registering a new
    /// revision of web".
    pub fn sending(&self, api: &'static str, what: String) -> Sending<'_> {
        let number = self.sent.get() + 1;
        self.sent.set(number);
        self.sending.borrow_mut().push((number, api, what));
        Sending {
            journal: self,
            number,
        }
    }

    /// Replaces the lines about what is still going on.
    pub fn in_progress(&self, lines: Vec<String>) {
        self.in_progress.replace(lines);
    }

    /// Notes that a rollback has been sent: an interrupt from now on leaves
    /// it running in ECS.
    pub fn rolling_back(&self) {
        self.rolling_back.set(true);
    }

    /// The message for a run that `signal` stopped.
    pub fn interrupted(&self, signal: &str) -> String {
        let changed = self.changed.borrow();
        let mut message = if changed.is_empty() {
            format!("{signal} received before anything was changed in AWS.")
        } else {
            format!("{signal} received. Changed so far: {}.", changed.join("; "))
        };
        for (_, api, what) in self.sending.borrow().iter() {
            message.push_str(&format!(
                "\nIt came while {what}: the request may have reached {api} and taken effect."
            ));
        }
        for line in self.in_progress.borrow().iter() {
            message.push('\n');
            message.push_str(line);
        }
        message.push_str(if self.rolling_back.get() {
            "\nThe rollback was sent and goes on in ECS; it was not waited for."
        } else {
            "\nNothing was rolled back."
        });
        message
    }
}

/// Ctrl-C, SIGTERM, SIGHUP (a closed terminal or SSH session) and SIGQUIT,
/// caught from the moment [`Interrupts::catch`] returns: from then on none
/// of them kills the process, so every phase of the run must answer them,
/// and none may block the runtime thread.
pub struct Interrupts {
    #[cfg(unix)]
    caught: [(Option<tokio::signal::unix::Signal>, &'static str); 4],
}

impl Interrupts {
    /// Starts catching the signals; must run inside the runtime. (Catching
    /// begins here, not at the first wait, so that a signal that comes
    /// before the run first waits still ends it with the journal.)
    pub fn catch() -> Interrupts {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let listen = |kind: SignalKind, name| (signal(kind).ok(), name);
            Interrupts {
                caught: [
                    listen(SignalKind::interrupt(), "Ctrl-C"),
                    listen(SignalKind::terminate(), "SIGTERM"),
                    listen(SignalKind::hangup(), "SIGHUP"),
                    listen(SignalKind::quit(), "SIGQUIT"),
                ],
            }
        }
        #[cfg(not(unix))]
        Interrupts {}
    }

    /// Resolves on the next of the signals, naming it: each ends the run
    /// with the journal.
    pub async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            async fn recv(
                caught: &mut (Option<tokio::signal::unix::Signal>, &'static str),
            ) -> &'static str {
                match &mut caught.0 {
                    Some(signal) => drop(signal.recv().await),
                    None => std::future::pending().await,
                }
                caught.1
            }
            let [interrupt, terminate, hangup, quit] = &mut self.caught;
            tokio::select! {
                name = recv(interrupt) => name,
                name = recv(terminate) => name,
                name = recv(hangup) => name,
                name = recv(quit) => name,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_says_what_changed_what_was_in_flight_and_the_rollback() {
        let journal = Journal::default();
        assert_eq!(
            journal.interrupted("SIGHUP"),
            "SIGHUP received before anything was changed in AWS.\nNothing was rolled back."
        );
        let registering = journal.sending("ECS", "registering a new revision of web".into());
        let message = journal.interrupted("Ctrl-C");
        assert!(
            message.contains(
                "while registering a new revision of web: the request may have reached ECS"
            ),
            "{message}"
        );
        // Writes to several services go out together: each is named.
        let creating = journal.sending("CodeDeploy", "creating a deployment of web".into());
        let message = journal.interrupted("SIGINT");
        assert!(
            message.contains("revision of web: the request may have reached ECS"),
            "{message}"
        );
        assert!(
            message.contains("deployment of web: the request may have reached CodeDeploy"),
            "{message}"
        );
        registering.changed("registered web:2".into());
        creating.settled();
        journal.rolling_back();
        let message = journal.interrupted("SIGTERM");
        assert!(!message.contains("may have reached"), "{message}");
        assert!(
            message.ends_with("The rollback was sent and goes on in ECS; it was not waited for."),
            "{message}"
        );
    }
}
