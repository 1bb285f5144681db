//! `ssm-forward kubeconfig` on sample kubeconfigs in temporary
//! directories: in-place edits keep every entry and unknown field, the
//! file mode and symlinks; `--output`, `--dry-run` and the errors.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ssm_forward::commands::kubeconfig::{Args as KubeconfigArgs, execute};
use yaml_serde::Value;

const EKS: &str = "arn:aws:eks:us-east-1:111122223333:cluster/demo";
const PROXY: &str = "http://127.0.0.1:8118";

/// What `aws eks update-kubeconfig` writes, next to a kind cluster, with
/// fields this code knows nothing about.
fn sample() -> String {
    format!(
        "\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: {ca}
    server: https://0123456789ABCDEF0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com
  name: {EKS}
- cluster:
    insecure-skip-tls-verify: true
    server: https://127.0.0.1:6443
    extensions:
    - extension: {{last-update: 'Mon, 01 Jan 2026'}}
      name: cluster_info
  name: kind-dev
contexts:
- context:
    cluster: {EKS}
    namespace: apps
    user: {EKS}
  name: {EKS}
- context:
    cluster: kind-dev
    user: kind-dev
  name: kind-dev
current-context: {EKS}
kind: Config
preferences: {{}}
users:
- name: {EKS}
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args: [--region, us-east-1, eks, get-token, --cluster-name, demo]
      command: aws
      env:
      - name: AWS_PROFILE
        value: dev
      interactiveMode: IfAvailable
- name: kind-dev
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
x-vendor-setting:
  keep: [1, 2.5, true, null, '007']
",
        ca = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t".repeat(20)
    )
}

fn args(path: &Path) -> KubeconfigArgs {
    KubeconfigArgs {
        proxy_url: PROXY.into(),
        kubeconfig: Some(path.to_owned()),
        cluster: None,
        output: None,
        dry_run: false,
    }
}

/// Writes the sample with `mode` into a new temporary directory.
fn setup(mode: u32) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    fs::write(&path, sample()).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    (dir, path)
}

fn run(args: &KubeconfigArgs) -> anyhow::Result<String> {
    let mut out = Vec::new();
    execute(args, &mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

fn yaml(path: &Path) -> Value {
    yaml_serde::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

/// The sample with `proxy-url` added to cluster number `index`.
fn expected(index: usize) -> Value {
    let mut value: Value = yaml_serde::from_str(&sample()).unwrap();
    let cluster = value["clusters"][index]["cluster"]
        .as_mapping_mut()
        .unwrap();
    cluster.insert("proxy-url".into(), PROXY.into());
    value
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn sets_proxy_url_on_the_current_cluster_and_keeps_everything_else() {
    let (dir, path) = setup(0o640);
    let report = run(&args(&path)).unwrap();
    assert_eq!(yaml(&path), expected(0));
    assert!(
        report.contains(&format!("set proxy-url {PROXY}")),
        "{report}"
    );
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o640, "the file mode is kept");
    assert_eq!(
        file_names(dir.path()),
        ["config"],
        "no temporary file is left"
    );
}

#[test]
fn the_edit_replaces_the_file_by_rename_so_readers_never_see_half_of_it() {
    let (dir, path) = setup(0o600);
    let before = fs::metadata(&path).unwrap().ino();
    // A reader that opened the file before the edit keeps the old text.
    let reader = fs::File::open(&path).unwrap();
    run(&args(&path)).unwrap();
    assert_ne!(
        fs::metadata(&path).unwrap().ino(),
        before,
        "a new file was renamed over the old one"
    );
    let old = std::io::read_to_string(reader).unwrap();
    assert_eq!(old, sample(), "the old file was not written in place");
    assert_eq!(yaml(&path), expected(0));
    assert_eq!(file_names(dir.path()), ["config"]);
}

#[test]
fn named_cluster_is_changed() {
    let (_dir, path) = setup(0o600);
    let mut args = args(&path);
    args.cluster = Some("kind-dev".into());
    run(&args).unwrap();
    assert_eq!(yaml(&path), expected(1));
}

#[test]
fn second_run_changes_nothing_and_a_new_url_replaces_the_old() {
    let (_dir, path) = setup(0o600);
    run(&args(&path)).unwrap();
    let inode = fs::metadata(&path).unwrap().ino();
    let report = run(&args(&path)).unwrap();
    assert!(report.contains("nothing to change"), "{report}");
    assert_eq!(fs::metadata(&path).unwrap().ino(), inode, "not rewritten");
    let mut other = args(&path);
    other.proxy_url = "http://127.0.0.1:3128".into();
    let report = run(&other).unwrap();
    assert!(
        report.contains(&format!("proxy-url {PROXY} → http://127.0.0.1:3128")),
        "{report}"
    );
    assert_eq!(
        yaml(&path)["clusters"][0]["cluster"]["proxy-url"],
        "http://127.0.0.1:3128"
    );
}

#[test]
fn dry_run_shows_the_entry_and_writes_nothing() {
    let (dir, path) = setup(0o600);
    let mut args = args(&path);
    args.dry_run = true;
    let report = run(&args).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), sample());
    assert_eq!(file_names(dir.path()), ["config"]);
    assert!(report.starts_with("--- "), "{report}");
    assert!(
        report.contains(&format!("+    proxy-url: {PROXY}\n")),
        "{report}"
    );
    assert!(
        report.contains("     server: https://0123456789ABCDEF"),
        "{report}"
    );
    assert!(
        report.contains("more characters)"),
        "long certificate lines are shortened: {report}"
    );
    assert!(
        !report.contains("kind-dev"),
        "only the chosen cluster is shown: {report}"
    );
    assert!(report.contains("Dry run: nothing written."), "{report}");
}

#[test]
fn output_writes_a_separate_kubeconfig_for_one_cluster() {
    let (dir, path) = setup(0o644);
    let output = dir.path().join("eks").join("demo.yaml");
    let mut args = args(&path);
    args.output = Some(output.clone());
    let report = run(&args).unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        sample(),
        "original untouched"
    );
    let written = yaml(&output);
    let full = expected(0);
    assert_eq!(
        written["clusters"].as_sequence().unwrap(),
        &[full["clusters"][0].clone()]
    );
    assert_eq!(
        written["contexts"].as_sequence().unwrap(),
        &[full["contexts"][0].clone()]
    );
    assert_eq!(
        written["users"].as_sequence().unwrap(),
        &[full["users"][0].clone()]
    );
    assert_eq!(written["current-context"], EKS);
    assert_eq!(written["kind"], "Config");
    let mode = fs::metadata(&output).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600, "new kubeconfigs are private");
    assert!(
        report.contains(&format!("export KUBECONFIG={}", output.display())),
        "{report}"
    );
}

