//! One check's outcome and how it is printed: `✔ NAME: DETAIL`,
//! `✘ NAME: DETAIL; fix: WHAT TO DO`, `! NAME: DETAIL` for a warning
//! (which does not fail the doctor), a step's time in parentheses; or
//! one JSON object for all checks with `--json`.

use std::time::Duration;

use serde::Serialize;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Fine.
    Pass,
    /// Works, but not as well as it could (not a failure).
    Warn,
    /// Broken: the fix says what to do.
    Fail,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked (`region`, `credentials`, `target`, …).
    pub check: String,
    /// How it came out.
    pub outcome: Outcome,
    /// What was found.
    pub detail: String,
    /// What to do, for a failure or a warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// How long the step took, for the timed ones (`--probe`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub millis: Option<u64>,
}

impl Check {
    /// A passed check.
    pub fn pass(check: &str, detail: impl Into<String>) -> Self {
        Self::new(check, Outcome::Pass, detail.into(), None)
    }

    /// A failed check and its fix.
    pub fn fail(check: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Outcome::Fail, detail.into(), Some(fix.into()))
    }

    /// A warning and what would make it go away.
    pub fn warn(check: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Outcome::Warn, detail.into(), Some(fix.into()))
    }

    /// The same check, with the time its step took.
    #[must_use]
    pub fn took(mut self, elapsed: Duration) -> Self {
        self.millis = Some(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// True unless it failed.
    pub fn passed(&self) -> bool {
        self.outcome != Outcome::Fail
    }

    fn new(check: &str, outcome: Outcome, detail: String, fix: Option<String>) -> Self {
        Self {
            check: check.to_owned(),
            outcome,
            detail,
            fix,
            millis: None,
        }
    }

    /// The check's line.
    pub fn line(&self) -> String {
        let mark = match self.outcome {
            Outcome::Pass => '✔',
            Outcome::Warn => '!',
            Outcome::Fail => '✘',
        };
        let mut line = format!("{mark} {}: {}", self.check, self.detail);
        if let Some(millis) = self.millis {
            line.push_str(&format!(" ({millis} ms)"));
        }
        if let Some(fix) = &self.fix {
            line.push_str(&format!("; fix: {fix}"));
        }
        line
    }
}

/// Every check as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    /// True when no check failed.
    pub ok: bool,
    /// The checks, in order.
    pub checks: &'a [Check],
}

/// The lines (or JSON object) for `checks`, newline-terminated.
pub fn render(checks: &[Check], json: bool) -> String {
    if json {
        let summary = Summary {
            ok: checks.iter().all(Check::passed),
            checks,
        };
        return serde_json::to_string(&summary).unwrap_or_default() + "\n";
    }
    checks.iter().map(|check| check.line() + "\n").collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_the_mark_the_time_and_the_fix() {
        let checks = [
            Check::pass("region", "us-east-1 (from --region)"),
            Check::fail("target", "i-1 is offline", "start it").took(Duration::from_millis(12)),
            Check::warn("smux", "agent 3.0.1 has no smux", "update the agent"),
        ];
        assert_eq!(
            render(&checks, false),
            "✔ region: us-east-1 (from --region)\n\
             ✘ target: i-1 is offline (12 ms); fix: start it\n\
             ! smux: agent 3.0.1 has no smux; fix: update the agent\n"
        );
        let json: serde_json::Value = serde_json::from_str(&render(&checks, true)).unwrap();
        assert_eq!(json["ok"], false);
        assert_eq!(json["checks"][1]["outcome"], "fail");
        assert_eq!(json["checks"][1]["millis"], 12);
        assert!(json["checks"][0].get("fix").is_none());
    }
}
