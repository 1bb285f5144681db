//! Amazon EKS authentication tokens without the AWS CLI.
//!
//! An EKS API server accepts a bearer token `k8s-aws-v1.` followed by the
//! unpadded base64url of a presigned STS `GetCallerIdentity` URL: it calls
//! that URL and learns who signed it. This crate makes that token exactly
//! as `aws eks get-token` and aws-iam-authenticator do — a SigV4
//! query-string signature (through `aws-sigv4`) of a GET to the regional
//! STS endpoint of the cluster's region, valid 60 seconds for the signature
//! date, with the header `x-k8s-aws-id: CLUSTER` signed in — and wraps it in
//! the `ExecCredential` JSON that kubectl reads from an exec credential
//! plugin, expiring 14 minutes after it was made (STS honours these tokens
//! for 15 minutes; kubectl fetches a new one before the old one expires).
//!
//! [`presign::token`] is pure and local: credentials, cluster, region and
//! `now` in, token out; no network call, no clock read.
//! [`exec_credential_from_config`] is the async convenience that resolves
//! credentials from an [`aws_types::SdkConfig`] (profiles, SSO, the
//! environment, whatever the caller's config loads) and returns the
//! [`ExecCredential`].
//!
//! What it does not do: talk to EKS or STS (it never checks that the
//! token works), assume roles (`aws eks get-token --role-arn`: give it an
//! `SdkConfig` whose provider assumes the role instead), read
//! `KUBERNETES_EXEC_INFO` (it always answers
//! `client.authentication.k8s.io/v1beta1`), cache tokens, or write
//! kubeconfigs. Tokens are bearer secrets: nothing here logs them, and
//! [`EksToken`] and [`ExecCredential`] redact them in `Debug`.

mod error;
mod exec_credential;
mod from_config;
mod partition;
pub mod presign;
mod rfc3339;

pub use error::{PresignError, TokenError};
pub use exec_credential::{EXEC_CREDENTIAL_API_VERSION, ExecCredential, TOKEN_LIFETIME};
pub use from_config::{credentials_from_config, exec_credential_from_config};
pub use partition::{dns_suffix, sts_host};
pub use presign::{CLUSTER_ID_HEADER, EksToken, PRESIGNED_URL_EXPIRES, TOKEN_PREFIX};
