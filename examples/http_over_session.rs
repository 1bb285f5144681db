//! Opens a port-forwarding session, opens one stream through it and
//! speaks HTTP over that stream: no local listener involved.
//!
//! Against AWS (credentials from the usual chain):
//! `cargo run -p ssm-examples --example http_over_session -- i-0123456789abcdef0 internal-web.example.com 80`
//!
//! Offline, against an in-process simulator and a small local web server
//! that the simulated agent reaches as `web.internal`:
//! `cargo run -p ssm-examples --example http_over_session -- --simulate`

use std::sync::Arc;

use ssm_client::{AwsOptions, AwsSessionApi, ClientConfig, Session, StartSessionRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut _simulator = None;
    let (sdk, target, host, port) = if args.first().map(String::as_str) == Some("--simulate") {
        let web = spawn_web_server().await?;
        let mut config = ssm_sim::SimConfig::default();
        config
            .destinations
            .host_overrides
            .insert("web.internal".into(), web.to_string());
        let sim = ssm_sim::Simulator::start(config).await?;
        let sdk = ssm_client::simulator_sdk_config(&sim.endpoint_url());
        _simulator = Some(sim);
        (
            sdk,
            "i-0123456789abcdef0".to_owned(),
            "web.internal".to_owned(),
            80,
        )
    } else {
        let [target, host, port] = args.as_slice() else {
            anyhow::bail!("usage: http_over_session TARGET HOST PORT | --simulate");
        };
        let sdk = ssm_client::load_sdk_config(&AwsOptions::default()).await;
        (sdk, target.clone(), host.clone(), port.parse()?)
    };
    let api = Arc::new(AwsSessionApi::new(&sdk));
    let request = StartSessionRequest::port_forwarding(&target, Some(&host), port, 0);
    let session = Session::start(api, request, ClientConfig::default()).await?;
    println!(
        "session {} ready, mode {:?}",
        session.session_id(),
        session.info().map(|i| i.mode)
    );
    let mut stream = session.open_stream().await?;
    let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    println!("{}", String::from_utf8_lossy(&response));
    session.terminate().await;
    Ok(())
}

/// A one-page web server on 127.0.0.1, standing in for a private service.
async fn spawn_web_server() -> std::io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let body = "hello from behind the tunnel\n";
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok(address)
}
