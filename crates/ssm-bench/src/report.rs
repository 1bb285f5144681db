//! The figures measured so far and their markdown rendering.

mod targets;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::machine::Machine;
use crate::metrics;
use crate::subject::{Kind, Subject};

/// Which way a figure improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Better {
    /// Throughput and the like.
    Higher,
    /// Times, CPU, memory, failures.
    Lower,
    /// Context, not a score.
    Neither,
}

/// What a figure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Metric {
    /// Group heading (one per scenario).
    pub(crate) section: &'static str,
    /// What was measured, with its unit.
    pub(crate) name: &'static str,
    /// Which way is better.
    pub(crate) better: Better,
    /// Decimal places shown.
    pub(crate) decimals: usize,
}

#[derive(Debug)]
struct Figure {
    metric: Metric,
    values: BTreeMap<Kind, f64>,
}

/// Everything measured in one run.
#[derive(Debug)]
pub(crate) struct Report {
    subjects: Vec<(Kind, String)>,
    figures: Vec<Figure>,
    notes: Vec<String>,
    failures: Vec<String>,
    /// Extra tables (markdown), printed after the main one.
    tables: Vec<String>,
}

impl Report {
    /// An empty report comparing these subjects.
    pub(crate) fn new(subjects: &[Subject]) -> Self {
        Self {
            subjects: subjects
                .iter()
                .map(|s| (s.kind, format!("{} ({})", s.version, s.path.display())))
                .collect(),
            figures: Vec::new(),
            notes: Vec::new(),
            failures: Vec::new(),
            tables: Vec::new(),
        }
    }

    /// Records one value (replacing an earlier one).
    pub(crate) fn record(&mut self, metric: Metric, kind: Kind, value: f64) {
        let index = match self.figures.iter().position(|f| f.metric == metric) {
            Some(index) => index,
            None => {
                self.figures.push(Figure {
                    metric,
                    values: BTreeMap::new(),
                });
                self.figures.len() - 1
            }
        };
        self.figures[index].values.insert(kind, value);
    }

    /// A recorded value.
    pub(crate) fn value(&self, metric: Metric, kind: Kind) -> Option<f64> {
        self.figures
            .iter()
            .find(|f| f.metric == metric)
            .and_then(|f| f.values.get(&kind).copied())
    }

    /// Adds a remark printed under the table.
    pub(crate) fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        eprintln!("   note: {text}");
        self.notes.push(text);
    }

    /// Adds a table of its own (markdown) after the main one.
    pub(crate) fn table(&mut self, markdown: String) {
        eprintln!("{markdown}");
        self.tables.push(markdown);
    }

    /// Records a failed measurement.
    pub(crate) fn fail(&mut self, text: impl Into<String>) {
        let text = text.into();
        eprintln!("   FAILED: {text}");
        self.failures.push(text);
    }

    /// The failures so far.
    pub(crate) fn failures(&self) -> &[String] {
        &self.failures
    }

    /// The whole report as markdown.
    pub(crate) fn render(
        &self,
        before: &Machine,
        after: &Machine,
        took: Duration,
        command: &str,
    ) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Command: `{command}`  ");
        let _ = writeln!(out, "Machine: {before}  ");
        let _ = writeln!(
            out,
            "Load average (1, 5, 15 min): {} at start, {} at end; run took {:.0} s  ",
            before.load,
            after.load,
            took.as_secs_f64()
        );
        for (kind, version) in &self.subjects {
            let _ = writeln!(out, "{}: {version}  ", kind.name());
        }
        out.push('\n');
        self.render_table(&mut out);
        for table in &self.tables {
            let _ = writeln!(out, "{table}");
        }
        targets::render(self, &mut out);
        render_list(&mut out, "Notes", &self.notes);
        render_list(&mut out, "Failures", &self.failures);
        out
    }

    fn kinds(&self) -> Vec<Kind> {
        self.subjects.iter().map(|(kind, _)| *kind).collect()
    }

    fn render_table(&self, out: &mut String) {
        let kinds = self.kinds();
        let compare = kinds.len() == 2;
        let mut header: Vec<&str> = vec!["figure"];
        header.extend(kinds.iter().map(|k| k.name()));
        if compare {
            header.push("ours/plugin");
        }
        header.push("better");
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
        let mut section = "";
        let ordered = metrics::ALL
            .iter()
            .filter_map(|metric| self.figures.iter().find(|f| f.metric == *metric));
        for figure in ordered {
            if figure.metric.section != section {
                section = figure.metric.section;
                let blanks = " |".repeat(header.len() - 1);
                let _ = writeln!(out, "| **{section}** |{blanks}");
            }
            let _ = writeln!(out, "{}", figure.row(&kinds, compare));
        }
        out.push('\n');
    }
}

impl Figure {
    fn row(&self, kinds: &[Kind], compare: bool) -> String {
        let metric = &self.metric;
        let mut cells = vec![metric.name.to_owned()];
        for kind in kinds {
            cells.push(match self.values.get(kind) {
                Some(value) => format!("{value:.*}", metric.decimals),
                None => "–".into(),
            });
        }
        if compare {
            cells.push(self.ratio());
        }
        cells.push(
            match metric.better {
                Better::Higher => "higher",
                Better::Lower => "lower",
                Better::Neither => "",
            }
            .into(),
        );
        format!("| {} |", cells.join(" | "))
    }

    fn ratio(&self) -> String {
        match (self.values.get(&Kind::Ours), self.values.get(&Kind::Plugin)) {
            (Some(ours), Some(plugin)) if *plugin != 0.0 => {
                let ratio = ours / plugin;
                if ratio >= 10.0 {
                    format!("{ratio:.0}×")
                } else {
                    format!("{ratio:.2}×")
                }
            }
            (Some(ours), Some(_)) if *ours == 0.0 => "=".into(),
            _ => "–".into(),
        }
    }
}

fn render_list(out: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}:\n");
    for item in items {
        let _ = writeln!(out, "* {item}");
    }
    out.push('\n');
}
