//! DescribeInstanceInformation on the wire; the filtering and paging
//! themselves live in [`crate::fleet`].

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::time::epoch_seconds;
use crate::config::InstanceConfig;
use crate::fleet::{self, InstanceFilter, Page};
use crate::service::Service;

/// Page size when `MaxResults` is absent.
const DEFAULT_INSTANCE_PAGE: usize = 50;
/// Accepted `MaxResults` range.
const INSTANCE_PAGE_RANGE: std::ops::RangeInclusive<i64> = 5..=50;

/// DescribeInstanceInformation input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeInstanceInformationRequest {
    instance_information_filter_list: Option<Vec<LegacyFilterWire>>,
    filters: Option<Vec<FilterWire>>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// A legacy `InstanceInformationFilterList` entry (lower-case members).
#[derive(Debug, Deserialize)]
pub(crate) struct LegacyFilterWire {
    key: Option<String>,
    #[serde(rename = "valueSet")]
    value_set: Option<Vec<String>>,
}

/// A `Filters` entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct FilterWire {
    key: Option<String>,
    values: Option<Vec<String>>,
}

/// DescribeInstanceInformation output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeInstanceInformationResponse {
    instance_information_list: Vec<InstanceInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// One managed instance as the API reports it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct InstanceInformation {
    instance_id: String,
    ping_status: String,
    last_ping_date_time: f64,
    agent_version: String,
    is_latest_version: bool,
    platform_type: &'static str,
    platform_name: &'static str,
    platform_version: &'static str,
    resource_type: &'static str,
    #[serde(rename = "IPAddress")]
    ip_address: String,
    computer_name: String,
    association_status: &'static str,
    source_id: String,
    source_type: &'static str,
}

/// DescribeInstanceInformation: the fleet, filtered and paginated by id.
pub(crate) fn describe(
    service: &Service,
    request: DescribeInstanceInformationRequest,
) -> Result<DescribeInstanceInformationResponse, ApiError> {
    let page_size = page_size(request.max_results)?;
    let filters = parse_filters(request.instance_information_filter_list, request.filters)?;
    let instances = service.instances();
    let selected = fleet::select(&instances, &filters);
    let Page { items, next_token } = fleet::paginate(
        selected,
        |instance| instance.id.clone(),
        "instances",
        page_size,
        request.next_token.as_deref(),
    )?;
    let now = SystemTime::now();
    let region = &service.config().region;
    Ok(DescribeInstanceInformationResponse {
        instance_information_list: items
            .into_iter()
            .map(|instance| information(instance, region, now))
            .collect(),
        next_token,
    })
}

fn page_size(max_results: Option<i64>) -> Result<usize, ApiError> {
    let Some(n) = max_results else {
        return Ok(DEFAULT_INSTANCE_PAGE);
    };
    let (min, max) = INSTANCE_PAGE_RANGE.into_inner();
    if n < min {
        return Err(ApiError::constraint(
            n,
            "maxResults",
            &format!("have value greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(ApiError::constraint(
            n,
            "maxResults",
            &format!("have value less than or equal to {max}"),
        ));
    }
    usize::try_from(n).map_err(|_| ApiError::Internal("page size overflow".into()))
}

/// Both filter styles, which AWS refuses to combine.
fn parse_filters(
    legacy: Option<Vec<LegacyFilterWire>>,
    filters: Option<Vec<FilterWire>>,
) -> Result<Vec<InstanceFilter>, ApiError> {
    let legacy = legacy.unwrap_or_default();
    let filters = filters.unwrap_or_default();
    if !legacy.is_empty() && !filters.is_empty() {
        return Err(ApiError::Validation(
            "InstanceInformationFilterList and Filters cannot be used together.".into(),
        ));
    }
    let legacy = legacy.into_iter().enumerate().map(|(index, filter)| {
        let member =
            |name: &str| format!("instanceInformationFilterList.{}.member.{name}", index + 1);
        let key = filter
            .key
            .ok_or_else(|| ApiError::missing(&member("key")))?;
        let values = filter
            .value_set
            .ok_or_else(|| ApiError::missing(&member("valueSet")))?;
        Ok(InstanceFilter::parse_legacy(&key, values)?)
    });
    let current = filters.into_iter().enumerate().map(|(index, filter)| {
        let member = |name: &str| format!("filters.{}.member.{name}", index + 1);
        let key = filter
            .key
            .ok_or_else(|| ApiError::missing(&member("key")))?;
        let values = filter
            .values
            .ok_or_else(|| ApiError::missing(&member("values")))?;
        Ok(InstanceFilter::parse(&key, values)?)
    });
    legacy.chain(current).collect()
}

fn information(instance: &InstanceConfig, region: &str, now: SystemTime) -> InstanceInformation {
    InstanceInformation {
        instance_id: instance.id.clone(),
        ping_status: instance.ping_status.clone(),
        last_ping_date_time: epoch_seconds(fleet::last_ping(instance, now)),
        agent_version: instance.agent_version.clone(),
        is_latest_version: fleet::is_latest_version(&instance.agent_version),
        platform_type: fleet::PLATFORM_TYPE,
        platform_name: fleet::PLATFORM_NAME,
        platform_version: fleet::PLATFORM_VERSION,
        resource_type: fleet::RESOURCE_TYPE,
        ip_address: instance.ip_address.clone(),
        computer_name: fleet::computer_name(instance, region),
        association_status: fleet::ASSOCIATION_STATUS,
        source_id: instance.id.clone(),
        source_type: "AWS::EC2::Instance",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_bounds_follow_the_api() {
        assert_eq!(page_size(None).unwrap(), 50);
        assert_eq!(page_size(Some(5)).unwrap(), 5);
        assert_eq!(
            page_size(Some(4)).unwrap_err().code(),
            "ValidationException"
        );
        assert_eq!(
            page_size(Some(51)).unwrap_err().code(),
            "ValidationException"
        );
    }

    #[test]
    fn filter_styles_do_not_mix() {
        let legacy = vec![LegacyFilterWire {
            key: Some("PingStatus".into()),
            value_set: Some(vec!["Online".into()]),
        }];
        let current = vec![FilterWire {
            key: Some("tag-key".into()),
            values: Some(vec!["Name".into()]),
        }];
        assert_eq!(
            parse_filters(Some(legacy), Some(current))
                .unwrap_err()
                .code(),
            "ValidationException"
        );
    }

    #[test]
    fn missing_members_are_validation_errors() {
        let current = vec![FilterWire {
            key: Some("tag-key".into()),
            values: None,
        }];
        assert_eq!(
            parse_filters(None, Some(current)).unwrap_err().code(),
            "ValidationException"
        );
    }
}
