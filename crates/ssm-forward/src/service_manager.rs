//! Telling a service manager how the daemon is doing: systemd's
//! `sd_notify` protocol (`Type=notify` units). When `NOTIFY_SOCKET` is
//! set, `READY=1` goes to it once every forward's first session is up and
//! `STOPPING=1` when a stop signal arrives; each is one datagram on that
//! Unix socket (a path, or `@name` for Linux's abstract namespace).
//! Without the variable, or where there are no Unix sockets, nothing
//! happens: launchd and the like need no notice (docs/ssm-forward.md,
//! "Running as a service").

use tracing::debug;

/// The environment variable systemd sets for `Type=notify` services.
const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Every forward is ready: `READY=1`.
pub fn ready() {
    notify("READY=1\nSTATUS=forwarding");
}

/// Stopping on a signal: `STOPPING=1`.
pub fn stopping() {
    notify("STOPPING=1");
}

fn notify(state: &str) {
    let Some(socket) = std::env::var_os(NOTIFY_SOCKET) else {
        return;
    };
    match send(&socket, state) {
        Ok(()) => debug!(state, "service manager notified"),
        Err(error) => debug!(%error, state, "could not notify the service manager"),
    }
}

#[cfg(unix)]
fn send(socket: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::net::UnixDatagram;

    let datagram = UnixDatagram::unbound()?;
    let bytes = socket.as_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        return send_abstract(&datagram, name, state);
    }
    datagram.send_to(state.as_bytes(), std::path::Path::new(socket))?;
    Ok(())
}

#[cfg(target_os = "linux")]
fn send_abstract(
    datagram: &std::os::unix::net::UnixDatagram,
    name: &[u8],
    state: &str,
) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt as _;
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    datagram.send_to_addr(state.as_bytes(), &address)?;
    Ok(())
}

#[cfg(all(unix, not(target_os = "linux")))]
fn send_abstract(_: &std::os::unix::net::UnixDatagram, _: &[u8], _: &str) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "abstract socket names exist on Linux only",
    ))
}

#[cfg(not(unix))]
fn send(_: &std::ffi::OsStr, _: &str) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "sd_notify needs Unix sockets",
    ))
}
