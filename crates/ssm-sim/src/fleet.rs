//! The managed-instance fleet as `DescribeInstanceInformation` sees it:
//! filter parsing and matching, the details reported per instance, and
//! keyset pagination with opaque tokens (also used by `DescribeSessions`).
//!
//! Everything here is a pure function of its inputs so it can be unit
//! tested without HTTP or a runtime.

use std::cmp::Ordering;
use std::time::{Duration, SystemTime};

use thiserror::Error;

use crate::config::InstanceConfig;

/// The newest SSM agent version the simulator knows; instances running it
/// (or something newer) report `IsLatestVersion: true`.
pub const LATEST_AGENT_VERSION: &str = "3.3.1142.0";
/// `PlatformType` of every simulated instance.
pub const PLATFORM_TYPE: &str = "Linux";
/// `PlatformName` of every simulated instance.
pub const PLATFORM_NAME: &str = "Amazon Linux";
/// `PlatformVersion` of every simulated instance.
pub const PLATFORM_VERSION: &str = "2023";
/// `ResourceType` of every simulated instance.
pub const RESOURCE_TYPE: &str = "EC2Instance";
/// `AssociationStatus` of every simulated instance.
pub const ASSOCIATION_STATUS: &str = "Success";

const PING_STATUSES: &[&str] = &["Online", "ConnectionLost", "Inactive"];
const PLATFORM_TYPES: &[&str] = &["Windows", "Linux", "MacOS"];
const RESOURCE_TYPES: &[&str] = &["EC2Instance", "ManagedInstance"];
const LEGACY_KEYS: &[&str] = &[
    "InstanceIds",
    "AgentVersion",
    "PingStatus",
    "PlatformTypes",
    "ActivationIds",
    "IamRole",
    "ResourceType",
    "AssociationStatus",
];
const MAX_FILTER_VALUES: usize = 100;

/// A rejected filter or page token, with the AWS error code it maps to.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FleetError {
    /// A `Filters` key the API does not know.
    #[error("The specified filter key {0} is not valid.")]
    InvalidFilterKey(String),
    /// A known key with an unacceptable value.
    #[error("{0}")]
    InvalidFilterValue(String),
    /// A constraint of the request shape is violated.
    #[error("{0}")]
    Validation(String),
    /// The page token is not one this simulator issued for this listing.
    #[error("The specified token is not valid.")]
    InvalidNextToken,
}

impl FleetError {
    /// The `__type` code AWS uses for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidFilterKey(_) => "InvalidFilterKey",
            Self::InvalidFilterValue(_) => "InvalidInstanceInformationFilterValue",
            Self::Validation(_) => "ValidationException",
            Self::InvalidNextToken => "InvalidNextToken",
        }
    }
}

/// One `DescribeInstanceInformation` filter. Values within a filter are
/// alternatives (OR); several filters must all match (AND).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceFilter {
    /// `InstanceIds`: the instance id is one of these.
    InstanceIds(Vec<String>),
    /// `AgentVersion`: the agent version is one of these.
    AgentVersion(Vec<String>),
    /// `PingStatus`: `Online`, `ConnectionLost` or `Inactive`.
    PingStatus(Vec<String>),
    /// `PlatformTypes`: `Windows`, `Linux` or `MacOS`.
    PlatformTypes(Vec<String>),
    /// `ResourceType`: exactly one of `EC2Instance`, `ManagedInstance`.
    ResourceType(String),
    /// `AssociationStatus`: the association status is one of these.
    AssociationStatus(Vec<String>),
    /// `ActivationIds`: never matches (EC2 instances have no activation).
    ActivationIds(Vec<String>),
    /// `IamRole`: never matches (not reported for EC2 instances).
    IamRole(Vec<String>),
    /// `tag:<key>`: the instance has tag `key` with one of the values.
    Tag {
        /// The tag key.
        key: String,
        /// Accepted tag values.
        values: Vec<String>,
    },
    /// `tag-key`: the instance has one of these tag keys.
    TagKey(Vec<String>),
}

