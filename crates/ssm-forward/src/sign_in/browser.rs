//! Opening the verification page in the user's browser, where there is
//! one: `$BROWSER` when set, else `open` (macOS), the URL handler
//! (Windows) or `xdg-open` (Linux and BSDs, with a display only). A
//! browser that cannot be started is not an error: the URL is printed
//! anyway. (Browser-opening crates pull in D-Bus or Objective-C
//! bindings; starting the platform's own opener is all that is needed.)

use std::process::{Command, Stdio};

use tracing::debug;

/// Starts a browser on `url` if this machine can show one.
pub fn offer(url: &str) {
    let Some(mut command) = opener(url) else {
        debug!("no display: not starting a browser");
        return;
    };
    let started = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match started {
        // Reap it in the background; its exit status says nothing useful.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(error) => debug!(%error, "could not start a browser"),
    }
}

/// The command that opens `url`, if any.
fn opener(url: &str) -> Option<Command> {
    if let Some(browser) = std::env::var_os("BROWSER").filter(|b| !b.is_empty()) {
        let mut command = Command::new(browser);
        command.arg(url);
        return Some(command);
    }
    platform_opener(url)
}

#[cfg(target_os = "macos")]
fn platform_opener(url: &str) -> Option<Command> {
    let mut command = Command::new("open");
    command.arg(url);
    Some(command)
}

#[cfg(windows)]
fn platform_opener(url: &str) -> Option<Command> {
    // Not `cmd /c start`: cmd would split the URL at its `&`s.
    let mut command = Command::new("rundll32");
    command.arg("url.dll,FileProtocolHandler").arg(url);
    Some(command)
}

#[cfg(not(any(target_os = "macos", windows)))]
fn platform_opener(url: &str) -> Option<Command> {
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    has_display.then(|| {
        let mut command = Command::new("xdg-open");
        command.arg(url);
        command
    })
}
