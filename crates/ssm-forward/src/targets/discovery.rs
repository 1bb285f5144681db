//! Target discovery: from an instance id, a Name tag, any tag or an EKS
//! cluster to one online managed instance.
//!
//! Ids (`i-…`, `mi-…`) are used as they are, without any API call.
//! Everything else asks SSM `DescribeInstanceInformation` for online
//! instances (`PingStatus=Online` and a `tag:KEY` or `tag-key` filter,
//! every page) and picks the one with the newest agent (versions compared
//! as numbers, part by part), ties broken by instance id. When nothing
//! online matches, a second query without the `PingStatus` filter tells
//! "no such instance" apart from "it exists but is offline".

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use aws_sdk_ssm::types::InstanceInformationStringFilter;
use ssm_client::ApiError;
use thiserror::Error;
use tracing::{debug, instrument};

/// The tag EKS puts on managed node groups' instances.
pub const EKS_CLUSTER_TAG: &str = "eks:cluster-name";
/// The tag key prefix self-managed nodes carry (`kubernetes.io/cluster/NAME`).
pub const KUBERNETES_CLUSTER_TAG_PREFIX: &str = "kubernetes.io/cluster/";

/// How the user named the target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TargetSelector {
    /// An instance or managed-node id, used as is.
    Id(String),
    /// Instances whose tag `key` has `value` (`name:` is `tag:Name=`).
    Tag {
        /// Tag key.
        key: String,
        /// Tag value.
        value: String,
    },
    /// Nodes of an EKS cluster.
    EksCluster(String),
}

impl FromStr for TargetSelector {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(name) = text.strip_prefix("name:") {
            return non_empty(name, text).map(|name| Self::Tag {
                key: "Name".into(),
                value: name,
            });
        }
        if let Some(tag) = text.strip_prefix("tag:") {
            let (key, value) = tag
                .split_once('=')
                .ok_or_else(|| format!("{text:?}: write tag:KEY=VALUE"))?;
            return Ok(Self::Tag {
                key: non_empty(key, text)?,
                value: value.to_owned(),
            });
        }
        if is_instance_id(text) {
            return Ok(Self::Id(text.to_owned()));
        }
        Err(format!(
            "{text:?} is not a target: use an instance id (i-…, mi-…), name:NAME or tag:KEY=VALUE \
             (did you mean name:{text}?)"
        ))
    }
}

impl fmt::Display for TargetSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => f.write_str(id),
            Self::Tag { key, value } if key == "Name" => write!(f, "name:{value}"),
            Self::Tag { key, value } => write!(f, "tag:{key}={value}"),
            Self::EksCluster(name) => write!(f, "eks-cluster:{name}"),
        }
    }
}

fn non_empty(part: &str, whole: &str) -> Result<String, String> {
    if part.is_empty() {
        Err(format!("{whole:?}: the name or tag key is empty"))
    } else {
        Ok(part.to_owned())
    }
}

/// True for `i-` and `mi-` followed by letters and digits (real ids are
/// hex; the simulator's are not).
pub fn is_instance_id(text: &str) -> bool {
    let digits = text.strip_prefix("i-").or_else(|| text.strip_prefix("mi-"));
    digits.is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// An instance as DescribeInstanceInformation reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Instance id.
    pub instance_id: String,
    /// SSM agent version.
    pub agent_version: String,
    /// `Online`, `ConnectionLost`, `Inactive`.
    pub ping_status: String,
}

/// The instance chosen for a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Instance id to start sessions on.
    pub instance_id: String,
    /// Its agent version (empty for ids used as is).
    pub agent_version: String,
    /// How many online instances matched (0 for ids used as is).
    pub matches: usize,
}

