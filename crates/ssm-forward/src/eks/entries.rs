//! The three kubeconfig entries `eks connect` writes for a cluster (a
//! cluster, a user and a context of the same name), and applying them to
//! a kubeconfig so that `disconnect` can take exactly them back out.
//!
//! Direct mode: `server: https://127.0.0.1:PORT`, the cluster's
//! `certificate-authority-data`, and `tls-server-name: <endpoint host>`,
//! so TLS is verified against the real certificate with no
//! `insecure-skip-tls-verify` and no /etc/hosts edits. Proxy mode: the
//! real server URL with `proxy-url`. The user is an exec credential
//! plugin that runs `ssm-forward eks token` (no AWS CLI).

use serde::{Deserialize, Serialize};
use yaml_serde::{Mapping, Value};

use crate::kubeconfig::{Kubeconfig, KubeconfigError};

use super::cluster::ClusterInfo;

/// The exec credential API version kubectl 1.24+ speaks.
pub const EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1beta1";

/// How kubectl reaches the API server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Through a local port forwarded to the endpoint itself.
    Direct {
        /// The forward's local port on 127.0.0.1.
        local_port: u16,
    },
    /// Through an HTTP proxy (`http://127.0.0.1:PORT`).
    Proxy {
        /// The proxy URL kubectl uses.
        proxy_url: String,
    },
}

/// The command kubectl runs for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCommand {
    /// The program: `ssm-forward`, or this executable's absolute path.
    pub program: String,
    /// `eks token --cluster NAME --region R [--profile P]`.
    pub args: Vec<String>,
}

impl TokenCommand {
    /// `eks token` for `cluster` in `region`, with the profile passed
    /// explicitly (kubectl's environment may differ from this shell's).
    pub fn new(program: String, cluster: &str, region: &str, profile: Option<&str>) -> Self {
        let mut args: Vec<String> = ["eks", "token", "--cluster", cluster, "--region", region]
            .map(str::to_owned)
            .into();
        if let Some(profile) = profile {
            args.extend(["--profile".to_owned(), profile.to_owned()]);
        }
        Self { program, args }
    }
}

/// The entries for one cluster, all named `name`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entries {
    /// Name of the cluster, user and context entries.
    pub name: String,
    cluster: Value,
    user: Value,
    context: Value,
}

/// The lists the entries go into, in the order they are written.
const LISTS: [&str; 3] = ["clusters", "users", "contexts"];

impl Entries {
    /// The entries for `cluster` reached by `route`, with `token` as the user.
    pub fn new(name: &str, cluster: &ClusterInfo, route: &Route, token: &TokenCommand) -> Self {
        let mut settings = Mapping::new();
        match route {
            Route::Direct { local_port } => {
                settings.insert(
                    "server".into(),
                    format!("https://127.0.0.1:{local_port}").into(),
                );
                settings.insert(
                    "certificate-authority-data".into(),
                    cluster.certificate_authority_data.clone().into(),
                );
                settings.insert(
                    "tls-server-name".into(),
                    cluster.endpoint_host.clone().into(),
                );
            }
            Route::Proxy { proxy_url } => {
                settings.insert("server".into(), cluster.endpoint_url().into());
                settings.insert(
                    "certificate-authority-data".into(),
                    cluster.certificate_authority_data.clone().into(),
                );
                settings.insert("proxy-url".into(), proxy_url.clone().into());
            }
        }
        let mut exec = Mapping::new();
        exec.insert("apiVersion".into(), EXEC_API_VERSION.into());
        exec.insert("command".into(), token.program.clone().into());
        exec.insert(
            "args".into(),
            Value::Sequence(token.args.iter().cloned().map(Value::from).collect()),
        );
        exec.insert("interactiveMode".into(), "Never".into());
        exec.insert("provideClusterInfo".into(), false.into());
        let mut context = Mapping::new();
        context.insert("cluster".into(), name.into());
        context.insert("user".into(), name.into());
        Self {
            name: name.to_owned(),
            cluster: named(name, "cluster", settings),
            user: named(name, "user", single("exec", Value::Mapping(exec))),
            context: named(name, "context", context),
        }
    }

