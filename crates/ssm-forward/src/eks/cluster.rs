//! An EKS cluster as `eks connect` needs it: DescribeCluster's endpoint,
//! certificate authority and endpoint access, checked for a route the
//! forward can use; and ListClusters for `eks list`.

use aws_sdk_eks::operation::describe_cluster::DescribeClusterError;
use aws_sdk_eks::types::Cluster;
use thiserror::Error;
use tracing::debug;

/// What `eks connect` needs to know about a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    /// The cluster's name.
    pub name: String,
    /// Its ARN (empty when the service did not say).
    pub arn: String,
    /// `ACTIVE`, `CREATING`, `UPDATING`, `DELETING`, `FAILED`, `PENDING`.
    pub status: String,
    /// The API server's host name (the endpoint URL without scheme).
    pub endpoint_host: String,
    /// The endpoint's port (443 unless the URL names another).
    pub endpoint_port: u16,
    /// Base64 of the PEM certificate authority, as kubeconfig wants it.
    pub certificate_authority_data: String,
    /// The endpoint answers inside the VPC.
    pub private_access: bool,
    /// The endpoint answers on the internet.
    pub public_access: bool,
    /// Who may reach the public endpoint.
    pub public_access_cidrs: Vec<String>,
    /// Kubernetes version, e.g. `1.31`.
    pub version: Option<String>,
}

/// Why a cluster cannot be used (each says what to do).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// No cluster by that name in this region and account.
    #[error(
        "no EKS cluster named {cluster:?} in {region}: check the name, --region and --profile \
         (`ssm-forward eks list` shows the clusters there)"
    )]
    NotFound {
        /// The name asked for.
        cluster: String,
        /// The region asked.
        region: String,
    },
    /// The cluster exists but its API server is not serving.
    #[error(
        "EKS cluster {cluster:?} is {status}, not ACTIVE: wait until it is ACTIVE and try again"
    )]
    NotActive {
        /// The cluster.
        cluster: String,
        /// Its status.
        status: String,
    },
    /// DescribeCluster gave no endpoint or certificate (cluster still creating).
    #[error("EKS cluster {cluster:?} has no {missing} yet: wait until it is ACTIVE and try again")]
    Incomplete {
        /// The cluster.
        cluster: String,
        /// What is missing.
        missing: &'static str,
    },
    /// Neither private nor public endpoint access: nothing can reach it.
    #[error(
        "EKS cluster {cluster:?} has neither private nor public endpoint access, so its API server \
         cannot be reached from anywhere: enable private endpoint access (aws eks update-cluster-config \
         --resources-vpc-config endpointPrivateAccess=true)"
    )]
    NoAccess {
        /// The cluster.
        cluster: String,
    },
    /// An EKS API call failed.
    #[error("EKS {operation} failed: {message}")]
    Api {
        /// `DescribeCluster` or `ListClusters`.
        operation: &'static str,
        /// What went wrong, phrased for users.
        message: String,
        /// The classified error, for exit statuses and advice.
        error: Box<ssm_client::ApiError>,
    },
}

impl ClusterInfo {
    /// Reads DescribeCluster's answer.
    pub fn from_cluster(cluster: &Cluster, name: &str) -> Result<Self, ClusterError> {
        let incomplete = |missing| ClusterError::Incomplete {
            cluster: name.to_owned(),
            missing,
        };
        let status = cluster
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        let endpoint = cluster.endpoint().unwrap_or_default();
        let endpoint_host = endpoint_host(endpoint);
        let endpoint_port = endpoint_port(endpoint);
        let ca = cluster
            .certificate_authority()
            .and_then(|ca| ca.data())
            .unwrap_or_default();
        let vpc = cluster.resources_vpc_config();
        let info = Self {
            name: cluster.name().unwrap_or(name).to_owned(),
            arn: cluster.arn().unwrap_or_default().to_owned(),
            status,
            endpoint_host: endpoint_host.to_owned(),
            endpoint_port,
            certificate_authority_data: ca.to_owned(),
            private_access: vpc.is_some_and(|v| v.endpoint_private_access()),
            public_access: vpc.is_some_and(|v| v.endpoint_public_access()),
            public_access_cidrs: vpc
                .map(|v| v.public_access_cidrs().to_vec())
                .unwrap_or_default(),
            version: cluster.version().map(str::to_owned),
        };
        info.check_serving()?;
        if info.endpoint_host.is_empty() {
            return Err(incomplete("API endpoint"));
        }
        if info.certificate_authority_data.is_empty() {
            return Err(incomplete("certificate authority"));
        }
        Ok(info)
    }