/// Why no target could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DiscoveryError {
    /// Nothing matches at all.
    #[error(
        "no managed instance matches {selector}: check the spelling, --region and --profile \
         (`aws ssm describe-instance-information` lists what Session Manager sees)"
    )]
    NotFound {
        /// What was asked for.
        selector: String,
    },
    /// Instances match, but none is online.
    #[error(
        "{selector} matches {offline}, but none is online: start the instance or check its SSM agent"
    )]
    Offline {
        /// What was asked for.
        selector: String,
        /// The matching instances with their ping status.
        offline: String,
    },
    /// DescribeInstanceInformation failed.
    #[error("could not list managed instances for {selector}: {source}")]
    Api {
        /// What was asked for.
        selector: String,
        /// The classified API error.
        #[source]
        source: ApiError,
    },
}

/// Finds the instance to use for `selector`.
#[instrument(level = "debug", skip(client), fields(%selector))]
pub async fn resolve(
    client: &aws_sdk_ssm::Client,
    selector: &TargetSelector,
) -> Result<Resolved, DiscoveryError> {
    if let TargetSelector::Id(id) = selector {
        return Ok(Resolved {
            instance_id: id.clone(),
            agent_version: String::new(),
            matches: 0,
        });
    }
    let api = |source| DiscoveryError::Api {
        selector: selector.to_string(),
        source,
    };
    let online = find(client, selector, true).await.map_err(api)?;
    debug!(matches = online.len(), "online instances");
    if let Some(chosen) = choose(&online) {
        return Ok(Resolved {
            instance_id: chosen.instance_id.clone(),
            agent_version: chosen.agent_version.clone(),
            matches: online.len(),
        });
    }
    let all = find(client, selector, false).await.map_err(api)?;
    Err(not_found(selector, &all))
}

fn not_found(selector: &TargetSelector, all: &[Candidate]) -> DiscoveryError {
    if all.is_empty() {
        return DiscoveryError::NotFound {
            selector: selector.to_string(),
        };
    }
    let offline = all
        .iter()
        .map(|c| format!("{} ({})", c.instance_id, c.ping_status))
        .collect::<Vec<_>>()
        .join(", ");
    DiscoveryError::Offline {
        selector: selector.to_string(),
        offline,
    }
}

/// The newest agent wins; equal versions go to the smallest id.
pub fn choose(candidates: &[Candidate]) -> Option<&Candidate> {
    candidates.iter().max_by(|a, b| {
        compare_versions(&a.agent_version, &b.agent_version)
            .then_with(|| b.instance_id.cmp(&a.instance_id))
    })
}

/// Compares dotted versions numerically part by part (`3.3.1142.0` >
/// `3.3.987.0`); missing or non-numeric parts count as 0.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let (a, b) = (parts(a), parts(b));
    let len = a.len().max(b.len());
    let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    (0..len)
        .map(|i| at(&a, i).cmp(&at(&b, i)))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Every instance matching `selector` (online only if `online`), merged
/// over the selector's tag queries, without duplicates.
async fn find(
    client: &aws_sdk_ssm::Client,
    selector: &TargetSelector,
    online: bool,
) -> Result<Vec<Candidate>, ApiError> {
    let mut found: Vec<Candidate> = Vec::new();
    for tag_filter in tag_filters(selector) {
        let mut filters = vec![tag_filter];
        if online {
            filters.push(filter("PingStatus", "Online"));
        }
        for candidate in describe_all(client, filters).await? {
            if !found.iter().any(|c| c.instance_id == candidate.instance_id) {
                found.push(candidate);
            }
        }
    }
    Ok(found)
}

/// The tag filters that select the instances (any of them may match).
fn tag_filters(selector: &TargetSelector) -> Vec<InstanceInformationStringFilter> {
    match selector {
        TargetSelector::Id(id) => vec![filter("InstanceIds", id)],
        TargetSelector::Tag { key, value } => vec![filter(&format!("tag:{key}"), value)],
        TargetSelector::EksCluster(name) => vec![
            filter(&format!("tag:{EKS_CLUSTER_TAG}"), name),
            filter("tag-key", &format!("{KUBERNETES_CLUSTER_TAG_PREFIX}{name}")),
        ],
    }
}