    /// The three entries as YAML (what `--dry-run` shows; the user entry
    /// holds a command, not a secret).
    pub fn to_yaml(&self) -> Result<String, KubeconfigError> {
        let mut doc = Mapping::new();
        for (list, entry) in LISTS
            .into_iter()
            .zip([&self.cluster, &self.user, &self.context])
        {
            doc.insert(list.into(), Value::Sequence(vec![entry.clone()]));
        }
        to_yaml(&Value::Mapping(doc))
    }

    /// Writes the entries into `config` (replacing same-named ones) and,
    /// with `use_context`, makes the context current. Returns what was
    /// there before, for [`Replaced::restore`].
    pub fn apply(
        &self,
        config: &mut Kubeconfig,
        use_context: bool,
    ) -> Result<Replaced, KubeconfigError> {
        config.ensure_header();
        let mut replaced = Replaced {
            current_context: config.current_context().map(str::to_owned),
            set_current: use_context,
            ..Replaced::default()
        };
        for (list, entry) in LISTS
            .into_iter()
            .zip([&self.cluster, &self.user, &self.context])
        {
            let before = config.upsert_entry(list, entry.clone())?;
            replaced.entries.push(ReplacedEntry {
                list: list.to_owned(),
                name: self.name.clone(),
                before: before.map(|value| to_yaml(&value)).transpose()?,
            });
        }
        if use_context {
            config.set_current_context(Some(&self.name));
        }
        Ok(replaced)
    }
}

/// What [`Entries::apply`] replaced: enough to take the entries back out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replaced {
    /// One per entry written.
    pub entries: Vec<ReplacedEntry>,
    /// `current-context` before.
    pub current_context: Option<String>,
    /// Whether `current-context` was set.
    pub set_current: bool,
}

/// One entry written, and the same-named entry it replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplacedEntry {
    /// `clusters`, `users` or `contexts`.
    pub list: String,
    /// The entry's name.
    pub name: String,
    /// The entry it replaced, as YAML (`None`: there was none).
    pub before: Option<String>,
}

impl Replaced {
    /// Takes the written entries out of `config`, putting back what they
    /// replaced, and restores `current-context` if it still names ours.
    pub fn restore(&self, config: &mut Kubeconfig) -> Result<(), KubeconfigError> {
        for entry in &self.entries {
            match &entry.before {
                Some(yaml) => {
                    let value: Value = yaml_serde::from_str(yaml)?;
                    config.upsert_entry(&entry.list, value)?;
                }
                None => {
                    config.remove_entry(&entry.list, &entry.name);
                }
            }
        }
        let ours = self.entries.first().map(|entry| entry.name.as_str());
        if self.set_current && config.current_context() == ours {
            config.set_current_context(self.current_context.as_deref());
        }
        Ok(())
    }
}

fn named(name: &str, key: &str, body: Mapping) -> Value {
    let mut entry = Mapping::new();
    entry.insert(key.into(), Value::Mapping(body));
    entry.insert("name".into(), name.into());
    Value::Mapping(entry)
}

fn single(key: &str, value: Value) -> Mapping {
    let mut mapping = Mapping::new();
    mapping.insert(key.into(), value);
    mapping
}