impl InstanceFilter {
    /// Parses a `Filters` entry (`{Key, Values}`), which also accepts the
    /// `tag:<key>` and `tag-key` forms.
    pub fn parse(key: &str, values: Vec<String>) -> Result<Self, FleetError> {
        check_values("filters", &values)?;
        if let Some(tag) = key.strip_prefix("tag:") {
            if tag.is_empty() {
                return Err(FleetError::InvalidFilterKey(key.to_owned()));
            }
            return Ok(Self::Tag {
                key: tag.to_owned(),
                values,
            });
        }
        if key == "tag-key" {
            return Ok(Self::TagKey(values));
        }
        Self::standard(key, values)?.ok_or_else(|| FleetError::InvalidFilterKey(key.to_owned()))
    }

    /// Parses a legacy `InstanceInformationFilterList` entry (`{key,
    /// valueSet}`); its keys are an enum, so an unknown one is a
    /// `ValidationException` as in AWS.
    pub fn parse_legacy(key: &str, values: Vec<String>) -> Result<Self, FleetError> {
        check_values("instanceInformationFilterList", &values)?;
        Self::standard(key, values)?.ok_or_else(|| {
            FleetError::Validation(format!(
                "1 validation error detected: Value '{key}' at 'instanceInformationFilterList.1.member.key' \
                 failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                LEGACY_KEYS.join(", ")
            ))
        })
    }

    /// The keys both filter styles share; `None` for any other key.
    fn standard(key: &str, values: Vec<String>) -> Result<Option<Self>, FleetError> {
        let filter = match key {
            "InstanceIds" => Self::InstanceIds(values),
            "AgentVersion" => Self::AgentVersion(values),
            "PingStatus" => Self::PingStatus(check_enum(key, values, PING_STATUSES)?),
            "PlatformTypes" => Self::PlatformTypes(check_enum(key, values, PLATFORM_TYPES)?),
            "ResourceType" => Self::ResourceType(single_resource_type(values)?),
            "AssociationStatus" => Self::AssociationStatus(values),
            "ActivationIds" => Self::ActivationIds(values),
            "IamRole" => Self::IamRole(values),
            _ => return Ok(None),
        };
        Ok(Some(filter))
    }

    /// True when `instance` passes this filter.
    pub fn matches(&self, instance: &InstanceConfig) -> bool {
        let any = |values: &[String], actual: &str| values.iter().any(|value| value == actual);
        match self {
            Self::InstanceIds(ids) => any(ids, &instance.id),
            Self::AgentVersion(versions) => any(versions, &instance.agent_version),
            Self::PingStatus(statuses) => any(statuses, &instance.ping_status),
            Self::PlatformTypes(types) => any(types, PLATFORM_TYPE),
            Self::ResourceType(kind) => kind == RESOURCE_TYPE,
            Self::AssociationStatus(statuses) => any(statuses, ASSOCIATION_STATUS),
            Self::ActivationIds(_) | Self::IamRole(_) => false,
            Self::Tag { key, values } => instance
                .tags
                .get(key)
                .is_some_and(|actual| any(values, actual)),
            Self::TagKey(keys) => keys.iter().any(|key| instance.tags.contains_key(key)),
        }
    }
}

fn check_values(list: &str, values: &[String]) -> Result<(), FleetError> {
    if values.is_empty() || values.len() > MAX_FILTER_VALUES {
        return Err(FleetError::Validation(format!(
            "1 validation error detected: Value at '{list}.1.member.values' failed to satisfy constraint: \
             Member must have length between 1 and {MAX_FILTER_VALUES}"
        )));
    }
    if values.iter().any(String::is_empty) {
        return Err(FleetError::Validation(format!(
            "1 validation error detected: Value '' at '{list}.1.member.values' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
        )));
    }
    Ok(())
}