    /// The endpoint URL (`https://HOST`, with `:PORT` if not 443).
    pub fn endpoint_url(&self) -> String {
        match self.endpoint_port {
            443 => format!("https://{}", self.endpoint_host),
            port => format!("https://{}:{port}", self.endpoint_host),
        }
    }

    /// `private`, `public`, `public and private`, or `none`.
    pub fn access_label(&self) -> &'static str {
        match (self.public_access, self.private_access) {
            (true, true) => "public and private",
            (false, true) => "private",
            (true, false) => "public",
            (false, false) => "none",
        }
    }

    /// Fails unless the API server is serving (ACTIVE, or UPDATING,
    /// during which the endpoint keeps answering).
    fn check_serving(&self) -> Result<(), ClusterError> {
        match self.status.as_str() {
            "ACTIVE" | "UPDATING" => Ok(()),
            _ => Err(ClusterError::NotActive {
                cluster: self.name.clone(),
                status: if self.status.is_empty() {
                    "in an unknown state".into()
                } else {
                    self.status.clone()
                },
            }),
        }
    }

    /// Checks that a node of the cluster can reach the endpoint: an error
    /// when nothing can, a warning (returned) when only the public
    /// endpoint exists, which a node reaches only through its NAT and only
    /// if the NAT's address is allowed.
    pub fn route_warning(&self) -> Result<Option<String>, ClusterError> {
        match (self.private_access, self.public_access) {
            (true, _) => Ok(None),
            (false, true) => Ok(Some(format!(
                "cluster {:?} has no private endpoint access: the node reaches its public endpoint \
                 through the VPC's NAT, which works only if that address is allowed ({}); kubectl \
                 could also reach the public endpoint directly",
                self.name,
                if self.public_access_cidrs.is_empty() {
                    "public access CIDRs unknown".to_owned()
                } else {
                    format!("publicAccessCidrs: {}", self.public_access_cidrs.join(", "))
                }
            ))),
            (false, false) => Err(ClusterError::NoAccess {
                cluster: self.name.clone(),
            }),
        }
    }
}

/// A private, ACTIVE cluster `prod` for tests.
#[cfg(test)]
pub(crate) fn sample(endpoint_host: &str) -> ClusterInfo {
    ClusterInfo {
        name: "prod".into(),
        arn: String::new(),
        status: "ACTIVE".into(),
        endpoint_host: endpoint_host.into(),
        endpoint_port: 443,
        certificate_authority_data: "Q0E=".into(),
        private_access: true,
        public_access: false,
        public_access_cidrs: Vec::new(),
        version: None,
    }
}

/// The host of an endpoint URL (`https://HOST[:PORT][/…]` → `HOST`).
pub fn endpoint_host(endpoint: &str) -> &str {
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))
        .unwrap_or(endpoint);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) && !host.ends_with(']') => {
            host
        }
        _ => authority,
    }
}

/// The port of an endpoint URL: the one it names, else 443.
pub fn endpoint_port(endpoint: &str) -> u16 {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority
        .rsplit_once(':')
        .filter(|(host, _)| !host.ends_with('[') && !authority.ends_with(']'))
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or(443)
}

/// DescribeCluster, checked: the cluster exists, is serving, and has an
/// endpoint and a certificate authority.
pub async fn describe(
    client: &aws_sdk_eks::Client,
    name: &str,
    region: &str,
) -> Result<ClusterInfo, ClusterError> {
    debug!(cluster = name, "DescribeCluster");
    let output = client
        .describe_cluster()
        .name(name)
        .send()
        .await
        .map_err(|error| {
            let not_found = matches!(
                error.as_service_error(),
                Some(DescribeClusterError::ResourceNotFoundException(_))
            );
            if not_found {
                ClusterError::NotFound {
                    cluster: name.to_owned(),
                    region: region.to_owned(),
                }
            } else {
                api_failure("DescribeCluster", error)
            }
        })?;
    let cluster = output.cluster().ok_or_else(|| ClusterError::NotFound {
        cluster: name.to_owned(),
        region: region.to_owned(),
    })?;
    ClusterInfo::from_cluster(cluster, name)
}

