//! A stand-in Kubernetes API server on 127.0.0.1 over TLS (h2 or
//! HTTP/1.1 by ALPN): `/version`, `/healthz`, discovery, the pods of
//! namespace `default` (as a `Table` when kubectl asks for one) and a
//! follow-style log stream that sends a line every 200 ms until the client
//! goes away, and the namespaces. Every path but `/version` and the health
//! checks wants a bearer token: any token, or, when started with
//! [`ApiServer::start_for_eks`], a valid EKS token for its cluster
//! (checked by the independent verifier of `ssm_tests::eks_token`; a
//! token that fails is refused with 401 on every path, as EKS does).
//! Each request is logged for the test to check and for failure messages.

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
use ssm_tests::eks_token::{self, Expected};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::objects;
use super::pki::{Pki, PkiError};

/// How often the log stream sends a line.
pub(crate) const LOG_INTERVAL: Duration = Duration::from_millis(200);
/// Where the pods live.
const PODS_PATH: &str = "/api/v1/namespaces/default/pods";
/// The namespaces.
const NAMESPACES_PATH: &str = "/api/v1/namespaces";

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
    /// What the token check said: `none` (no token), `any` (not
    /// checked), `ok`, or why it was refused.
    pub(crate) auth: String,
}

/// Requests seen so far, shared with the handler.
type Log = Arc<Mutex<Vec<Seen>>>;

/// What the handler shares: the log and the token rule.
#[derive(Debug, Clone)]
struct Shared {
    log: Log,
    /// `Some`: only valid EKS tokens for this cluster are accepted.
    eks: Option<Arc<Expected>>,
}

/// The outcome of the token check.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Auth {
    /// No bearer token.
    Missing,
    /// A token, accepted (checked or not).
    Accepted(&'static str),
    /// A token that failed the EKS check (the reason).
    Refused(String),
}

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
        Self::start_with(pki, None).await
    }

    /// The same, accepting only EKS tokens that `expected` verifies.
    pub(crate) async fn start_for_eks(pki: &Pki, expected: Expected) -> Result<Self, PkiError> {
        Self::start_with(pki, Some(Arc::new(expected))).await
    }

    async fn start_with(pki: &Pki, eks: Option<Arc<Expected>>) -> Result<Self, PkiError> {
        let acceptor = TlsAcceptor::from(pki.server_config()?);
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let log = Log::default();
        let shared = Shared {
            log: log.clone(),
            eks,
        };
        let router = Router::new().fallback(handle).with_state(shared);
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
                    "{} {} {} [accept: {}] [auth: {}]\n",
                    seen.status, seen.version, seen.uri, seen.accept, seen.auth
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

async fn handle(State(shared): State<Shared>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let headers = request.headers();
    let auth = check_token(headers, shared.eks.as_deref());
    let response = route(&path, headers, &auth);
    let seen = Seen {
        version: format!("{:?}", request.version()),
        uri: request
            .uri()
            .path_and_query()
            .map_or_else(|| path.clone(), ToString::to_string),
        accept: header_text(headers, header::ACCEPT),
        status: response.status().as_u16(),
        auth: match &auth {
            Auth::Missing => "none".to_owned(),
            Auth::Accepted(how) => (*how).to_owned(),
            Auth::Refused(why) => format!("refused: {why}"),
        },
    };
    if let Ok(mut log) = shared.log.lock() {
        log.push(seen);
    }
    response
}

fn route(path: &str, headers: &HeaderMap, auth: &Auth) -> Response {
    let unauthorized = || {
        json(
            StatusCode::UNAUTHORIZED,
            &objects::status(401, "Unauthorized", "Unauthorized"),
        )
    };
    match path {
        _ if matches!(auth, Auth::Refused(_)) => unauthorized(),
        "/version" => json(StatusCode::OK, &objects::version()),
        "/healthz" | "/livez" | "/readyz" => text("ok"),
        _ if *auth == Auth::Missing => unauthorized(),
        "/api" => json(StatusCode::OK, &objects::api_versions()),
        "/apis" => json(StatusCode::OK, &objects::api_group_list()),
        "/api/v1" => json(StatusCode::OK, &objects::core_resources()),
        PODS_PATH if wants_table(headers) => json(StatusCode::OK, &objects::pod_table()),
        PODS_PATH => json(StatusCode::OK, &objects::pod_list()),
        NAMESPACES_PATH if wants_table(headers) => {
            json(StatusCode::OK, &objects::namespace_table())
        }
        NAMESPACES_PATH => json(StatusCode::OK, &objects::namespace_list()),
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

/// The bearer token's fate: any token passes unless `eks` is set, then
/// only one that the independent verifier accepts for that cluster.
fn check_token(headers: &HeaderMap, eks: Option<&Expected>) -> Auth {
    let header = header_text(headers, header::AUTHORIZATION);
    let Some(token) = header
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|token| !token.is_empty())
    else {
        return Auth::Missing;
    };
    let Some(expected) = eks else {
        return Auth::Accepted("any");
    };
    match eks_token::verify(token, expected, std::time::SystemTime::now()) {
        Ok(_) => Auth::Accepted("ok"),
        Err(rejection) => Auth::Refused(rejection.to_string()),
    }
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