fn to_yaml(value: &Value) -> Result<String, KubeconfigError> {
    Ok(yaml_serde::to_string(value)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> ClusterInfo {
        crate::eks::cluster::sample("ABC.gr7.eu-west-1.eks.amazonaws.com")
    }

    fn token() -> TokenCommand {
        TokenCommand::new("ssm-forward".into(), "prod", "eu-west-1", Some("dev"))
    }

    const EXISTING: &str = "\
apiVersion: v1
clusters:
- cluster:
    server: https://other.example
  name: other
contexts:
- context:
    cluster: other
    user: other
  name: other
current-context: other
kind: Config
preferences: {}
users:
- name: other
  user:
    token: secret
";

    #[test]
    fn direct_entries_verify_tls_against_the_endpoint_name() {
        let entries = Entries::new(
            "prod",
            &cluster(),
            &Route::Direct { local_port: 40123 },
            &token(),
        );
        let mut config = Kubeconfig::parse("").unwrap();
        entries.apply(&mut config, false).unwrap();
        let yaml = config.to_yaml().unwrap();
        assert!(yaml.contains("server: https://127.0.0.1:40123"), "{yaml}");
        assert!(
            yaml.contains("tls-server-name: ABC.gr7.eu-west-1.eks.amazonaws.com"),
            "{yaml}"
        );
        assert!(yaml.contains("certificate-authority-data: Q0E="), "{yaml}");
        assert!(!yaml.contains("insecure"), "{yaml}");
        assert!(yaml.contains("interactiveMode: Never"), "{yaml}");
        assert!(yaml.contains(EXEC_API_VERSION), "{yaml}");
        assert!(yaml.contains("- --profile\n"), "{yaml}");
        assert!(yaml.contains("kind: Config"), "{yaml}");
        assert_eq!(config.current_context(), None);
    }

    #[test]
    fn proxy_entries_keep_the_real_server() {
        let route = Route::Proxy {
            proxy_url: "http://127.0.0.1:8118".into(),
        };
        let entries = Entries::new("prod", &cluster(), &route, &token());
        let mut config = Kubeconfig::parse("").unwrap();
        entries.apply(&mut config, true).unwrap();
        let yaml = config.to_yaml().unwrap();
        assert!(
            yaml.contains("server: https://ABC.gr7.eu-west-1.eks.amazonaws.com"),
            "{yaml}"
        );
        assert!(yaml.contains("proxy-url: http://127.0.0.1:8118"), "{yaml}");
        assert!(!yaml.contains("tls-server-name"), "{yaml}");
        assert_eq!(config.current_context(), Some("prod"));
    }

    #[test]
    fn restore_takes_out_exactly_what_apply_put_in() {
        let original = Kubeconfig::parse(EXISTING).unwrap();
        let mut config = original.clone();
        let entries = Entries::new(
            "prod",
            &cluster(),
            &Route::Direct { local_port: 1 },
            &token(),
        );
        let replaced = entries.apply(&mut config, true).unwrap();
        assert_eq!(config.context_names(), ["other", "prod"]);
        replaced.restore(&mut config).unwrap();
        assert_eq!(config, original);
    }

    #[test]
    fn restore_puts_back_a_replaced_entry() {
        let original = Kubeconfig::parse(EXISTING).unwrap();
        let mut config = original.clone();
        let entries = Entries::new(
            "other",
            &cluster(),
            &Route::Direct { local_port: 1 },
            &token(),
        );
        let replaced = entries.apply(&mut config, false).unwrap();
        assert!(config.to_yaml().unwrap().contains("tls-server-name"));
        let json = serde_json::to_string(&replaced).unwrap();
        let replaced: Replaced = serde_json::from_str(&json).unwrap();
        replaced.restore(&mut config).unwrap();
        assert_eq!(config, original);
    }

    #[test]
    fn a_current_context_changed_since_is_left_alone() {
        let mut config = Kubeconfig::parse(EXISTING).unwrap();
        let entries = Entries::new(
            "prod",
            &cluster(),
            &Route::Direct { local_port: 1 },
            &token(),
        );
        let replaced = entries.apply(&mut config, true).unwrap();
        config.set_current_context(Some("other"));
        replaced.restore(&mut config).unwrap();
        assert_eq!(config.current_context(), Some("other"));
    }
}
