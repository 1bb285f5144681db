//! A kubeconfig held as generic YAML, so that editing it never drops
//! entries or fields this code does not know about.

use std::collections::BTreeSet;

use thiserror::Error;
use yaml_serde::{Mapping, Value};

/// Why a kubeconfig could not be read or changed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KubeconfigError {
    /// The text is not YAML.
    #[error("not valid YAML: {0}")]
    Yaml(#[from] yaml_serde::Error),
    /// The YAML is not shaped like a kubeconfig.
    #[error("not a kubeconfig: {0}")]
    Invalid(String),
    /// No cluster by that name.
    #[error("cluster {name:?} not found; {}", list_or_none(.available))]
    ClusterNotFound {
        /// The name asked for.
        name: String,
        /// The clusters the file defines.
        available: Vec<String>,
    },
    /// No cluster was named and none could be picked.
    #[error("no current context to take the cluster from: pass --cluster NAME ({})", list_or_none(.available))]
    NoCurrentCluster {
        /// The clusters the file defines.
        available: Vec<String>,
    },
    /// `current-context` names a context that is not defined.
    #[error("the current context {0:?} is not defined under `contexts`: pass --cluster NAME")]
    ContextNotFound(String),
    /// A separate kubeconfig needs a context that uses the cluster.
    #[error("no context uses cluster {0:?}, so a kubeconfig for it would be unusable")]
    NoContextForCluster(String),
    /// The proxy URL is not one kubectl accepts.
    #[error(
        "proxy URL {0:?} is not valid: kubectl accepts http://, https:// and socks5:// URLs, e.g. http://127.0.0.1:8118"
    )]
    InvalidProxyUrl(String),
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "the kubeconfig defines no clusters".to_owned()
    } else {
        format!("available clusters: {}", names.join(", "))
    }
}

/// Checks that `url` is a proxy URL kubectl understands.
pub fn validate_proxy_url(url: &str) -> Result<(), KubeconfigError> {
    let invalid = || KubeconfigError::InvalidProxyUrl(url.to_owned());
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let known = ["http", "https", "socks5"].contains(&scheme.to_ascii_lowercase().as_str());
    if !known || host.is_empty() || url.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    Ok(())
}

/// The change made to one cluster entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyChange {
    /// The cluster's name.
    pub cluster: String,
    /// The `proxy-url` it had before, if any.
    pub previous: Option<String>,
    /// The cluster entry before, as YAML.
    pub before: String,
    /// The cluster entry after, as YAML.
    pub after: String,
}

impl ProxyChange {
    /// False when the entry already had this proxy URL.
    pub fn is_change(&self) -> bool {
        self.before != self.after
    }
}

/// A kubeconfig document.
#[derive(Debug, Clone, PartialEq)]
pub struct Kubeconfig {
    doc: Mapping,
}

