//! Kubeconfig files as kubectl reads them: which file (`$KUBECONFIG`'s
//! first entry, else `~/.kube/config`), the document held as generic YAML
//! so editing never drops what this code does not know ([`Kubeconfig`]),
//! and a small unified diff for `--dry-run` output. Used by the
//! `kubeconfig` command (proxy-url) and by `eks connect` (contexts).

pub mod diff;
mod model;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

pub use model::{Kubeconfig, KubeconfigError, ProxyChange, validate_proxy_url};

/// The kubeconfig kubectl would use: the first entry of `$KUBECONFIG`
/// (a path list), else `~/.kube/config`.
pub fn default_path(kubeconfig_env: Option<&OsStr>, home: Option<&Path>) -> Option<PathBuf> {
    let from_env = kubeconfig_env
        .into_iter()
        .flat_map(std::env::split_paths)
        .find(|path| !path.as_os_str().is_empty());
    from_env.or_else(|| home.map(|home| home.join(".kube").join("config")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_prefers_the_first_kubeconfig_entry() {
        let home = Path::new("/home/u");
        assert_eq!(
            default_path(Some(OsStr::new("::/a/one:/b/two")), Some(home)),
            Some(PathBuf::from("/a/one"))
        );
        assert_eq!(
            default_path(Some(OsStr::new("")), Some(home)),
            Some(PathBuf::from("/home/u/.kube/config"))
        );
        assert_eq!(default_path(None, None), None);
    }
}
