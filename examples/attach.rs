//! Attaches to a session somebody else started: reads a StartSession
//! response (the JSON the AWS CLI prints for `aws ssm start-session`
//! with `--output json`, or what any SDK returns) from a file or stdin,
//! connects, and copies stdin to one stream and the stream to stdout.
//!
//! `aws ssm start-session --target i-... --document-name AWS-StartPortForwardingSession \
//!    --parameters portNumber=22 --output json > started.json` is one way to get it,
//! although the CLI then runs the plugin itself; more usually another
//! program of yours calls StartSession and hands the response over:
//! `cargo run -p ssm-examples --example attach -- started.json`

use std::sync::Arc;

use serde_json::Value;
use ssm_client::{AwsOptions, AwsSessionApi, ClientConfig, Session, StartedSession};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let text = match std::env::args().nth(1) {
        Some(path) => std::fs::read_to_string(path)?,
        None => std::io::read_to_string(std::io::stdin())?,
    };
    let response: Value = serde_json::from_str(&text)?;
    let field = |name: &str| -> anyhow::Result<String> {
        response[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("response has no {name}"))
    };
    let started = StartedSession {
        session_id: field("SessionId")?,
        token_value: field("TokenValue")?,
        stream_url: field("StreamUrl")?,
    };
    let sdk = ssm_client::load_sdk_config(&AwsOptions::default()).await;
    let session = Session::attach(
        Arc::new(AwsSessionApi::new(&sdk)),
        started,
        ClientConfig::default(),
    )
    .await?;
    eprintln!("attached to {}", session.session_id());
    let stream = session.open_stream().await?;
    let (mut reader, mut writer) = tokio::io::split(stream);
    let upload =
        tokio::spawn(async move { tokio::io::copy(&mut tokio::io::stdin(), &mut writer).await });
    tokio::io::copy(&mut reader, &mut tokio::io::stdout()).await?;
    upload.abort();
    session.terminate().await;
    Ok(())
}