impl Kubeconfig {
    /// Parses a kubeconfig; an empty file is an empty kubeconfig.
    pub fn parse(text: &str) -> Result<Self, KubeconfigError> {
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            yaml_serde::from_str(text)?
        };
        match value {
            Value::Mapping(doc) => Ok(Self { doc }),
            Value::Null => Ok(Self {
                doc: Mapping::new(),
            }),
            _ => Err(KubeconfigError::Invalid(
                "the top level is not a mapping".into(),
            )),
        }
    }

    /// The document as YAML text.
    pub fn to_yaml(&self) -> Result<String, KubeconfigError> {
        Ok(yaml_serde::to_string(&self.doc)?)
    }

    /// The names of the clusters, in file order.
    pub fn cluster_names(&self) -> Vec<String> {
        self.entries("clusters")
            .filter_map(entry_name)
            .map(str::to_owned)
            .collect()
    }

    /// The `current-context`, if set.
    pub fn current_context(&self) -> Option<&str> {
        self.doc
            .get("current-context")
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
    }

    /// The cluster to use when none is named: the current context's, or
    /// the only cluster when there is no current context.
    pub fn default_cluster(&self) -> Result<String, KubeconfigError> {
        let Some(context) = self.current_context() else {
            return match self.cluster_names().as_slice() {
                [only] => Ok(only.clone()),
                names => Err(KubeconfigError::NoCurrentCluster {
                    available: names.to_vec(),
                }),
            };
        };
        let entry = self
            .entry("contexts", context)
            .ok_or_else(|| KubeconfigError::ContextNotFound(context.to_owned()))?;
        context_field(entry, "cluster")
            .map(str::to_owned)
            .ok_or_else(|| {
                KubeconfigError::Invalid(format!("context {context:?} names no cluster"))
            })
    }

    /// Sets `clusters[name].cluster.proxy-url`, keeping everything else.
    pub fn set_proxy_url(
        &mut self,
        cluster: &str,
        proxy_url: &str,
    ) -> Result<ProxyChange, KubeconfigError> {
        validate_proxy_url(proxy_url)?;
        let available = self.cluster_names();
        let entry = self.entry_mut("clusters", cluster).ok_or_else(|| {
            KubeconfigError::ClusterNotFound {
                name: cluster.to_owned(),
                available,
            }
        })?;
        let before = entry_yaml(entry)?;
        let settings = entry
            .get_mut("cluster")
            .and_then(Value::as_mapping_mut)
            .ok_or_else(|| {
                KubeconfigError::Invalid(format!("cluster {cluster:?} has no `cluster` mapping"))
            })?;
        let previous = settings
            .get("proxy-url")
            .and_then(Value::as_str)
            .map(str::to_owned);
        settings.insert("proxy-url".into(), proxy_url.into());
        Ok(ProxyChange {
            cluster: cluster.to_owned(),
            previous,
            before,
            after: entry_yaml(entry)?,
        })
    }

    /// A kubeconfig with just `cluster`, the contexts that use it and
    /// their users, each entry copied whole. Its current context is the
    /// current one if that uses the cluster, else the first that does.
    pub fn extract(&self, cluster: &str) -> Result<Self, KubeconfigError> {
        let cluster_entry =
            self.entry("clusters", cluster)
                .ok_or_else(|| KubeconfigError::ClusterNotFound {
                    name: cluster.to_owned(),
                    available: self.cluster_names(),
                })?;
        let contexts: Vec<&Value> = self
            .entries("contexts")
            .filter(|entry| context_field(entry, "cluster") == Some(cluster))
            .collect();
        let current = contexts
            .iter()
            .filter_map(|entry| entry_name(entry))
            .find(|name| Some(*name) == self.current_context())
            .or_else(|| contexts.first().and_then(|entry| entry_name(entry)))
            .ok_or_else(|| KubeconfigError::NoContextForCluster(cluster.to_owned()))?;
        let user_names: BTreeSet<&str> = contexts
            .iter()
            .filter_map(|entry| context_field(entry, "user"))
            .collect();
        let users = self
            .entries("users")
            .filter(|entry| entry_name(entry).is_some_and(|name| user_names.contains(name)));
        let mut doc = Mapping::new();
        let api_version = self.doc.get("apiVersion").cloned();
        doc.insert(
            "apiVersion".into(),
            api_version.unwrap_or_else(|| "v1".into()),
        );
        doc.insert("clusters".into(), sequence([cluster_entry]));
        doc.insert("contexts".into(), sequence(contexts));
        doc.insert("current-context".into(), current.into());
        doc.insert("kind".into(), "Config".into());
        doc.insert("preferences".into(), Value::Mapping(Mapping::new()));
        doc.insert("users".into(), sequence(users));
        Ok(Self { doc })
    }

    /// The context names of this kubeconfig, in file order.
    pub fn context_names(&self) -> Vec<String> {
        self.entries("contexts")
            .filter_map(entry_name)
            .map(str::to_owned)
            .collect()
    }

    /// The user names of this kubeconfig, in file order.
    pub fn user_names(&self) -> Vec<String> {
        self.entries("users")
            .filter_map(entry_name)
            .map(str::to_owned)
            .collect()
    }

    /// Puts `entry` (a whole list entry with its `name`) into `list`: in
    /// place of the entry of the same name, else at the end. Returns the
    /// entry it replaced.
    pub fn upsert_entry(
        &mut self,
        list: &str,
        entry: Value,
    ) -> Result<Option<Value>, KubeconfigError> {
        let name = entry_name(&entry)
            .ok_or_else(|| KubeconfigError::Invalid(format!("a new {list} entry has no name")))?
            .to_owned();
        if let Some(existing) = self.entry_mut(list, &name) {
            return Ok(Some(std::mem::replace(existing, entry)));
        }
        let sequence = self
            .doc
            .entry(list.into())
            .or_insert_with(|| Value::Sequence(Vec::new()));
        if sequence.is_null() {
            *sequence = Value::Sequence(Vec::new());
        }
        let entries = sequence
            .as_sequence_mut()
            .ok_or_else(|| KubeconfigError::Invalid(format!("`{list}` is not a list")))?;
        entries.push(entry);
        Ok(None)
    }

    /// Removes the entry `name` from `list`, returning it.
    pub fn remove_entry(&mut self, list: &str, name: &str) -> Option<Value> {
        let entries = self.doc.get_mut(list)?.as_sequence_mut()?;
        let index = entries
            .iter()
            .position(|entry| entry_name(entry) == Some(name))?;
        Some(entries.remove(index))
    }

    /// Sets `current-context`, or removes it (`None`).
    pub fn set_current_context(&mut self, name: Option<&str>) {
        match name {
            Some(name) => {
                self.doc.insert("current-context".into(), name.into());
            }
            None => {
                self.doc.remove("current-context");
            }
        }
    }

    /// Gives a new, empty kubeconfig the `apiVersion` and `kind` kubectl
    /// writes; an existing file keeps its own.
    pub fn ensure_header(&mut self) {
        for (key, value) in [("apiVersion", "v1"), ("kind", "Config")] {
            if !self.doc.contains_key(key) {
                self.doc.insert(key.into(), value.into());
            }
        }
    }

    fn entries<'a>(&'a self, list: &str) -> impl Iterator<Item = &'a Value> + 'a {
        self.doc
            .get(list)
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
    }

    fn entry(&self, list: &str, name: &str) -> Option<&Value> {
        self.entries(list)
            .find(|entry| entry_name(entry) == Some(name))
    }

    fn entry_mut(&mut self, list: &str, name: &str) -> Option<&mut Value> {
        self.doc
            .get_mut(list)
            .and_then(Value::as_sequence_mut)?
            .iter_mut()
            .find(|entry| entry_name(entry) == Some(name))
    }
}

