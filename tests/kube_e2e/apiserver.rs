//! A stand-in Kubernetes API server on 127.0.0.1 over TLS (h2 or
//! HTTP/1.1 by ALPN): `/version`, `/healthz`, discovery, the pods of
//! namespace `default` (as a `Table` when kubectl asks for one) and a
//! follow-style log stream that sends a line every 200 ms until the client
//! goes away. Every path but `/version` and the health checks wants a
//! bearer token (any token). Each request is logged for the test to
//! check and for failure messages.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::objects;
use super::pki::{Pki, PkiError};

/// How often the log stream sends a line.
pub(crate) const LOG_INTERVAL: Duration = Duration::from_millis(200);
/// Where the pods live.
const PODS_PATH: &str = "/api/v1/namespaces/default/pods";

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// `HTTP/2.0` or `HTTP/1.1`.
    pub(crate) version: String,
    /// Path and query.
    pub(crate) uri: String,
    /// The Accept header.
    pub(crate) accept: String,
    /// The status answered.
    pub(crate) status: u16,
}

/// Requests seen so far, shared with the handler.
type Log = Arc<Mutex<Vec<Seen>>>;

/// The running server; dropping it stops accepting.
#[derive(Debug)]
pub(crate) struct ApiServer {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    log: Log,
    task: JoinHandle<()>,
}

impl ApiServer {
    /// Listens on 127.0.0.1 (any free port) with `pki`'s certificate.
    pub(crate) async fn start(pki: &Pki) -> Result<Self, PkiError> {
        let acceptor = TlsAcceptor::from(pki.server_config()?);
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let log = Log::default();
        let router = Router::new().fallback(handle).with_state(log.clone());
        let task = tokio::spawn(accept_loop(listener, acceptor, router));
        Ok(Self { addr, log, task })
    }

    /// Every request so far.
    pub(crate) fn requests(&self) -> Vec<Seen> {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }

    /// The request log, one line per request, for failure messages.
    pub(crate) fn transcript(&self) -> String {
        self.requests()
            .iter()
            .map(|seen| {
                format!(
                    "{} {} {} [accept: {}]\n",
                    seen.status, seen.version, seen.uri, seen.accept
                )
            })
            .collect()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, router: Router) {
    loop {
        match listener.accept().await {
            Ok((socket, _)) => {
                tokio::spawn(serve_connection(socket, acceptor.clone(), router.clone()));
            }
            Err(error) => {
                eprintln!("e2e: api server: accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// TLS, then HTTP/1.1 or h2 (whatever ALPN picked) until the client leaves.
async fn serve_connection(socket: TcpStream, acceptor: TlsAcceptor, router: Router) {
    let Ok(tls) = acceptor.accept(socket).await else {
        return;
    };
    let service = TowerToHyperService::new(router);
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(tls), service)
        .await;
}

async fn handle(State(log): State<Log>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let headers = request.headers();
    let response = route(&path, headers);
    let seen = Seen {
        version: format!("{:?}", request.version()),
        uri: request
            .uri()
            .path_and_query()
            .map_or_else(|| path.clone(), ToString::to_string),
        accept: header_text(headers, header::ACCEPT),
        status: response.status().as_u16(),
    };
    if let Ok(mut log) = log.lock() {
        log.push(seen);
    }
    response
}

fn route(path: &str, headers: &HeaderMap) -> Response {
    match path {
        "/version" => json(StatusCode::OK, &objects::version()),
        "/healthz" | "/livez" | "/readyz" => text("ok"),
        _ if !has_bearer_token(headers) => json(
            StatusCode::UNAUTHORIZED,
            &objects::status(401, "Unauthorized", "Unauthorized"),
        ),
        "/api" => json(StatusCode::OK, &objects::api_versions()),
        "/apis" => json(StatusCode::OK, &objects::api_group_list()),
        "/api/v1" => json(StatusCode::OK, &objects::core_resources()),
        PODS_PATH if wants_table(headers) => json(StatusCode::OK, &objects::pod_table()),
        PODS_PATH => json(StatusCode::OK, &objects::pod_list()),
        _ => pod_route(path),
    }
}

/// `.../pods/NAME` and `.../pods/NAME/log`.
fn pod_route(path: &str) -> Response {
    let rest = path
        .strip_prefix(PODS_PATH)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or_default();
    let (name, sub) = rest.split_once('/').unwrap_or((rest, ""));
    match (objects::PODS.contains(&name), sub) {
        (true, "") => json(StatusCode::OK, &objects::pod(name)),
        (true, "log") => log_stream(name.to_owned()),
        _ => json(
            StatusCode::NOT_FOUND,
            &objects::status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        ),
    }
}

/// `N <pod> log line N` every [`LOG_INTERVAL`], the first at once; ends
/// when the connection goes (hyper drops the body).
fn log_stream(pod: String) -> Response {
    let lines = futures_util::stream::unfold(1u64, move |n| {
        let pod = pod.clone();
        async move {
            if n > 1 {
                tokio::time::sleep(LOG_INTERVAL).await;
            }
            let line = Bytes::from(format!("{n} {pod} log line {n}\n"));
            Some((Ok::<_, Infallible>(line), n + 1))
        }
    });
    (
        [(header::CONTENT_TYPE, "text/plain")],
        Body::from_stream(lines),
    )
        .into_response()
}

fn has_bearer_token(headers: &HeaderMap) -> bool {
    header_text(headers, header::AUTHORIZATION)
        .strip_prefix("Bearer ")
        .is_some_and(|token| !token.trim().is_empty())
}

/// kubectl's `get` asks for `application/json;as=Table;v=v1;g=meta.k8s.io,...`.
fn wants_table(headers: &HeaderMap) -> bool {
    header_text(headers, header::ACCEPT).contains("as=Table")
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> String {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn text(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}
