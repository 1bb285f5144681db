//! `ssm-forward eks list`: the region's EKS clusters (ListClusters), each
//! with its status, endpoint access (DescribeCluster) and how many of its
//! nodes Session Manager sees online (DescribeInstanceInformation), i.e.
//! which clusters `eks connect` can reach.

use serde::Serialize;

use crate::aws_context::AwsContext;
use crate::cli::AwsArgs;
use crate::eks::cluster::{self, ClusterError};
use crate::targets::{self, TargetSelector};

use crate::eks::connect_plan::cluster_failure;

/// `ssm-forward eks list`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// AWS profile, region and endpoint.
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// One row of the listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// Cluster name.
    pub name: String,
    /// EKS status.
    pub status: String,
    /// `private`, `public`, `public and private`.
    pub endpoint_access: String,
    /// Kubernetes version.
    pub version: String,
    /// Nodes Session Manager sees online.
    pub nodes_online: usize,
}

/// Prints the clusters: a table, or one JSON array with `--json`.
pub async fn run(args: Args, json: bool) -> anyhow::Result<()> {
    let options = args.aws.options();
    let mut aws = AwsContext::default();
    let config = aws.sdk_config(&options).await?;
    let ssm = aws.ssm(&options).await?;
    let region = config.region().map(ToString::to_string).unwrap_or_default();
    let eks = aws_sdk_eks::Client::new(&config);
    let names = cluster::list(&eks).await.map_err(cluster_failure)?;
    let mut rows = Vec::new();
    for name in names {
        let (status, access, version) = match cluster::describe(&eks, &name, &region).await {
            Ok(info) => (
                info.status.clone(),
                info.access_label().to_owned(),
                info.version.unwrap_or_default(),
            ),
            Err(ClusterError::NotActive { status, .. }) => (status, "-".into(), String::new()),
            Err(error) => return Err(cluster_failure(error).into()),
        };
        let selector = TargetSelector::EksCluster(name.clone());
        let nodes_online = targets::online_count(&ssm, &selector).await?;
        rows.push(Row {
            name,
            status,
            endpoint_access: access,
            version,
            nodes_online,
        });
    }
    if json {
        println!("{}", serde_json::to_string(&rows)?);
    } else {
        print!("{}", table(&region, &rows));
    }
    Ok(())
}

/// The human listing: a header comment and aligned rows.
pub fn table(region: &str, rows: &[Row]) -> String {
    let mut lines = vec![[
        "NAME".to_owned(),
        "STATUS".into(),
        "ENDPOINT".into(),
        "VERSION".into(),
        "NODES ONLINE".into(),
    ]];
    lines.extend(rows.iter().map(|row| {
        [
            row.name.clone(),
            row.status.clone(),
            row.endpoint_access.clone(),
            row.version.clone(),
            row.nodes_online.to_string(),
        ]
    }));
    let width = |column: usize| lines.iter().map(|l| l[column].len()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2), width(3)];
    let mut out = format!("# EKS clusters in {region} ({})\n", rows.len());
    for [name, status, access, version, nodes] in &lines {
        out.push_str(&format!(
            "{name:<w0$}  {status:<w1$}  {access:<w2$}  {version:<w3$}  {nodes}\n",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        ));
    }
    if rows.is_empty() {
        out.push_str("(none)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_aligned() {
        let rows = [Row {
            name: "prod".into(),
            status: "ACTIVE".into(),
            endpoint_access: "private".into(),
            version: "1.31".into(),
            nodes_online: 3,
        }];
        let table = table("eu-west-1", &rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "# EKS clusters in eu-west-1 (1)");
        assert_eq!(lines[1], "NAME  STATUS  ENDPOINT  VERSION  NODES ONLINE");
        assert_eq!(lines[2], "prod  ACTIVE  private   1.31     3");
    }
}
