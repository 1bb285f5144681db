//! ssm-sim: a faithful local simulator of the AWS Session Manager
//! service side, for tests, benchmarks and demos without an AWS account.
//!
//! It plays three parts on 127.0.0.1:
//! * the **SSM API** ([`api`]): StartSession, ResumeSession,
//!   TerminateSession, DescribeSessions and DescribeInstanceInformation
//!   over AWS JSON 1.1, good enough for the AWS SDKs and the AWS CLI;
//! * the **message gateway** ([`gateway`]): the data-channel WebSocket,
//!   token checks, and the realism and fault knobs (pacing, rate limit,
//!   recycling, latency, drops, duplicates, reordering, corruption,
//!   pauses, abrupt closes) and hostile-peer behaviours ([`hostile`]);
//! * the **agent** ([`agent`]): handshake, acks, reordering, the agent's
//!   retransmission, mux mode (an independent smux server, `async_smux`)
//!   and basic mode, dialling real TCP destinations on loopback.
//!
//! On the SSM API's endpoint it also fakes the parts of more services
//! that `ssm-forward` calls: **EKS** ([`eks`]: DescribeCluster and
//! ListClusters over the configured clusters), **STS** ([`sts`]:
//! GetCallerIdentity) and **IAM Identity Center** ([`sso`]: the SSO OIDC
//! device flow and the SSO portal's role credentials, which the other
//! fakes then accept until they expire).
//!
//! [`Simulator`] starts all of it. It does not implement shell sessions
//! beyond an echo stand-in, KMS encryption, or any SSM, EKS or STS
//! operation beyond those above; where it knowingly differs from the real service,
//! `docs/ssm-sim.md` says so.

pub mod agent;
pub mod api;
pub mod config;
pub mod eks;
pub mod fleet;
mod form;
pub mod gateway;
pub mod hostile;
mod instance;
mod lifecycle;
pub mod limits;
pub mod messages;
pub mod registry;
pub mod service;
mod sim;
pub mod sso;
pub mod starts;
pub mod stats;
pub mod sts;
pub mod targets;

pub use config::{
    AgentBackoff, DetachedOutput, FaultConfig, GatewayPolicy, InstanceConfig, RealismConfig,
    SimConfig, TerminateNotice,
};
pub use eks::{ClusterConfig, ClusterStatus};
pub use gateway::network::Network;
pub use hostile::Hostile;
pub use registry::{EndCause, SessionStatus, SessionSummary};
pub use sim::{Injection, ReadyInfo, Simulator};
pub use sso::{Sso, SsoAccount, SsoConfig};
pub use starts::StartStats;
pub use stats::SessionStats;
