//! Spreads parallel downloads over a pool of sessions: each Session
//! Manager session is paced by its own agent loop (about 1 MB/s), so
//! four connections through a pool of four sessions get about four times
//! what they would share through one.
//!
//! Against AWS (credentials from the usual chain), four parallel
//! connections through up to four sessions, each sending a request line
//! and printing how much came back:
//! `cargo run -p ssm-examples --example pool -- i-0123456789abcdef0 internal-web.example.com 80`
//!
//! Offline, against an in-process simulator with the realistic agent
//! pacing, four connections echoing 1 MiB each through the simulator's
//! echo target:
//! `cargo run -p ssm-examples --example pool -- --simulate`

use std::sync::Arc;
use std::time::Instant;

use ssm_client::{
    AwsOptions, AwsSessionApi, ClientConfig, PoolEvent, PoolPolicy, PoolStream, SessionPool,
    StartSessionRequest,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONNECTIONS: usize = 4;
const ECHO_BYTES: usize = 1024 * 1024;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let simulate = args.first().map(String::as_str) == Some("--simulate");
    let mut _simulator = None;
    let (sdk, request) = if simulate {
        let config = ssm_sim::SimConfig {
            realism: ssm_sim::RealismConfig::realistic(),
            ..ssm_sim::SimConfig::default()
        };
        let sim = ssm_sim::Simulator::start(config).await?;
        let sdk = ssm_client::simulator_sdk_config(&sim.endpoint_url());
        _simulator = Some(sim);
        let echo = ssm_sim::targets::ECHO_HOST;
        let request = StartSessionRequest::port_forwarding("i-0123456789abcdef0", Some(echo), 7, 0);
        (sdk, request)
    } else {
        let [target, host, port] = args.as_slice() else {
            anyhow::bail!("usage: pool TARGET HOST PORT | --simulate");
        };
        let sdk = ssm_client::load_sdk_config(&AwsOptions::default()).await;
        let request = StartSessionRequest::port_forwarding(target, Some(host), port.parse()?, 0);
        (sdk, request)
    };
    let api = Arc::new(AwsSessionApi::new(&sdk));
    // Start all four at once: a pool only grows while its sessions are
    // busy, and connections opened together would share the first one.
    let policy = PoolPolicy {
        min_sessions: CONNECTIONS,
        max_sessions: CONNECTIONS,
        ..PoolPolicy::default()
    };
    let (pool, mut events) = SessionPool::from_api(api, request, ClientConfig::default(), policy);
    while pool.sessions().len() < CONNECTIONS {
        match events.recv().await {
            Some(PoolEvent::Up {
                number, session, ..
            }) => println!("session {number} up: {}", session.session_id()),
            Some(PoolEvent::StartFailed { error, retry_in }) => {
                anyhow::bail!("a session failed to start ({error}); would retry in {retry_in:?}")
            }
            Some(_) => {}
            None => anyhow::bail!("the pool stopped"),
        }
    }
    let started = Instant::now();
    let mut connections = Vec::new();
    for index in 0..CONNECTIONS {
        let stream = pool.open_stream().await?;
        println!("connection {index} on session {}", stream.session_number());
        connections.push(tokio::spawn(exchange(stream, simulate)));
    }
    let mut total = 0;
    for connection in connections {
        total += connection.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{total} bytes back over {CONNECTIONS} connections in {seconds:.2} s ({:.2} MB/s)",
        total as f64 / seconds / 1e6
    );
    for session in pool.stats().sessions {
        println!(
            "session {} ({}): {} streams, {} bytes received",
            session.number,
            session.session_id,
            session.streams_opened,
            session.session.bytes_received
        );
    }
    pool.close().await;
    Ok(())
}

/// Echoes `ECHO_BYTES` (simulated) or sends an HTTP request (AWS);
/// returns the bytes that came back.
async fn exchange(mut stream: PoolStream, simulate: bool) -> anyhow::Result<usize> {
    if !simulate {
        stream
            .write_all(b"GET / HTTP/1.0\r\nConnection: close\r\n\r\n")
            .await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        return Ok(answer.len());
    }
    let data: Vec<u8> = (0..ECHO_BYTES).map(|i| (i % 251) as u8).collect();
    let (mut reader, mut writer) = tokio::io::split(stream);
    let write = tokio::spawn(async move {
        writer.write_all(&data).await?;
        anyhow::Ok(writer)
    });
    let mut back = vec![0u8; ECHO_BYTES];
    reader.read_exact(&mut back).await?;
    let _writer = write.await??;
    let intact = back.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8);
    anyhow::ensure!(intact, "the echo differs");
    Ok(back.len())
}
