//! Support for the kube_e2e test: the stand-in API server and its
//! certificates, privoxy, the simulator and `ssm-forward`, the
//! kubeconfigs, and the child processes that tie them together
//! ([`lab::Lab`] starts all of it).

pub(crate) mod apiserver;
pub(crate) mod eks;
pub(crate) mod follow;
pub(crate) mod forward;
pub(crate) mod kubeconfig;
pub(crate) mod lab;
pub(crate) mod objects;
pub(crate) mod pki;
pub(crate) mod privoxy;
pub(crate) mod process;
