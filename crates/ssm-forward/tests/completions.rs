//! Shell completion and the manual page, through the real binary: every
//! shell gets a script, and bash completes a subcommand and the forward
//! names of the configuration file (`up NAME`).

mod common;

use std::path::Path;
use std::process::Command;

use common::Scratch;

const BINARY: &str = env!("CARGO_BIN_EXE_ssm-forward");

fn output_of(args: &[&str]) -> String {
    let output = Command::new(BINARY).args(args).output().expect("runs");
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).expect("UTF-8")
}

#[test]
fn every_shell_gets_a_completion_script() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = output_of(&["completions", shell]);
        assert!(script.contains("ssm-forward"), "{shell}");
        assert!(script.contains("eks"), "{shell} completes subcommands");
    }
}

#[test]
fn the_manual_page_is_roff_and_one_page_per_command_can_be_written() {
    let page = output_of(&["man"]);
    assert!(page.contains(".TH"), "{page}");
    let scratch = Scratch::new();
    let dir = scratch.join("man1");
    output_of(&["man", "--dir", dir.to_str().unwrap()]);
    for page in ["ssm-forward.1", "ssm-forward-eks.1", "ssm-forward-login.1"] {
        assert!(dir.join(page).is_file(), "{page} in {dir:?}");
    }
}

/// What bash's completion offers for `words` (the last one is being
/// completed), with the script of `ssm-forward completions bash` loaded
/// and the binary on PATH.
fn bash_completes(config: &Path, words: &[&str]) -> Vec<String> {
    let scratch = Scratch::new();
    let script = scratch.join("ssm-forward.bash");
    std::fs::write(&script, output_of(&["completions", "bash"])).unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; \
         _ssm_forward_with_names ssm-forward '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let bin_dir = Path::new(BINARY).parent().unwrap();
    let output = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .env("SSM_FORWARD_CONFIG", config)
        .output()
        .expect("bash runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_forward_names_from_the_config_file() {
    let scratch = Scratch::new();
    let config = scratch.join("config.toml");
    std::fs::write(
        &config,
        "[forwards.db]\ntarget = \"i-0123456789abcdef0\"\nremote_port = 5432\n\n\
         [forwards.privoxy]\ntarget = \"name:bastion\"\nremote_host = \"privoxy.internal\"\nremote_port = 8118\n",
    )
    .unwrap();
    assert!(bash_completes(&config, &["ssm-forward", "lo"]).contains(&"login".to_owned()));
    assert_eq!(
        bash_completes(&config, &["ssm-forward", "up", ""]),
        ["db", "privoxy"]
    );
    assert_eq!(
        bash_completes(&config, &["ssm-forward", "up", "pr"]),
        ["privoxy"]
    );
    let flags = bash_completes(&config, &["ssm-forward", "up", "--"]);
    assert!(
        flags.contains(&"--all".to_owned()),
        "flags still complete: {flags:?}"
    );
}
