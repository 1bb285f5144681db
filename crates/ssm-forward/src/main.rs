//! The `ssm-forward` command: parses the command line, sets up logging
//! and runs [`ssm_forward::commands`]; started under the name
//! `session-manager-plugin` (or as `ssm-forward plugin ARGS…`) it is the
//! drop-in plugin instead. Exit statuses: [`ssm_forward::errors::exit`].

// The AWS SDK futures nested in `commands::run` (DescribeCluster before
// the forwards, in `up` and `eks connect`) are deeper than the default
// limit of 128 when rustc computes their layout.
#![recursion_limit = "256"]

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use ssm_forward::cli::{Cli, Command};
use ssm_forward::errors::{self, ExitStatus};
use ssm_forward::output::{self, LogSettings};

/// The plugin's program name, as the AWS CLI runs it.
const PLUGIN_NAME: &str = "session-manager-plugin";

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    if invoked_as_plugin(argv.first().map(String::as_str).unwrap_or_default()) {
        return plugin(argv.into_iter().skip(1).collect());
    }
    let cli = Cli::parse_args(argv);
    let settings = LogSettings {
        verbose: cli.log.verbose,
        quiet: cli.log.quiet,
        json: cli.log.json,
    };
    if let Some(Command::Plugin(args)) = cli.command {
        return plugin(args.args);
    }
    output::init(settings);
    let result = runtime().and_then(|runtime| {
        let result = runtime.block_on(ssm_forward::commands::run(cli));
        runtime.shutdown_timeout(Duration::from_millis(500));
        result
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            output::fatal(&format!("{error:#}"), settings.json);
            ExitCode::from(errors::status_of(&error).code())
        }
    }
}

/// True when the file name we were started under is the plugin's.
fn invoked_as_plugin(program: &str) -> bool {
    let name = Path::new(program).file_stem().and_then(|n| n.to_str());
    name == Some(PLUGIN_NAME)
}

/// Runs the drop-in plugin with the AWS CLI's arguments.
fn plugin(args: Vec<String>) -> ExitCode {
    output::init(LogSettings {
        quiet: true,
        ..LogSettings::default()
    });
    let code = runtime()
        .and_then(|runtime| {
            let code = runtime.block_on(ssm_forward::commands::plugin::run(args));
            runtime.shutdown_timeout(Duration::from_millis(500));
            code
        })
        .unwrap_or_else(|error| {
            eprintln!("{error:#}");
            i32::from(ExitStatus::Runtime.code())
        });
    ExitCode::from(u8::try_from(code).unwrap_or_else(|_| ExitStatus::Runtime.code()))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
