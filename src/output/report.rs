//! The result of a run rendered for machines: the `--output json`
//! document, and what a GitHub Actions step gets (`$GITHUB_OUTPUT`,
//! `$GITHUB_STEP_SUMMARY`). The result itself is `core::report`.

use std::path::Path;

use super::safe;
use crate::core::logs::ContainerLog;
use crate::core::report::Report;
use crate::files;

/// The document for `--output json`, safe to write to a CI log.
pub fn to_json(report: &Report) -> String {
    safe::guard_json(&serde_json::to_string_pretty(report).expect("a report serialises"))
}

/// `key=value` lines for `$GITHUB_OUTPUT`: the result, the (first)
/// task definition, and one `task_definition_<service>` per service.
/// Keys and values are one line each, so an answer cannot add outputs.
pub fn github_outputs(report: &Report) -> String {
    let mut out = format!("result={}\n", report.result.as_str());
    let first = report.task_definition.as_ref().or_else(|| {
        report
            .services
            .iter()
            .find_map(|s| s.task_definition.as_ref())
    });
    if let Some(arn) = first {
        out.push_str(&format!("task_definition={}\n", safe::clean(arn)));
    }
    for service in &report.services {
        if let Some(arn) = &service.task_definition {
            out.push_str(&format!(
                "task_definition_{}={}\n",
                output_key(&service.service),
                safe::clean(arn)
            ));
        }
    }
    out
}

/// A short Markdown table for `$GITHUB_STEP_SUMMARY`; every value from
/// AWS stays inside its code span or code block.
pub fn github_summary(report: &Report) -> String {
    let mut out = format!("### ecs-deploy: {}\n\n", report.result.as_str());
    if !report.services.is_empty() {
        out.push_str(
            "| service | result | task definition | previous | seconds |\n|---|---|---|---|---|\n",
        );
        for s in &report.services {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {:.0} |\n",
                safe::code_span(&s.service),
                s.result.as_str(),
                short(s.task_definition.as_deref()),
                short(s.previous_task_definition.as_deref()),
                s.duration_seconds
            ));
        }
    } else if let Some(arn) = &report.task_definition {
        out.push_str(&format!("Registered {}.\n", short(Some(arn))));
    }
    if let Some(reason) = &report.reason {
        out.push('\n');
        out.push_str(&safe::code_block(reason));
    }
    let service_logs = report.services.iter().flat_map(|s| {
        s.logs
            .iter()
            .map(move |log| (Some(s.service.as_str()), log))
    });
    let task_logs = report
        .task
        .iter()
        .flat_map(|t| t.logs.iter().map(|log| (None, log)));
    for (service, log) in service_logs.chain(task_logs) {
        out.push_str(&collapsed_log(service, log));
    }
    out
}

/// A container's last log lines as a collapsed block of the summary: the
/// lines stay inside their code block, whatever they hold.
fn collapsed_log(service: Option<&str>, log: &ContainerLog) -> String {
    let of_service = service
        .map(|s| format!(", service {}", safe::code_span(s)))
        .unwrap_or_default();
    format!(
        "\n<details><summary>Last log lines of {} (task {}{of_service})</summary>\n\n{}\n</details>\n",
        safe::code_span(&log.container),
        safe::code_span(&log.task),
        safe::code_block(&log.lines.join("\n"))
    )
}

/// A revision as a code span, or `-`.
fn short(arn: Option<&str>) -> String {
    arn.map(|arn| safe::code_span(crate::core::taskdef::short_revision(arn)))
        .unwrap_or_else(|| "-".into())
}

/// A service name as an output key: letters, digits, `_` and `-` only.
fn output_key(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Appends `text` to the file a GitHub variable names, if it is set.
pub async fn append_to_github_file(
    env: &dyn Fn(&str) -> Option<String>,
    variable: &str,
    text: &str,
) -> Result<(), String> {
    let Some(path) = env(variable) else {
        return Ok(());
    };
    files::append(Path::new(&path), text.as_bytes().to_vec())
        .await
        .map_err(|e| format!("cannot write {variable} ({path}): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::report::Outcome;

    fn report() -> Report {
        let mut report = Report::new(Some("prod"));
        report.result = Outcome::Failed;
        let web = report.service("web");
        web.result = Outcome::Success;
        web.task_definition = Some("arn:aws:ecs:us-east-1:1:task-definition/web:8".into());
        web.previous_task_definition = Some("arn:aws:ecs:us-east-1:1:task-definition/web:7".into());
        let worker = report.service("worker.v2");
        worker.result = Outcome::RolledBack;
        worker.task_definition = Some("arn:aws:ecs:us-east-1:1:task-definition/worker:3".into());
        report.reason = Some("worker failed".into());
        report
    }

    #[test]
    fn json_document_has_the_documented_fields() {
        let json: serde_json::Value = serde_json::from_str(&to_json(&report())).unwrap();
        assert_eq!(json["result"], "failed");
        assert_eq!(json["cluster"], "prod");
        assert_eq!(json["services"][1]["result"], "rolled_back");
        for field in [
            "service",
            "previous_task_definition",
            "task_definition",
            "deployment_id",
            "images",
            "duration_seconds",
            "reason",
            "rollback",
        ] {
            assert!(json["services"][0].get(field).is_some(), "{field} missing");
        }
    }

    #[test]
    fn github_outputs_and_summary() {
        let report = report();
        assert_eq!(
            github_outputs(&report),
            "result=failed\ntask_definition=arn:aws:ecs:us-east-1:1:task-definition/web:8\ntask_definition_web=arn:aws:ecs:us-east-1:1:task-definition/web:8\ntask_definition_worker_v2=arn:aws:ecs:us-east-1:1:task-definition/worker:3\n"
        );
        let summary = github_summary(&report);
        assert!(
            summary.contains("| `web` | success | `web:8` | `web:7` |"),
            "{summary}"
        );
        assert!(summary.contains("worker failed"), "{summary}");
    }

    #[test]
    fn log_lines_stay_inside_their_collapsed_block() {
        let mut report = Report::new(Some("prod"));
        report.service("web").logs = vec![ContainerLog {
            container: "app".into(),
            task: "abc".into(),
            lines: vec!["```".into(), "# owned".into(), "</details>".into()],
        }];
        let summary = github_summary(&report);
        assert!(
            summary.contains("<details><summary>Last log lines of `app` (task `abc`, service `web`)</summary>\n\n````\n```\n# owned\n</details>\n````\n\n</details>\n"),
            "{summary}"
        );
    }

    #[test]
    fn answers_cannot_add_outputs_or_leave_their_span() {
        let mut report = Report::new(Some("prod"));
        let web = report.service("web|x");
        web.task_definition = Some("arn:aws:ecs:r:1:task-definition/web:8\nresult=success".into());
        report.reason = Some("stopped: ```\n# owned\n```".into());
        let outputs = github_outputs(&report);
        assert_eq!(outputs.lines().count(), 3, "{outputs}");
        assert!(
            outputs.lines().all(|l| !l.starts_with("result=success")),
            "{outputs}"
        );
        let summary = github_summary(&report);
        assert!(
            summary.contains("| `web\\|x` | error | `web:8 result=success` |"),
            "{summary}"
        );
        assert!(
            summary.contains("````\nstopped: ```\n# owned\n```\n````\n"),
            "{summary}"
        );
    }
}
