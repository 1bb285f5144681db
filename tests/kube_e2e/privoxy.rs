//! A real privoxy on 127.0.0.1, standing in for the privoxy pod in the
//! VPC. It runs in its own mount namespace (`unshare --mount`) with a
//! private `/etc/hosts`, so that it, and only it, resolves the API
//! server's private name, as only the VPC resolves an EKS endpoint.
//!
//! Config quirk: privoxy allows CONNECT to every port unless a
//! `limit-connect` action applies (`+limit-connect{,}` *forbids* all
//! CONNECTs); the actions file says `+limit-connect{-}` explicitly.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use super::process::{Running, clean_command};

/// Mounts the private hosts file, then becomes privoxy.
const LAUNCH: &str = r#"mount --bind "$1" /etc/hosts && exec "$2" --no-daemon "$3""#;

/// The running privoxy; killed on drop.
#[derive(Debug)]
pub(crate) struct Privoxy {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    process: Running,
}

impl Privoxy {
    /// Writes its files into `dir` and starts it; `hosts` becomes its
    /// `/etc/hosts`. Waits (at most `timeout`) until its port accepts.
    pub(crate) async fn start(
        program: &Path,
        dir: &Path,
        hosts: &str,
        timeout: Duration,
    ) -> Result<Self, String> {
        let addr = free_port().map_err(|e| format!("no free port: {e}"))?;
        write_files(dir, addr, hosts).map_err(|e| format!("privoxy files: {e}"))?;
        let mut command = clean_command(Path::new("unshare"), dir);
        command.args(["--mount", "--", "sh", "-c", LAUNCH, "sh"]);
        command
            .arg(dir.join("hosts"))
            .arg(program)
            .arg(dir.join("config"));
        let process =
            Running::spawn(&mut command).map_err(|e| format!("cannot run unshare: {e}"))?;
        let mut privoxy = Self { addr, process };
        privoxy.wait_listening(timeout).await?;
        Ok(privoxy)
    }

    /// privoxy's log (requests, warnings, errors).
    pub(crate) fn log(&self) -> String {
        self.process.stderr()
    }

    /// How many requests for `host` privoxy logged (`debug 1`: one
    /// `Request: HOST:PORT/` line per CONNECT).
    pub(crate) fn connects_to(&self, host: &str) -> usize {
        let needle = format!("Request: {host}:");
        self.log()
            .lines()
            .filter(|line| line.contains(&needle))
            .count()
    }

    async fn wait_listening(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok() {
                return Ok(());
            }
            if let Some(status) = self.process.exited() {
                return Err(format!(
                    "privoxy exited ({status}) before listening on {} (needs root for \
                     `unshare --mount`)\n{}",
                    self.addr,
                    self.process.transcript()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "privoxy not listening on {} within {timeout:?}\n{}",
                    self.addr,
                    self.process.transcript()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A port nothing listens on right now (privoxy cannot be told port 0).
fn free_port() -> std::io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

fn write_files(dir: &Path, addr: SocketAddr, hosts: &str) -> std::io::Result<()> {
    std::fs::write(dir.join("hosts"), hosts)?;
    std::fs::write(dir.join("e2e.action"), ACTIONS)?;
    std::fs::write(dir.join("config"), config(dir, addr))
}

/// Every request goes through unchanged; CONNECT to any port.
const ACTIONS: &str = "{ +limit-connect{-} }\n/\n";

fn config(dir: &Path, addr: SocketAddr) -> String {
    format!(
        "confdir {dir}\n\
         listen-address {addr}\n\
         actionsfile e2e.action\n\
         toggle 1\n\
         enable-remote-toggle 0\n\
         enable-remote-http-toggle 0\n\
         enable-edit-actions 0\n\
         accept-intercepted-requests 0\n\
         forwarded-connect-retries 0\n\
         max-client-connections 256\n\
         keep-alive-timeout 5\n\
         socket-timeout 300\n\
         debug 1\n\
         debug 1024\n\
         debug 4096\n\
         debug 8192\n",
        dir = dir.display()
    )
}