fn filter(key: &str, value: &str) -> InstanceInformationStringFilter {
    InstanceInformationStringFilter::builder()
        .key(key)
        .values(value)
        .build()
        .expect("key and values are set")
}

/// One DescribeInstanceInformation query, every page.
async fn describe_all(
    client: &aws_sdk_ssm::Client,
    filters: Vec<InstanceInformationStringFilter>,
) -> Result<Vec<Candidate>, ApiError> {
    let mut candidates = Vec::new();
    let mut next_token = None;
    loop {
        let page = client
            .describe_instance_information()
            .set_filters(Some(filters.clone()))
            .max_results(50)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(ssm_client::classify_sdk_error)?;
        candidates.extend(page.instance_information_list().iter().filter_map(|info| {
            Some(Candidate {
                instance_id: info.instance_id()?.to_owned(),
                agent_version: info.agent_version().unwrap_or_default().to_owned(),
                ping_status: info
                    .ping_status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            })
        }));
        next_token = page
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if next_token.is_none() {
            return Ok(candidates);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: &str, version: &str) -> Candidate {
        Candidate {
            instance_id: id.into(),
            agent_version: version.into(),
            ping_status: "Online".into(),
        }
    }

    #[test]
    fn selectors_parse() {
        assert_eq!(
            "i-0123456789abcdef0".parse(),
            Ok(TargetSelector::Id("i-0123456789abcdef0".into()))
        );
        assert_eq!("mi-0abc".parse(), Ok(TargetSelector::Id("mi-0abc".into())));
        assert_eq!(
            "name:bastion".parse(),
            Ok(TargetSelector::Tag {
                key: "Name".into(),
                value: "bastion".into()
            })
        );
        assert_eq!(
            "tag:env=dev=x".parse(),
            Ok(TargetSelector::Tag {
                key: "env".into(),
                value: "dev=x".into()
            })
        );
        assert!(
            "bastion"
                .parse::<TargetSelector>()
                .unwrap_err()
                .contains("name:bastion")
        );
        assert!("tag:env".parse::<TargetSelector>().is_err());
        assert!("name:".parse::<TargetSelector>().is_err());
        assert!("i-x.z".parse::<TargetSelector>().is_err());
        assert!("i-".parse::<TargetSelector>().is_err());
    }

    #[test]
    fn selectors_display_as_written() {
        for text in ["i-0abc", "name:bastion", "tag:env=dev"] {
            assert_eq!(text.parse::<TargetSelector>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn versions_compare_as_numbers() {
        assert_eq!(
            compare_versions("3.3.1142.0", "3.3.987.0"),
            Ordering::Greater
        );
        assert_eq!(compare_versions("3.3", "3.3.0.0"), Ordering::Equal);
        assert_eq!(compare_versions("2.9.9.9", "3.0.0.0"), Ordering::Less);
        assert_eq!(compare_versions("", "0.0.0.1"), Ordering::Less);
    }

    #[test]
    fn newest_agent_then_smallest_id_wins() {
        let nodes = [
            candidate("i-0b", "3.3.987.0"),
            candidate("i-0c", "3.3.1142.0"),
            candidate("i-0a", "3.3.1142.0"),
        ];
        assert_eq!(choose(&nodes).unwrap().instance_id, "i-0a");
        assert!(choose(&[]).is_none());
    }

    #[test]
    fn offline_matches_are_named() {
        let selector: TargetSelector = "name:offline".parse().unwrap();
        let offline = Candidate {
            ping_status: "ConnectionLost".into(),
            ..candidate("i-0off", "3.3.987.0")
        };
        let error = not_found(&selector, &[offline]).to_string();
        assert!(error.contains("i-0off (ConnectionLost)"), "{error}");
        assert!(
            not_found(&selector, &[])
                .to_string()
                .contains("no managed instance")
        );
    }
}
