//! Running a child on a pseudo-terminal (stdin and stderr are the
//! terminal, stdout a pipe), to test what a person at a terminal sees
//! and answers. Unix only.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::process::Command;

use super::Child;

/// What the test types into the terminal.
#[derive(Debug)]
pub struct Keyboard(File);

impl Keyboard {
    /// Types `text` (a line ends with `\n`, as Enter sends it).
    pub fn type_text(&mut self, text: &str) {
        self.0.write_all(text.as_bytes()).unwrap();
        self.0.flush().unwrap();
    }
}

/// Spawns `command` with its stdin and stderr on a new pseudo-terminal.
pub fn spawn_on_pty(command: &mut Command) -> (Child, Keyboard) {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let terminal = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().expect("utf-8 pty name"))
        .expect("open the pty's terminal side");
    let mut child = command
        .stdin(Stdio::from(terminal.try_clone().unwrap()))
        .stderr(Stdio::from(terminal))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot spawn the child process");
    // Our copies of the terminal side are gone now: when the child exits,
    // reading the master side ends.
    let master = File::from(master);
    let keyboard = Keyboard(master.try_clone().unwrap());
    let screen = Arc::new(Mutex::new(String::new()));
    read_screen(master, screen.clone());
    let stdout = Child::collect_pipe(child.stdout.take().unwrap());
    (Child::from_parts(child, stdout, screen), keyboard)
}

/// Copies what the terminal shows into `screen` until the child is gone
/// (Linux then answers EIO, other systems end of file).
fn read_screen(mut master: File, screen: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buffer = [0; 4096];
        while let Ok(read @ 1..) = master.read(&mut buffer) {
            screen
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..read]));
        }
    });
}
