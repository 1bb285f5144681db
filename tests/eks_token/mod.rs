//! An independent verifier of EKS bearer tokens (`k8s-aws-v1.…`), for
//! tests and the stand-in Kubernetes API server: it does what EKS and STS
//! do with a token — decode it, check the presigned STS
//! `GetCallerIdentity` URL inside, and recompute its SigV4 signature —
//! but locally, from the test's secret key. Written from the SigV4
//! specification with `hmac` and `sha2` only, it shares no code with
//! `aws-sigv4` or `ssm-eks-auth`, so it can judge both them and the AWS
//! CLI.
//!
//! The cluster name is not in the URL: kubectl sends only the token, and
//! the server puts its own cluster name in the signed `x-k8s-aws-id`
//! header when it checks the signature. A token made for another cluster
//! therefore fails as [`Rejection::SignatureMismatch`], as it does on EKS.
//!
//! Lifetime rule ([`Validity`]): EKS honours a token until 15 minutes
//! after its `X-Amz-Date` whatever `X-Amz-Expires` says (the AWS CLI
//! writes 60 and tells kubectl to renew after 14 minutes), so that is the
//! default; [`Validity::UrlExpires`] applies `X-Amz-Date + X-Amz-Expires`
//! strictly instead.

mod query;
mod sigv4;
mod verify;

pub use verify::{Expected, Rejection, Validity, Verified, verify};
