//! The HTTP proxy for the data channel, from the environment as curl and
//! the AWS SDK read it: `HTTPS_PROXY` (or `https_proxy`, then
//! `ALL_PROXY`) for `wss://`, `HTTP_PROXY` (or `http_proxy`, then
//! `ALL_PROXY`) for `ws://`, minus the hosts `NO_PROXY` names. A URL's
//! `user:password@` (percent-encoded) becomes a `Proxy-Authorization:
//! Basic` header on CONNECT. Only `http://` proxies are supported; an
//! `https://` one is refused with a clear error. Credentials never
//! appear in `Debug`, errors or logs: a proxy is shown as `host:port`.

use base64::Engine as _;
use percent_encoding::percent_decode_str;

use crate::error::ProxyError;

/// A proxy to tunnel through.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("address", &self.address())
            .field("credentials", &self.credentials.as_ref().map(|_| "…"))
            .finish()
    }
}

impl Proxy {
    /// The proxy for a connection to `host` (`secure`: `wss://`), read
    /// from the environment through `var`; `None` for a direct one.
    pub(crate) fn for_host(
        host: &str,
        secure: bool,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ProxyError> {
        let names: &[&str] = if secure {
            &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        } else {
            &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        };
        let Some((variable, url)) = names
            .iter()
            .find_map(|name| var(name).filter(|v| !v.is_empty()).map(|v| (*name, v)))
        else {
            return Ok(None);
        };
        let no_proxy = var("NO_PROXY")
            .or_else(|| var("no_proxy"))
            .unwrap_or_default();
        if excluded(host, &no_proxy) {
            return Ok(None);
        }
        Self::parse(variable, &url).map(Some)
    }

    /// Parses `url` (the value of `variable`): `[http://][user:password@]host[:port]`.
    pub(crate) fn parse(variable: &str, url: &str) -> Result<Self, ProxyError> {
        let bad = || ProxyError::BadUrl(variable.to_owned());
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => {
                let proxy = Self::parse(variable, rest)?;
                return Err(ProxyError::HttpsProxy {
                    variable: variable.to_owned(),
                    proxy: proxy.address(),
                });
            }
            Some(_) => return Err(bad()),
            None => url,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        let (host, port) = split_host_port(host_port).ok_or_else(bad)?;
        let credentials = userinfo.map(|userinfo| {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let decode = |text: &str| percent_decode_str(text).decode_utf8_lossy().into_owned();
            (decode(user), decode(password))
        });
        Ok(Self {
            host,
            port,
            credentials,
        })
    }

    /// `host:port`, for dialing and for messages (never the credentials).
    pub(crate) fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The host to dial.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The port to dial.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Whether the URL carried `user:password@`.
    pub(crate) fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }

    /// The `Proxy-Authorization` header line (with CRLF), if any.
    pub(crate) fn authorization_header(&self) -> Option<String> {
        let (user, password) = self.credentials.as_ref()?;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Some(format!("Proxy-Authorization: Basic {token}\r\n"))
    }
}

/// The proxies the environment names, as `host:port (VARIABLE)` without
/// credentials (for error messages that may be about the proxy): the
/// `HTTPS_PROXY` one first, then `HTTP_PROXY`'s if it differs. Empty
/// without proxy variables.
pub fn environment_proxies() -> Vec<String> {
    let var = |name: &str| std::env::var(name).ok();
    let mut found: Vec<String> = Vec::new();
    for secure in [true, false] {
        let proxy = Proxy::for_host("", secure, var);
        let Ok(Some(proxy)) = proxy else { continue };
        let variable = if secure { "HTTPS_PROXY" } else { "HTTP_PROXY" };
        let text = format!("{} ({variable})", proxy.address());
        if !found.iter().any(|f| f.starts_with(&proxy.address())) {
            found.push(text);
        }
    }
    found
}

