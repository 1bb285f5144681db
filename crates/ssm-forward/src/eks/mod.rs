//! EKS, for `ssm-forward eks …` and config-file forwards with
//! `eks_cluster` + `kubeconfig`: the cluster as DescribeCluster tells it
//! ([`cluster`]), the kubeconfig entries that point kubectl at a forward
//! with `ssm-forward eks token` as its credential ([`entries`]), writing
//! them ([`context`]), `eks connect`'s plan and hooks shared with `up`
//! ([`connect_plan`]), the
//! record that lets `disconnect` undo exactly that ([`record`]), and the
//! program name kubectl should run ([`program`]).
//!
//! It does not sign tokens (the `ssm-eks-auth` crate does) nor run
//! forwards (the forwarding modules do).

pub mod cluster;
pub mod connect_plan;
pub mod context;
pub mod entries;
pub mod program;
pub mod record;