fn entry_name(entry: &Value) -> Option<&str> {
    entry.get("name").and_then(Value::as_str)
}

fn context_field<'a>(entry: &'a Value, field: &str) -> Option<&'a str> {
    entry.get("context")?.get(field)?.as_str()
}

fn sequence<'a>(entries: impl IntoIterator<Item = &'a Value>) -> Value {
    Value::Sequence(entries.into_iter().cloned().collect())
}

/// One list entry as it appears in the file (`- cluster: …`).
fn entry_yaml(entry: &Value) -> Result<String, KubeconfigError> {
    Ok(yaml_serde::to_string(&[entry])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "\
apiVersion: v1
clusters:
- cluster:
    server: https://a.example
  name: a
- cluster:
    server: https://b.example
    x-vendor: kept
  name: b
contexts:
- context: {cluster: b, user: ub}
  name: cb
current-context: cb
kind: Config
users:
- name: ub
  user: {token: t}
";

    #[test]
    fn picks_the_current_contexts_cluster() {
        let config = Kubeconfig::parse(TWO).unwrap();
        assert_eq!(config.default_cluster().unwrap(), "b");
        assert_eq!(config.cluster_names(), ["a", "b"]);
    }

    #[test]
    fn setting_is_idempotent() {
        let mut config = Kubeconfig::parse(TWO).unwrap();
        assert!(
            config
                .set_proxy_url("b", "http://127.0.0.1:1")
                .unwrap()
                .is_change()
        );
        let again = config.set_proxy_url("b", "http://127.0.0.1:1").unwrap();
        assert!(!again.is_change());
        assert_eq!(again.previous.as_deref(), Some("http://127.0.0.1:1"));
    }

    #[test]
    fn proxy_urls_are_checked() {
        for good in [
            "http://127.0.0.1:8118",
            "socks5://localhost:1080",
            "HTTPS://p",
        ] {
            validate_proxy_url(good).unwrap();
        }
        for bad in ["127.0.0.1:8118", "ftp://x", "http://", "http://a b"] {
            assert!(validate_proxy_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_file_has_no_clusters() {
        let config = Kubeconfig::parse("# nothing\n").unwrap();
        assert!(matches!(
            config.default_cluster(),
            Err(KubeconfigError::NoCurrentCluster { available }) if available.is_empty()
        ));
    }
}