/// `host[:port]` or `[v6][:port]`; the port defaults to 80.
fn split_host_port(text: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        Some(port) => port.parse().ok()?,
        None => 80,
    };
    (!host.is_empty()).then(|| (host.to_owned(), port))
}

/// True when `no_proxy` (comma-separated: `*`, host names, `.domain`
/// suffixes) names `host`.
fn excluded(host: &str, no_proxy: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    no_proxy
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .any(|entry| {
            let domain = entry.trim_start_matches('.');
            entry == "*"
                || host.eq_ignore_ascii_case(domain)
                || host
                    .to_ascii_lowercase()
                    .ends_with(&format!(".{}", domain.to_ascii_lowercase()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn https_proxy_serves_wss_and_http_proxy_serves_ws() {
        let vars = [
            ("HTTPS_PROXY", "http://corp:3128"),
            ("HTTP_PROXY", "plain:8080"),
        ];
        let secure = Proxy::for_host("ssmmessages.eu-west-1.amazonaws.com", true, env(&vars));
        assert_eq!(secure.unwrap().unwrap().address(), "corp:3128");
        let plain = Proxy::for_host("127.0.0.1", false, env(&vars));
        assert_eq!(plain.unwrap().unwrap().address(), "plain:8080");
        let all = [("ALL_PROXY", "http://everything:1")];
        assert_eq!(
            Proxy::for_host("x", true, env(&all))
                .unwrap()
                .unwrap()
                .port(),
            1
        );
        assert_eq!(Proxy::for_host("x", true, env(&[])).unwrap(), None);
    }

    #[test]
    fn no_proxy_names_hosts_and_domains() {
        let vars = [
            ("HTTPS_PROXY", "http://corp:3128"),
            ("NO_PROXY", "localhost, .internal,amazonaws.com"),
        ];
        for host in [
            "localhost",
            "db.internal",
            "ssmmessages.eu-west-1.amazonaws.com",
        ] {
            assert_eq!(
                Proxy::for_host(host, true, env(&vars)).unwrap(),
                None,
                "{host}"
            );
        }
        assert!(
            Proxy::for_host("example.com", true, env(&vars))
                .unwrap()
                .is_some()
        );
        let star = [("HTTPS_PROXY", "http://corp:3128"), ("no_proxy", "*")];
        assert_eq!(Proxy::for_host("anything", true, env(&star)).unwrap(), None);
    }

    #[test]
    fn credentials_become_basic_auth_and_never_show() {
        let proxy =
            Proxy::parse("HTTPS_PROXY", "http://al%40ice:s3cr%3At@proxy.corp:3128/").unwrap();
        assert_eq!(proxy.address(), "proxy.corp:3128");
        // base64("al@ice:s3cr:t")
        assert_eq!(
            proxy.authorization_header().unwrap(),
            "Proxy-Authorization: Basic YWxAaWNlOnMzY3I6dA==\r\n"
        );
        let shown = format!("{proxy:?}");
        assert!(!shown.contains("s3cr") && !shown.contains("ice"), "{shown}");
        assert!(
            Proxy::parse("P", "http://proxy:1")
                .unwrap()
                .authorization_header()
                .is_none()
        );
    }

    #[test]
    fn https_proxies_and_bad_urls_are_refused_without_the_password() {
        let https = Proxy::parse("HTTPS_PROXY", "https://u:hunter2@proxy:443").unwrap_err();
        let text = https.to_string();
        assert!(
            text.contains("proxy:443") && text.contains("http://"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
        for bad in [
            "socks5://proxy:1080",
            "http://proxy:notaport",
            "http://:80",
            "http://u:hunter2@",
        ] {
            let text = Proxy::parse("HTTPS_PROXY", bad).unwrap_err().to_string();
            assert!(!text.contains("hunter2"), "{text}");
            assert!(text.contains("HTTPS_PROXY"), "{bad}: {text}");
        }
        assert_eq!(
            Proxy::parse("P", "[::1]:3128").unwrap().address(),
            "[::1]:3128"
        );
    }
}
