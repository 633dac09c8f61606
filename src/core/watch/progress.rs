//! Remembers what has been reported of a service, so that each poll prints
//! only what changed: task counts, new service events, new failures.

use std::collections::HashSet;

use super::rolling::Watch;
use crate::core::service::Service;
use crate::core::taskdef::short_revision;

/// Remembers what has been reported so far, so that each poll prints only
/// what changed: task counts, new service events, new failures.
#[derive(Debug, Default)]
pub struct Progress {
    last_counts: Option<(u32, u32, u32)>,
    seen_events: HashSet<String>,
    last_failed_tasks: u32,
}

impl Progress {
    /// Starts tracking from the service as it was before the deploy: its
    /// existing events are history, not news.
    pub fn new(before: &Service) -> Progress {
        Progress {
            seen_events: before.events.iter().map(|e| e.id.clone()).collect(),
            ..Progress::default()
        }
    }

    /// `running/pending/desired` of the watched deployment, when they changed.
    pub fn counts_change(&mut self, service: &Service, watch: &Watch) -> Option<String> {
        let d = service.deployment(&watch.deployment_id)?;
        let counts = (d.running_count, d.pending_count, d.desired_count);
        if self.last_counts == Some(counts) {
            return None;
        }
        self.last_counts = Some(counts);
        let others: Vec<String> = service
            .deployments
            .iter()
            .filter(|o| o.id != d.id)
            .map(|o| {
                format!(
                    "{} running on {}",
                    o.running_count,
                    short_revision(&o.task_definition)
                )
            })
            .collect();
        let mut line = format!("{}: {}", short_revision(&d.task_definition), d.counts());
        if d.failed_tasks > 0 {
            line.push_str(&format!(", {} failed", d.failed_tasks));
        }
        if !others.is_empty() {
            line.push_str(&format!(" (old: {})", others.join(", ")));
        }
        Some(line)
    }

    /// Service events not seen before, oldest first.
    pub fn new_events<'s>(&mut self, service: &'s Service) -> Vec<&'s str> {
        let mut fresh: Vec<&str> = service
            .events
            .iter()
            .filter(|e| self.seen_events.insert(e.id.clone()))
            .map(|e| e.message.as_str())
            .collect();
        fresh.reverse();
        fresh
    }

    /// Whether the watched deployment has stopped tasks not yet looked at.
    pub fn has_new_failed_tasks(&mut self, service: &Service, watch: &Watch) -> bool {
        let failed = service
            .deployment(&watch.deployment_id)
            .map_or(0, |d| d.failed_tasks);
        let grew = failed > self.last_failed_tasks;
        self.last_failed_tasks = self.last_failed_tasks.max(failed);
        grew
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::watch::testing::*;

    #[test]
    fn progress_reports_only_changes() {
        let mut before = service(2, json!([deployment("ecs-svc/1", "PRIMARY", OLD, 2, 2)]));
        before.events =
            serde_json::from_value(json!([{"id": "e1", "message": "old news"}])).unwrap();
        let mut progress = Progress::new(&before);

        let mut now = service(
            2,
            json!([
                deployment("ecs-svc/2", "PRIMARY", NEW, 1, 2),
                deployment("ecs-svc/1", "ACTIVE", OLD, 2, 2),
            ]),
        );
        now.events = serde_json::from_value(json!([
            {"id": "e3", "message": "second"},
            {"id": "e2", "message": "first"},
            {"id": "e1", "message": "old news"},
        ]))
        .unwrap();
        assert_eq!(progress.new_events(&now), ["first", "second"]);
        assert!(progress.new_events(&now).is_empty());
        let line = progress.counts_change(&now, &watch()).unwrap();
        assert_eq!(
            line,
            "web:8: 1 running, 1 pending, 2 desired (old: 2 running on web:7)"
        );
        assert_eq!(progress.counts_change(&now, &watch()), None);

        assert!(!progress.has_new_failed_tasks(&now, &watch()));
        now.deployments[0].failed_tasks = 2;
        assert!(progress.has_new_failed_tasks(&now, &watch()));
        assert!(!progress.has_new_failed_tasks(&now, &watch()));
    }
}
