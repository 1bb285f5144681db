//! The data channel: sessions talk to `ssmmessages.<region>.amazonaws.com`
//! (or the URL StartSession returns) over TLS on port 443, through
//! `HTTPS_PROXY` when it is set; a loopback `http://` endpoint (ssm-sim)
//! serves the data channel itself, where a TCP connect is the check.

use std::time::Instant;

use ssm_client::ConnectDeadlines;

use super::report::Check;

/// The data-channel URL sessions of `region` use with `endpoint_url`.
pub fn gateway_url(endpoint_url: Option<&str>, region: &str) -> String {
    match endpoint_url.and_then(|url| url.strip_prefix("http://")) {
        Some(rest) => format!("ws://{}", rest.split('/').next().unwrap_or(rest)),
        None => format!("wss://ssmmessages.{region}.amazonaws.com/"),
    }
}

/// Connects to the host of `url` (TLS for `wss://`) and says how.
pub async fn data_channel(url: &str) -> Check {
    let host = url.split("//").nth(1).unwrap_or(url).trim_end_matches('/');
    let started = Instant::now();
    match ssm_client::reach_gateway(url, &ConnectDeadlines::default()).await {
        Ok(reach) => {
            let how = if reach.tls {
                "TLS"
            } else {
                "TCP (a local endpoint: --probe checks its data channel)"
            };
            let via = reach
                .proxy
                .map_or_else(String::new, |proxy| format!(" through the proxy {proxy}"));
            Check::pass("data channel", format!("{host} reachable over {how}{via}"))
                .took(started.elapsed())
        }
        Err(error) => Check::fail(
            "data channel",
            format!("{host} not reachable: {error}"),
            "allow HTTPS (port 443) to it, directly or through HTTPS_PROXY; a proxy that \
             inspects TLS must let this host through untouched",
        )
        .took(started.elapsed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_follows_the_endpoint() {
        assert_eq!(
            gateway_url(None, "eu-west-1"),
            "wss://ssmmessages.eu-west-1.amazonaws.com/"
        );
        assert_eq!(
            gateway_url(Some("http://127.0.0.1:4000/"), "us-east-1"),
            "ws://127.0.0.1:4000"
        );
        assert_eq!(
            gateway_url(
                Some("https://vpce-1.ssm.eu-west-1.vpce.amazonaws.com"),
                "eu-west-1"
            ),
            "wss://ssmmessages.eu-west-1.amazonaws.com/"
        );
    }
}