#[test]
fn output_cannot_be_the_source() {
    let (_dir, path) = setup(0o600);
    let mut args = args(&path);
    args.output = Some(path.clone());
    let error = run(&args).unwrap_err().to_string();
    assert!(error.contains("leave out --output"), "{error}");
}

#[test]
fn symlinked_kubeconfig_is_edited_through_the_link() {
    let (dir, path) = setup(0o600);
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    run(&args(&link)).unwrap();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(yaml(&path), expected(0));
}

#[test]
fn unknown_cluster_lists_the_available_ones() {
    let (_dir, path) = setup(0o600);
    let mut args = args(&path);
    args.cluster = Some("prod".into());
    let error = format!("{:#}", run(&args).unwrap_err());
    assert!(error.contains("cluster \"prod\" not found"), "{error}");
    assert!(
        error.contains(&format!("available clusters: {EKS}, kind-dev")),
        "{error}"
    );
}

#[test]
fn missing_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let error = run(&args(&dir.path().join("nope")))
        .unwrap_err()
        .to_string();
    assert!(error.contains("does not exist"), "{error}");
    assert!(error.contains("--kubeconfig"), "{error}");
}

#[test]
fn without_current_context_a_cluster_must_be_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    fs::write(
        &path,
        sample().replace(&format!("current-context: {EKS}\n"), ""),
    )
    .unwrap();
    let error = format!("{:#}", run(&args(&path)).unwrap_err());
    assert!(error.contains("pass --cluster NAME"), "{error}");
    assert!(error.contains("kind-dev"), "{error}");
}

#[test]
fn invalid_proxy_url_and_invalid_yaml_are_refused() {
    let (_dir, path) = setup(0o600);
    let mut bad_url = args(&path);
    bad_url.proxy_url = "127.0.0.1:8118".into();
    let error = run(&bad_url).unwrap_err().to_string();
    assert!(error.contains("http://"), "{error}");
    fs::write(&path, "clusters: [unclosed\n").unwrap();
    let error = format!("{:#}", run(&args(&path)).unwrap_err());
    assert!(error.contains("not valid YAML"), "{error}");
}

#[test]
fn comments_are_reported_as_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    fs::write(&path, format!("# managed by hand\n{}", sample())).unwrap();
    let report = run(&args(&path)).unwrap();
    assert!(report.contains("comments"), "{report}");
    assert_eq!(yaml(&path), expected(0));
}

#[test]
fn dry_run_with_output_writes_no_file_and_shows_no_credentials() {
    let (dir, path) = setup(0o600);
    let mut args = args(&path);
    args.output = Some(dir.path().join("new.yaml"));
    args.dry_run = true;
    let report = run(&args).unwrap();
    assert_eq!(file_names(dir.path()), ["config"]);
    assert!(report.contains("(new file)"), "{report}");
    assert!(
        report.contains(&format!("contexts: {EKS}; users: {EKS}.")),
        "{report}"
    );
    assert!(
        !report.contains("get-token"),
        "user entries are not shown: {report}"
    );
}
