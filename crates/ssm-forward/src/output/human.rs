//! The human form of log events: status lines as `ssm-forward: MESSAGE`,
//! library warnings and errors as `ssm-forward: warning: MESSAGE (FIELDS)`
//! in the same voice, and (with `-v`) everything else in
//! tracing-subscriber's compact format.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{Compact, Format, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::TARGET;

/// Status lines as bare messages; library warnings in the same voice
/// unless `verbose`; everything else compact.
#[derive(Debug)]
pub(super) struct Human {
    verbose: bool,
    other: Format<Compact, ()>,
}

impl Human {
    /// With `verbose` (`-v`), library warnings keep the compact format
    /// with their target and span fields, for debugging.
    pub(super) fn new(verbose: bool) -> Self {
        Self {
            verbose,
            other: tracing_subscriber::fmt::format().compact().without_time(),
        }
    }
}

impl<S, N> FormatEvent<S, N> for Human
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = *event.metadata().level();
        let status = event.metadata().target() == TARGET;
        let library_warning = !self.verbose && level <= Level::WARN;
        if !status && !library_warning {
            return self.other.format_event(ctx, writer, event);
        }
        let mut line = Line::default();
        event.record(&mut line);
        writeln!(writer, "{}", line.render(level, !status))
    }
}

/// An event's message and (for library events) its other fields.
#[derive(Debug, Default)]
struct Line {
    message: String,
    fields: Vec<String>,
}

impl Line {
    /// `ssm-forward: [warning: |error: ]MESSAGE[ (k=v, …)]`.
    fn render(&self, level: Level, with_fields: bool) -> String {
        let prefix = match level {
            Level::ERROR => "error: ",
            Level::WARN => "warning: ",
            _ => "",
        };
        let mut text = format!("ssm-forward: {prefix}{}", self.message);
        if with_fields && !self.fields.is_empty() {
            let _ = write!(text, " ({})", self.fields.join(", "));
        }
        text
    }
}

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.fields.push(format!("{}={value:?}", field.name()));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.message);
        } else {
            self.fields.push(format!("{}={value}", field.name()));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tracing::{info, warn};
    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// Collects what the formatter writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;

        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    /// What `Human::new(verbose)` prints for the events `emit` logs.
    fn printed(verbose: bool, emit: impl FnOnce()) -> String {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_ansi(false)
            .with_max_level(Level::DEBUG)
            .event_format(Human::new(verbose))
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    fn library_warning() {
        let silent_for = Duration::from_secs(31);
        warn!(target: "ssm_client::connection", ?silent_for, "no traffic from the service; reconnecting");
    }

    #[test]
    fn library_warnings_read_like_status_lines() {
        assert_eq!(
            printed(false, library_warning),
            "ssm-forward: warning: no traffic from the service; reconnecting (silent_for=31s)\n"
        );
    }

    #[test]
    fn with_verbose_library_warnings_keep_their_target() {
        let text = printed(true, library_warning);
        assert!(text.contains("WARN"), "{text}");
        assert!(text.contains("ssm_client::connection"), "{text}");
    }

    #[test]
    fn status_lines_are_bare_messages_without_fields() {
        let text = printed(false, || {
            info!(target: TARGET, event = "listening", forward = "db", "db: listening on 127.0.0.1:1");
        });
        assert_eq!(text, "ssm-forward: db: listening on 127.0.0.1:1\n");
    }
}
