//! The EKS and STS fakes through the real AWS SDK clients (aws-sdk-eks,
//! aws-sdk-sts) against a simulator on loopback, plus the routing they
//! share with the SSM API on one endpoint.
//!
//! The clients are built from a per-service `Config` with static
//! credentials and no credential chain or IMDS client at all, so nothing
//! here can reach instance metadata whatever the environment says.

use aws_sdk_eks::types::{AuthenticationMode, ClusterStatus as SdkClusterStatus};
use aws_smithy_http_client::tls;
use base64::Engine as _;
use serde_json::Value;
use ssm_sim::eks::SIM_CA_PEM;
use ssm_sim::{ClusterConfig, ClusterStatus, SimConfig, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A PEM the tests recognise (not a real certificate: never parsed).
const PROD_CA: &str = "-----BEGIN CERTIFICATE-----\nUFJPRCBDQQ==\n-----END CERTIFICATE-----\n";

async fn sim_with(clusters: Vec<ClusterConfig>) -> Simulator {
    Simulator::start(SimConfig {
        clusters,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn http_client() -> aws_sdk_eks::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

fn eks(sim: &Simulator) -> aws_sdk_eks::Client {
    use aws_sdk_eks::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_eks::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("AKIATEST", "secret", None, None, "test"))
        .endpoint_url(sim.endpoint_url())
        .http_client(http_client())
        .build();
    aws_sdk_eks::Client::from_conf(config)
}

fn sts(sim: &Simulator, access_key: &str, session_token: Option<&str>) -> aws_sdk_sts::Client {
    use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};
    let credentials = Credentials::new(
        access_key,
        "secret",
        session_token.map(str::to_owned),
        None,
        "test",
    );
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(credentials)
        .endpoint_url(sim.endpoint_url())
        .http_client(http_client())
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

#[tokio::test]
async fn describe_cluster_reports_the_configured_cluster() {
    let prod = ClusterConfig::new("prod")
        .with_endpoint_host("prod.k8s.example")
        .with_ca_pem(PROD_CA)
        .with_access(false, true)
        .with_version("1.32");
    let sim = sim_with(vec![prod]).await;
    let output = eks(&sim)
        .describe_cluster()
        .name("prod")
        .send()
        .await
        .expect("DescribeCluster succeeds");
    let cluster = output.cluster().expect("a cluster");
    assert_eq!(cluster.name(), Some("prod"));
    assert_eq!(
        cluster.arn(),
        Some("arn:aws:eks:us-east-1:123456789012:cluster/prod")
    );
    assert_eq!(cluster.status(), Some(&SdkClusterStatus::Active));
    assert_eq!(cluster.endpoint(), Some("https://prod.k8s.example"));
    assert_eq!(cluster.version(), Some("1.32"));
    assert_eq!(cluster.platform_version(), Some("eks.9"));
    assert!(cluster.created_at().is_some_and(|at| at.secs() > 0));
    let data = cluster
        .certificate_authority()
        .and_then(|ca| ca.data())
        .expect("CA data");
    let pem = base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("CA data is base64");
    assert_eq!(pem, PROD_CA.as_bytes());
    let vpc = cluster.resources_vpc_config().expect("VPC config");
    assert!(!vpc.endpoint_public_access());
    assert!(vpc.endpoint_private_access());
    assert_eq!(vpc.public_access_cidrs(), ["0.0.0.0/0"]);
    assert_eq!(vpc.vpc_id(), Some("vpc-0sim0000000000001"));
    assert_eq!(vpc.subnet_ids().len(), 2);
    assert_eq!(
        cluster
            .access_config()
            .and_then(|access| access.authentication_mode()),
        Some(&AuthenticationMode::ApiAndConfigMap)
    );
    let issuer = cluster
        .identity()
        .and_then(|identity| identity.oidc())
        .and_then(|oidc| oidc.issuer())
        .expect("OIDC issuer");
    assert!(issuer.starts_with("https://oidc.eks.us-east-1.amazonaws.com/id/"));
}

#[tokio::test]
async fn describe_cluster_defaults_and_clusters_being_created() {
    let sim = sim_with(vec![
        ClusterConfig::new("demo"),
        ClusterConfig::new("fresh").with_status(ClusterStatus::Creating),
    ])
    .await;
    let client = eks(&sim);
    let demo = client.describe_cluster().name("demo").send().await.unwrap();
    let demo = demo.cluster().unwrap();
    let endpoint = demo.endpoint().unwrap();
    assert!(
        endpoint.starts_with("https://") && endpoint.ends_with(".gr7.us-east-1.eks.amazonaws.com"),
        "{endpoint}"
    );
    let data = demo
        .certificate_authority()
        .and_then(|ca| ca.data())
        .unwrap();
    let pem = base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap();
    assert_eq!(pem, SIM_CA_PEM.as_bytes());
    assert!(
        demo.resources_vpc_config()
            .unwrap()
            .endpoint_public_access()
    );

    let fresh = client
        .describe_cluster()
        .name("fresh")
        .send()
        .await
        .unwrap();
    let fresh = fresh.cluster().unwrap();
    assert_eq!(fresh.status(), Some(&SdkClusterStatus::Creating));
    assert_eq!(fresh.endpoint(), None);
    assert_eq!(fresh.certificate_authority().and_then(|ca| ca.data()), None);
}

#[tokio::test]
async fn describe_unknown_cluster_is_resource_not_found() {
    use aws_sdk_eks::error::{ProvideErrorMetadata, SdkError};
    use aws_sdk_eks::operation::describe_cluster::DescribeClusterError;

    let sim = sim_with(vec![ClusterConfig::new("demo")]).await;
    let error = eks(&sim)
        .describe_cluster()
        .name("nope")
        .send()
        .await
        .expect_err("no such cluster");
    let SdkError::ServiceError(context) = &error else {
        panic!("not a service error: {error:?}");
    };
    assert_eq!(context.raw().status().as_u16(), 404);
    let service_error = error.into_service_error();
    assert_eq!(service_error.code(), Some("ResourceNotFoundException"));
    assert_eq!(
        service_error.message(),
        Some("No cluster found for name: nope.")
    );
    let DescribeClusterError::ResourceNotFoundException(not_found) = service_error else {
        panic!("not ResourceNotFoundException: {service_error:?}");
    };
    assert_eq!(not_found.cluster_name(), Some("nope"));
}

#[tokio::test]
async fn list_clusters_pages_through_every_name_once() {
    let names = ["c5", "a1", "e7", "b2", "d4", "b3", "f0"];
    let sim = sim_with(names.iter().map(|name| ClusterConfig::new(name)).collect()).await;
    let client = eks(&sim);

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = client
            .list_clusters()
            .max_results(3)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("ListClusters succeeds");
        pages += 1;
        assert!(page.clusters().len() <= 3);
        seen.extend(page.clusters().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    let mut sorted = names.map(str::to_owned).to_vec();
    sorted.sort();
    assert_eq!(seen, sorted);

    let all = client.list_clusters().send().await.unwrap();
    assert_eq!(all.clusters(), sorted);
    assert_eq!(all.next_token(), None);

    let paginated: Vec<String> = client
        .list_clusters()
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .expect("the SDK paginator walks the pages");
    assert_eq!(paginated, sorted);
}

#[tokio::test]
async fn list_clusters_refuses_bad_page_sizes_and_tokens() {
    use aws_sdk_eks::error::ProvideErrorMetadata;

    let sim = sim_with(vec![ClusterConfig::new("demo")]).await;
    let client = eks(&sim);
    for size in [0, 101] {
        let error = client
            .list_clusters()
            .max_results(size)
            .send()
            .await
            .expect_err("out of range");
        assert_eq!(error.code(), Some("InvalidParameterException"), "{size}");
    }
    let error = client
        .list_clusters()
        .next_token("not-a-token")
        .send()
        .await
        .expect_err("foreign token");
    assert_eq!(error.code(), Some("InvalidParameterException"));
}

#[tokio::test]
async fn get_caller_identity_names_the_signing_access_key() {
    let sim = sim_with(Vec::new()).await;
    let user = sts(&sim, "AKIAEXAMPLE7", None)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity succeeds");
    assert_eq!(user.account(), Some("123456789012"));
    assert_eq!(
        user.arn(),
        Some("arn:aws:iam::123456789012:user/AKIAEXAMPLE7")
    );
    assert_eq!(user.user_id(), Some("AIDAEXAMPLE7"));

    let role = sts(&sim, "ASIATEMPORARY", Some("session-token"))
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity succeeds");
    assert_eq!(
        role.arn(),
        Some("arn:aws:sts::123456789012:assumed-role/ssm-sim/ASIATEMPORARY")
    );
    assert_eq!(role.user_id(), Some("AROATEMPORARY:ASIATEMPORARY"));
}

/// One HTTP/1.1 request on a fresh connection; (status, headers, body).
async fn raw(sim: &Simulator, request: &str) -> (u16, String, String) {
    let authority = sim.endpoint_url().replace("http://", "");
    let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let request = request.replace("HOST", &authority);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[tokio::test]
async fn one_endpoint_routes_ssm_sts_and_eks_apart() {
    let sim = sim_with(vec![ClusterConfig::new("demo")]).await;
    let json = r#"{"Filters":[{"Key":"tag:eks:cluster-name","Values":["demo"]}]}"#;
    let (status, _, body) = raw(
        &sim,
        &format!(
            "POST / HTTP/1.1\r\nHost: HOST\r\nContent-Type: application/x-amz-json-1.1\r\n\
             X-Amz-Target: AmazonSSM.DescribeInstanceInformation\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let nodes: Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = nodes["InstanceInformationList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| node["InstanceId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["i-0eks0000000000001", "i-0eks0000000000002"]);

    let presigned = "GET /?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIAPRESIGNED%2F20241128%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Signature=00 \
        HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n";
    let (status, head, body) = raw(&sim, presigned).await;
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("content-type: text/xml"), "{head}");
    assert!(
        body.contains("<Arn>arn:aws:iam::123456789012:user/AKIAPRESIGNED</Arn>"),
        "{body}"
    );

    let form = "Action=GetCallerIdentity&Version=2011-06-15";
    let (status, _, body) = raw(
        &sim,
        &format!(
            "POST / HTTP/1.1\r\nHost: HOST\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("<Code>MissingAuthenticationToken</Code>"),
        "{body}"
    );

    let (status, head, body) = raw(
        &sim,
        "GET /clusters/demo HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("x-amzn-requestid: "), "{head}");
    let described: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(described["cluster"]["name"], "demo");

    let (status, head, body) = raw(
        &sim,
        "GET /clusters/gone HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(
        head.contains("x-amzn-errortype: resourcenotfoundexception"),
        "{head}"
    );
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["message"], "No cluster found for name: gone.");
}