fn check_enum(key: &str, values: Vec<String>, allowed: &[&str]) -> Result<Vec<String>, FleetError> {
    if values.iter().all(|value| allowed.contains(&value.as_str())) {
        return Ok(values);
    }
    Err(FleetError::InvalidFilterValue(format!(
        "{key} filter is invalid, valid values are {}",
        allowed.join(", ")
    )))
}

fn single_resource_type(values: Vec<String>) -> Result<String, FleetError> {
    let [value]: [String; 1] = values.try_into().map_err(|_| {
        FleetError::InvalidFilterValue("ResourceType filter may contain only one value.".into())
    })?;
    check_enum("ResourceType", vec![value], RESOURCE_TYPES).map(|mut values| values.remove(0))
}

/// The instances passing every filter, ordered by instance id.
pub fn select<'a>(
    instances: &'a [InstanceConfig],
    filters: &[InstanceFilter],
) -> Vec<&'a InstanceConfig> {
    let mut selected: Vec<_> = instances
        .iter()
        .filter(|instance| filters.iter().all(|filter| filter.matches(instance)))
        .collect();
    selected.sort_by(|a, b| a.id.cmp(&b.id));
    selected
}

/// Compares dotted numeric versions (`3.3.987.0` < `3.3.1142.0`);
/// `None` if either is not purely numeric.
pub fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
    let parse = |version: &str| {
        version
            .split('.')
            .map(str::parse::<u64>)
            .collect::<Result<Vec<_>, _>>()
            .ok()
    };
    Some(parse(a)?.cmp(&parse(b)?))
}

/// `IsLatestVersion`: the agent is at least [`LATEST_AGENT_VERSION`].
pub fn is_latest_version(agent_version: &str) -> bool {
    compare_versions(agent_version, LATEST_AGENT_VERSION).is_some_and(Ordering::is_ge)
}

/// `ComputerName`: the EC2 private DNS host name derived from the IP, as
/// the agent reports it (`ip-10-0-0-10.ec2.internal` in us-east-1).
pub fn computer_name(instance: &InstanceConfig, region: &str) -> String {
    let host = format!("ip-{}", instance.ip_address.replace(['.', ':'], "-"));
    if region == "us-east-1" {
        format!("{host}.ec2.internal")
    } else {
        format!("{host}.{region}.compute.internal")
    }
}

/// `LastPingDateTime`: now for an online agent, further back the longer
/// an agent has been silent (`ConnectionLost`, then `Inactive`).
pub fn last_ping(instance: &InstanceConfig, now: SystemTime) -> SystemTime {
    let silent_for = match instance.ping_status.as_str() {
        "Online" => Duration::ZERO,
        "ConnectionLost" => Duration::from_secs(15 * 60),
        _ => Duration::from_secs(30 * 24 * 3600),
    };
    now.checked_sub(silent_for).unwrap_or(now)
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Token for the next page; `None` on the last page.
    pub next_token: Option<String>,
}

/// Keyset pagination: sorts `items` by `key` (which must be unique per
/// item), skips those up to and including the key in `token`, and
/// returns up to `page_size` (at least 1) of the rest. Resuming after a key rather
/// than an offset keeps pages stable while items come and go.
///
/// Tokens are opaque (hex), tied to `scope` so that one listing's token
/// is rejected by another with [`FleetError::InvalidNextToken`]. An
/// empty token means the first page.
pub fn paginate<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> String,
    scope: &str,
    page_size: usize,
    token: Option<&str>,
) -> Result<Page<T>, FleetError> {
    let after = match token.filter(|token| !token.is_empty()) {
        Some(token) => Some(decode_token(scope, token)?),
        None => None,
    };
    let page_size = page_size.max(1);
    items.sort_by_cached_key(|item| key(item));
    let start = after.map_or(0, |after| items.partition_point(|item| key(item) <= after));
    let mut rest = items.split_off(start);
    let next_token =
        (rest.len() > page_size).then(|| encode_token(scope, &key(&rest[page_size - 1])));
    rest.truncate(page_size);
    Ok(Page {
        items: rest,
        next_token,
    })
}

