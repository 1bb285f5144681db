//! The EKS output shapes on the wire (REST-JSON, camelCase members,
//! timestamps as epoch seconds), built from a [`ClusterConfig`].

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;

use super::cluster::{ClusterConfig, ClusterStatus, name_digest};
use crate::sts::ACCOUNT_ID;

/// `createdAt` of every simulated cluster: 2025-01-01T00:00:00Z.
const CREATED_AT: f64 = 1_735_689_600.0;

/// DescribeCluster output.
#[derive(Debug, Serialize)]
pub(crate) struct DescribeClusterResponse {
    pub(crate) cluster: Cluster,
}

/// ListClusters output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListClustersResponse {
    pub(crate) clusters: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_token: Option<String>,
}

/// The `Cluster` shape (the members the simulator models).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Cluster {
    name: String,
    arn: String,
    created_at: f64,
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    role_arn: String,
    resources_vpc_config: VpcConfig,
    kubernetes_network_config: NetworkConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<Identity>,
    status: ClusterStatus,
    certificate_authority: CertificateAuthority,
    platform_version: String,
    tags: BTreeMap<String, String>,
    access_config: AccessConfig,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct VpcConfig {
    subnet_ids: Vec<String>,
    security_group_ids: Vec<String>,
    cluster_security_group_id: String,
    vpc_id: String,
    endpoint_public_access: bool,
    endpoint_private_access: bool,
    public_access_cidrs: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NetworkConfig {
    service_ipv4_cidr: &'static str,
    ip_family: &'static str,
}

#[derive(Debug, Serialize)]
struct Identity {
    oidc: Oidc,
}

#[derive(Debug, Serialize)]
struct Oidc {
    issuer: String,
}

/// `{}` while the cluster has no CA yet, `{"data": base64(PEM)}` after.
#[derive(Debug, Serialize)]
struct CertificateAuthority {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessConfig {
    authentication_mode: String,
}

impl Cluster {
    /// The shape DescribeCluster reports for `config` in `region`.
    pub(crate) fn new(config: &ClusterConfig, region: &str) -> Self {
        let name = &config.name;
        let serving = config.status.has_endpoint();
        let digest = name_digest(name);
        Self {
            name: name.clone(),
            arn: format!("arn:aws:eks:{region}:{ACCOUNT_ID}:cluster/{name}"),
            created_at: CREATED_AT,
            version: config.version.clone(),
            endpoint: serving.then(|| format!("https://{}", config.endpoint_host(region))),
            role_arn: format!("arn:aws:iam::{ACCOUNT_ID}:role/{name}-cluster-role"),
            resources_vpc_config: VpcConfig {
                subnet_ids: config.subnet_ids.clone(),
                security_group_ids: Vec::new(),
                cluster_security_group_id: format!("sg-{}", digest[..17].to_ascii_lowercase()),
                vpc_id: config.vpc_id.clone(),
                endpoint_public_access: config.endpoint_public_access,
                endpoint_private_access: config.endpoint_private_access,
                public_access_cidrs: config.public_access_cidrs.clone(),
            },
            kubernetes_network_config: NetworkConfig {
                service_ipv4_cidr: "172.20.0.0/16",
                ip_family: "ipv4",
            },
            identity: serving.then(|| Identity {
                oidc: Oidc {
                    issuer: format!("https://oidc.eks.{region}.amazonaws.com/id/{digest}"),
                },
            }),
            status: config.status,
            certificate_authority: CertificateAuthority {
                data: serving
                    .then(|| base64::engine::general_purpose::STANDARD.encode(config.ca_pem())),
            },
            platform_version: config.platform_version.clone(),
            tags: BTreeMap::new(),
            access_config: AccessConfig {
                authentication_mode: config.authentication_mode.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn wire(config: &ClusterConfig) -> Value {
        serde_json::to_value(Cluster::new(config, "eu-west-1")).unwrap()
    }

    #[test]
    fn active_cluster_has_endpoint_ca_and_issuer() {
        let config = ClusterConfig::new("demo").with_endpoint_host("k8s.example");
        let cluster = wire(&config);
        assert_eq!(cluster["endpoint"], "https://k8s.example");
        assert_eq!(
            cluster["arn"],
            "arn:aws:eks:eu-west-1:123456789012:cluster/demo"
        );
        assert_eq!(cluster["status"], "ACTIVE");
        let data = cluster["certificateAuthority"]["data"].as_str().unwrap();
        let pem = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        assert_eq!(pem, config.ca_pem().as_bytes());
        assert!(
            cluster["identity"]["oidc"]["issuer"]
                .as_str()
                .unwrap()
                .starts_with("https://oidc.eks.eu-west-1.")
        );
        assert_eq!(cluster["resourcesVpcConfig"]["endpointPublicAccess"], true);
        assert_eq!(
            cluster["accessConfig"]["authenticationMode"],
            "API_AND_CONFIG_MAP"
        );
    }

    #[test]
    fn creating_cluster_has_no_endpoint_or_ca_data() {
        let cluster = wire(&ClusterConfig::new("new").with_status(ClusterStatus::Creating));
        assert_eq!(cluster["status"], "CREATING");
        assert!(cluster.get("endpoint").is_none());
        assert!(cluster.get("identity").is_none());
        assert_eq!(cluster["certificateAuthority"], serde_json::json!({}));
    }
}
