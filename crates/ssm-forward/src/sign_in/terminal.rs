//! Whether a person is at the keyboard, and asking them yes or no.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

/// True when stdin and stderr are both terminals: someone can see a
/// question and answer it.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks `question` on stderr with a default of yes; reads the answer
/// from stdin (off the async threads). End of input counts as no.
pub async fn ask_yes(question: String) -> bool {
    tokio::task::spawn_blocking(move || {
        eprint!("{question} [Y/n] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        match std::io::stdin().lock().read_line(&mut answer) {
            Ok(0) | Err(_) => false,
            Ok(_) => means_yes(&answer),
        }
    })
    .await
    .unwrap_or(false)
}

/// An empty answer or anything starting with y means yes.
fn means_yes(answer: &str) -> bool {
    let answer = answer.trim().to_ascii_lowercase();
    answer.is_empty() || answer.starts_with('y')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_yes_and_no_means_no() {
        for yes in ["", "\n", "y", "Yes\n", " YES "] {
            assert!(means_yes(yes), "{yes:?}");
        }
        for no in ["n", "no\n", "N", "nope", "q"] {
            assert!(!means_yes(no), "{no:?}");
        }
    }
}
