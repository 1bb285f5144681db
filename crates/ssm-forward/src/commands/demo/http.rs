//! Just enough HTTP/1.1 for the demo: a tiny web service and a client
//! that talks to it through an HTTP proxy, the way curl does.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Longest request or response head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// The demo web service's name, as clients reach it through the proxy.
pub(super) const SERVICE_HOST: &str = "api.demo.internal";

/// A parsed HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Response {
    /// e.g. `HTTP/1.1 200 OK`.
    pub(super) status_line: String,
    /// The body, as text.
    pub(super) body: String,
}

/// Starts the web service on 127.0.0.1 (any free port).
pub(super) async fn spawn_web_service() -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let handle = |socket, _peer| async move {
            // A client that goes away mid-request is not worth a report.
            let _ = respond(socket).await;
        };
        // Runs until the demo aborts the task.
        let limit =
            crate::serve::ConnectionLimit::unreported(crate::serve::DEFAULT_MAX_CONNECTIONS);
        crate::serve::accept_until(&listener, limit, handle, std::future::pending::<()>()).await;
    });
    Ok((address, task))
}

/// Answers one request.
async fn respond(socket: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(socket);
    let head = read_head(&mut reader).await?;
    let request_line = head.first().map_or("", String::as_str);
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, kind, body) = page(path);
    let mut response = format!(
        "HTTP/1.1 {status}\r\nServer: ssm-forward-demo\r\nContent-Type: {kind}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        response.push_str(&body);
    }
    let mut socket = reader.into_inner();
    socket.write_all(response.as_bytes()).await?;
    socket.shutdown().await
}

/// Status, content type and body for a path.
fn page(path: &str) -> (&'static str, &'static str, String) {
    match path {
        "/" => (
            "200 OK",
            "text/plain; charset=utf-8",
            format!(
                "Hello from {SERVICE_HOST}!\nYou reached a private service through \
                 ssm-forward, AWS Session Manager and the proxy next to the instance.\n"
            ),
        ),
        "/version" => (
            "200 OK",
            "application/json",
            format!(
                "{{\"service\":\"{SERVICE_HOST}\",\"version\":\"1.0.0\",\"via\":\"ssm-forward {}\"}}\n",
                env!("CARGO_PKG_VERSION")
            ),
        ),
        _ => ("404 Not Found", "text/plain", "not found\n".to_owned()),
    }
}

/// `GET http://host/path` through the proxy at `proxy`, like
/// `curl -x http://PROXY http://host/path`.
pub(super) async fn get_via_proxy(
    proxy: SocketAddr,
    host: &str,
    path: &str,
) -> io::Result<Response> {
    let mut socket = TcpStream::connect(proxy).await?;
    socket.set_nodelay(true)?;
    let request = format!(
        "GET http://{host}{path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: ssm-forward-demo\r\n\
         Accept: */*\r\nProxy-Connection: Keep-Alive\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await?;
    read_response(BufReader::new(socket)).await
}

/// `CONNECT host:80` through the proxy at `proxy`, then `GET path` in
/// the tunnel: what https clients and kubectl do with a proxy.
pub(super) async fn get_via_connect(
    proxy: SocketAddr,
    host: &str,
    path: &str,
) -> io::Result<Response> {
    let socket = TcpStream::connect(proxy).await?;
    socket.set_nodelay(true)?;
    let mut reader = BufReader::new(socket);
    let connect = format!(
        "CONNECT {host}:80 HTTP/1.1\r\nHost: {host}:80\r\nUser-Agent: ssm-forward-demo\r\n\r\n"
    );
    reader.get_mut().write_all(connect.as_bytes()).await?;
    let head = read_head(&mut reader).await?;
    let status = head.first().cloned().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(io::Error::other(format!(
            "the proxy refused CONNECT: {status}"
        )));
    }
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: ssm-forward-demo\r\nAccept: */*\r\n\r\n"
    );
    reader.get_mut().write_all(request.as_bytes()).await?;
    read_response(reader).await
}

async fn read_response<R: AsyncRead + Unpin>(mut reader: BufReader<R>) -> io::Result<Response> {
    let head = read_head(&mut reader).await?;
    let status_line = head.first().cloned().unwrap_or_default();
    let length = head.iter().skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    let mut body = Vec::new();
    match length {
        Some(length) => {
            body.resize(length, 0);
            reader.read_exact(&mut body).await?;
        }
        None => {
            reader.read_to_end(&mut body).await?;
        }
    }
    Ok(Response {
        status_line,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Reads header lines up to the blank line; the first is the start line.
async fn read_head<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> io::Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let mut line = String::new();
        let read = (&mut *reader)
            .take(MAX_HEAD as u64)
            .read_line(&mut line)
            .await?;
        total += read;
        if read == 0 || total > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "incomplete HTTP head",
            ));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return Ok(lines);
        }
        lines.push(line.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_version_json() {
        let (address, _task) = spawn_web_service().await.unwrap();
        let mut socket = TcpStream::connect(address).await.unwrap();
        socket
            .write_all(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let response = read_response(BufReader::new(socket)).await.unwrap();
        assert_eq!(response.status_line, "HTTP/1.1 200 OK");
        assert!(response.body.contains("\"service\":\"api.demo.internal\""));
    }

    #[test]
    fn unknown_paths_are_404() {
        assert_eq!(page("/nope").0, "404 Not Found");
    }
}