fn encode_token(scope: &str, key: &str) -> String {
    format!("{scope}\n{key}")
        .bytes()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn decode_token(scope: &str, token: &str) -> Result<String, FleetError> {
    let bytes = (0..token.len())
        .step_by(2)
        .map(|at| {
            token
                .get(at..at + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or(FleetError::InvalidNextToken)?;
    let text = String::from_utf8(bytes).map_err(|_| FleetError::InvalidNextToken)?;
    match text.split_once('\n') {
        Some((token_scope, key)) if token_scope == scope => Ok(key.to_owned()),
        _ => Err(FleetError::InvalidNextToken),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_fleet;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| (*value).to_owned()).collect()
    }

    fn ids(selected: &[&InstanceConfig]) -> Vec<String> {
        selected
            .iter()
            .map(|instance| instance.id.clone())
            .collect()
    }

    fn select_with(filters: &[(&str, &[&str])]) -> Vec<String> {
        let fleet = default_fleet();
        let filters: Vec<_> = filters
            .iter()
            .map(|(key, values)| InstanceFilter::parse(key, strings(values)).unwrap())
            .collect();
        ids(&select(&fleet, &filters))
    }

    #[test]
    fn no_filters_selects_everything_sorted() {
        let all = select_with(&[]);
        assert_eq!(all.len(), 5);
        assert!(all.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn each_filter_kind_matches() {
        assert_eq!(
            select_with(&[("InstanceIds", &["i-0eks0000000000002", "i-nope"])]),
            ["i-0eks0000000000002"]
        );
        assert_eq!(
            select_with(&[("PingStatus", &["ConnectionLost"])]),
            ["i-0off000000000000c"]
        );
        assert_eq!(
            select_with(&[("AgentVersion", &["3.0.161.0"])]),
            ["i-0old000000000000b"]
        );
        assert_eq!(select_with(&[("PlatformTypes", &["Linux"])]).len(), 5);
        assert!(select_with(&[("PlatformTypes", &["Windows", "MacOS"])]).is_empty());
        assert_eq!(select_with(&[("ResourceType", &["EC2Instance"])]).len(), 5);
        assert!(select_with(&[("ResourceType", &["ManagedInstance"])]).is_empty());
        assert_eq!(select_with(&[("AssociationStatus", &["Success"])]).len(), 5);
        assert!(select_with(&[("ActivationIds", &["a"])]).is_empty());
        assert_eq!(
            select_with(&[("tag:Name", &["bastion", "legacy"])]),
            ["i-0123456789abcdef0", "i-0old000000000000b"]
        );
        assert_eq!(
            select_with(&[("tag-key", &["env", "nope"])]),
            ["i-0123456789abcdef0"]
        );
    }

    #[test]
    fn filters_and_together() {
        assert_eq!(
            select_with(&[
                ("tag:eks:cluster-name", &["demo"]),
                ("AgentVersion", &["3.3.1142.0"])
            ]),
            ["i-0eks0000000000002"]
        );
        assert!(
            select_with(&[("tag-key", &["env"]), ("PingStatus", &["ConnectionLost"])]).is_empty()
        );
    }

    #[test]
    fn bad_filters_have_aws_codes() {
        let code = |key: &str, values: &[&str]| {
            InstanceFilter::parse(key, strings(values))
                .unwrap_err()
                .code()
        };
        assert_eq!(code("Bogus", &["x"]), "InvalidFilterKey");
        assert_eq!(code("tag:", &["x"]), "InvalidFilterKey");
        assert_eq!(
            code("PingStatus", &["Asleep"]),
            "InvalidInstanceInformationFilterValue"
        );
        assert_eq!(
            code("PlatformTypes", &["Linux", "BeOS"]),
            "InvalidInstanceInformationFilterValue"
        );
        assert_eq!(
            code("ResourceType", &["EC2Instance", "ManagedInstance"]),
            "InvalidInstanceInformationFilterValue"
        );
        assert_eq!(
            code("ResourceType", &["Document"]),
            "InvalidInstanceInformationFilterValue"
        );
        assert_eq!(code("InstanceIds", &[]), "ValidationException");
        assert_eq!(code("InstanceIds", &[""]), "ValidationException");
    }

    #[test]
    fn legacy_keys_exclude_tags_and_validate_as_enum() {
        assert!(InstanceFilter::parse_legacy("PingStatus", strings(&["Online"])).is_ok());
        let error = InstanceFilter::parse_legacy("tag:Name", strings(&["x"])).unwrap_err();
        assert_eq!(error.code(), "ValidationException");
        assert_eq!(
            InstanceFilter::parse_legacy("Bogus", strings(&["x"]))
                .unwrap_err()
                .code(),
            "ValidationException"
        );
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(
            compare_versions("3.3.987.0", "3.3.1142.0"),
            Some(Ordering::Less)
        );
        assert_eq!(compare_versions("3.3.x", "3.3.1"), None);
        assert!(is_latest_version("3.3.1142.0"));
        assert!(is_latest_version("3.10.0.0"));
        assert!(!is_latest_version("3.3.987.0"));
        assert!(!is_latest_version("latest"));
    }

    #[test]
    fn computer_name_follows_ec2_dns() {
        let instance = InstanceConfig::new("i-1", &[]);
        assert_eq!(
            computer_name(&instance, "us-east-1"),
            "ip-10-0-0-10.ec2.internal"
        );
        assert_eq!(
            computer_name(&instance, "eu-west-1"),
            "ip-10-0-0-10.eu-west-1.compute.internal"
        );
    }

    #[test]
    fn last_ping_is_older_for_silent_agents() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000_000);
        let mut instance = InstanceConfig::new("i-1", &[]);
        assert_eq!(last_ping(&instance, now), now);
        instance.ping_status = "ConnectionLost".into();
        assert!(last_ping(&instance, now) < now);
    }

    fn page(items: &[u32], size: usize, token: Option<&str>) -> Page<u32> {
        paginate(items.to_vec(), |n| format!("{n:04}"), "test", size, token).unwrap()
    }

    #[test]
    fn pagination_walks_all_items_once() {
        let items = [5, 3, 1, 4, 2];
        let first = page(&items, 2, None);
        assert_eq!(first.items, [1, 2]);
        let second = page(&items, 2, first.next_token.as_deref());
        assert_eq!(second.items, [3, 4]);
        let third = page(&items, 2, second.next_token.as_deref());
        assert_eq!(third.items, [5]);
        assert_eq!(third.next_token, None);
        assert_eq!(page(&items, 5, None).next_token, None);
        assert_eq!(page(&items, 2, Some("")).items, [1, 2]);
    }

    #[test]
    fn pagination_is_stable_when_items_disappear() {
        let first = page(&[1, 2, 3, 4], 2, None);
        let second = page(&[1, 3, 4], 2, first.next_token.as_deref());
        assert_eq!(second.items, [3, 4]);
    }

    #[test]
    fn foreign_or_garbled_tokens_are_rejected() {
        let token = page(&[1, 2, 3], 1, None).next_token.unwrap();
        let other_scope = paginate(vec![1u32], |n| n.to_string(), "other", 1, Some(&token));
        assert_eq!(other_scope.unwrap_err(), FleetError::InvalidNextToken);
        for garbage in ["zz", "abc", "ff", "é"] {
            let result = paginate(vec![1u32], |n| n.to_string(), "test", 1, Some(garbage));
            assert_eq!(
                result.unwrap_err(),
                FleetError::InvalidNextToken,
                "{garbage}"
            );
        }
    }
}
