//! `ssm-forward completions SHELL`: a completion script for bash, zsh,
//! fish, PowerShell or elvish on stdout, generated from the command line
//! definition (clap_complete). The bash and fish scripts also complete
//! the forward names of the configuration file after `up` and `stop`, by
//! asking `ssm-forward list --names` (with the `--config` given on the
//! line being completed); the others complete commands and flags only.

use clap::{Args as ClapArgs, CommandFactory as _};
use clap_complete::Shell;

use crate::cli::Cli;

/// The program name the scripts complete.
const PROGRAM: &str = "ssm-forward";

/// Arguments of `ssm-forward completions`.
#[derive(Debug, Clone, ClapArgs)]
pub struct Args {
    /// The shell to write a completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Writes the script to stdout.
pub fn run(args: &Args) -> anyhow::Result<()> {
    print!("{}", script(args.shell));
    Ok(())
}

/// The whole completion script for `shell`.
pub fn script(shell: Shell) -> String {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, PROGRAM, &mut out);
    let mut text = String::from_utf8_lossy(&out).into_owned();
    if shell == Shell::Bash {
        // clap_complete 4.6 names a subcommand's state `ssm__forward__subcmd__up`
        // where it sets it but `ssm__subcmd__forward__subcmd__up` where it
        // matches it (the `-` in the program name), so no subcommand's
        // flags would complete.
        text = text.replace("ssm__subcmd__forward__subcmd__", "ssm__forward__subcmd__");
    }
    text.push_str(match shell {
        Shell::Bash => BASH_FORWARD_NAMES,
        Shell::Fish => FISH_FORWARD_NAMES,
        _ => "",
    });
    text
}

/// Wraps the generated `_ssm__forward`: after `up` or `stop`, a word that
/// is not a flag completes to the configuration file's forward names.
const BASH_FORWARD_NAMES: &str = r#"
# Forward names from the configuration file after `up` and `stop`.
_ssm_forward_with_names() {
    local cur="${COMP_WORDS[COMP_CWORD]}" word subcommand="" i
    local -a config=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${COMP_WORDS[i]}"
        case "$word" in
            --config) config=(--config "${COMP_WORDS[i + 1]}") ;;
            --config=*) config=("$word") ;;
            up | stop) [[ -z "$subcommand" ]] && subcommand="$word" ;;
        esac
    done
    if [[ -n "$subcommand" && "$cur" != -* && "${COMP_WORDS[COMP_CWORD - 1]}" != --config ]]; then
        local names
        names="$("${COMP_WORDS[0]}" list --names "${config[@]}" 2>/dev/null)"
        COMPREPLY=($(compgen -W "$names" -- "$cur"))
        return 0
    fi
    _ssm__forward "$@"
}
complete -F _ssm_forward_with_names -o bashdefault -o default ssm-forward
"#;

/// Forward names after `up` and `stop`, for fish.
const FISH_FORWARD_NAMES: &str = r#"
# Forward names from the configuration file after `up` and `stop`.
complete -c ssm-forward -n "__fish_seen_subcommand_from up stop" -f -a "(ssm-forward list --names 2>/dev/null)"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_naming_the_program() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::PowerShell,
            Shell::Elvish,
        ] {
            let script = script(shell);
            assert!(script.contains(PROGRAM), "{shell}: {script}");
            assert!(script.contains("login"), "{shell} completes subcommands");
        }
        assert!(script(Shell::Bash).contains("_ssm_forward_with_names"));
        assert!(script(Shell::Fish).contains("list --names"));
    }
}