/// Every cluster name in the region (all pages).
pub async fn list(client: &aws_sdk_eks::Client) -> Result<Vec<String>, ClusterError> {
    let mut names = Vec::new();
    let mut pages = client.list_clusters().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| api_failure("ListClusters", error))?;
        names.extend(page.clusters().iter().cloned());
    }
    Ok(names)
}

fn api_failure<E>(operation: &'static str, error: aws_sdk_eks::error::SdkError<E>) -> ClusterError
where
    E: aws_sdk_eks::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let error = ssm_client::classify_sdk_error(error);
    ClusterError::Api {
        operation,
        message: error.to_string(),
        error: Box::new(error),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_eks::types::{Certificate, ClusterStatus, VpcConfigResponse};

    use super::*;

    fn cluster(status: ClusterStatus, private: bool, public: bool) -> Cluster {
        Cluster::builder()
            .name("prod")
            .arn("arn:aws:eks:eu-west-1:111122223333:cluster/prod")
            .status(status)
            .endpoint("https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com")
            .certificate_authority(Certificate::builder().data("Q0E=").build())
            .resources_vpc_config(
                VpcConfigResponse::builder()
                    .endpoint_private_access(private)
                    .endpoint_public_access(public)
                    .public_access_cidrs("203.0.113.0/24")
                    .build(),
            )
            .version("1.31")
            .build()
    }

    #[test]
    fn an_active_private_cluster_is_usable() {
        let info = ClusterInfo::from_cluster(&cluster(ClusterStatus::Active, true, false), "prod")
            .unwrap();
        assert_eq!(info.endpoint_host, "ABCDEF.gr7.eu-west-1.eks.amazonaws.com");
        assert_eq!(
            info.endpoint_url(),
            "https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com"
        );
        assert_eq!(info.certificate_authority_data, "Q0E=");
        assert_eq!(info.access_label(), "private");
        assert_eq!(info.route_warning().unwrap(), None);
    }

    #[test]
    fn a_cluster_that_is_not_serving_says_so() {
        let error =
            ClusterInfo::from_cluster(&cluster(ClusterStatus::Creating, true, false), "prod")
                .unwrap_err();
        assert!(
            error.to_string().contains("CREATING, not ACTIVE"),
            "{error}"
        );
        assert!(
            ClusterInfo::from_cluster(&cluster(ClusterStatus::Updating, true, false), "prod")
                .is_ok()
        );
    }

    #[test]
    fn public_only_warns_and_no_access_fails() {
        let public =
            ClusterInfo::from_cluster(&cluster(ClusterStatus::Active, false, true), "prod")
                .unwrap();
        let warning = public.route_warning().unwrap().unwrap();
        assert!(warning.contains("203.0.113.0/24"), "{warning}");
        let none = ClusterInfo::from_cluster(&cluster(ClusterStatus::Active, false, false), "prod")
            .unwrap();
        assert!(matches!(
            none.route_warning(),
            Err(ClusterError::NoAccess { .. })
        ));
    }

    #[test]
    fn endpoint_hosts() {
        assert_eq!(endpoint_host("https://a.example"), "a.example");
        assert_eq!(endpoint_host("https://a.example:8443/x"), "a.example");
        assert_eq!(endpoint_host("a.example"), "a.example");
        assert_eq!(endpoint_host("https://[fd00::1]"), "[fd00::1]");
        assert_eq!(endpoint_port("https://a.example"), 443);
        assert_eq!(endpoint_port("https://a.example:8443/x"), 8443);
        assert_eq!(endpoint_port("https://[fd00::1]"), 443);
    }

    #[test]
    fn missing_certificate_is_incomplete() {
        let mut bare = cluster(ClusterStatus::Active, true, false);
        bare.certificate_authority = None;
        assert!(matches!(
            ClusterInfo::from_cluster(&bare, "prod"),
            Err(ClusterError::Incomplete {
                missing: "certificate authority",
                ..
            })
        ));
    }
}
