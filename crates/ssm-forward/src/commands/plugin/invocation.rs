//! The command line the AWS CLI gives `session-manager-plugin`
//! (protocol.md §2.1): response, region, operation, profile, request
//! parameters, endpoint.

use serde::Deserialize;
use ssm_client::StartedSession;
use thiserror::Error;

/// Prefix of the environment variable the AWS CLI may pass the
/// StartSession response in (it then passes the variable's name).
pub const RESPONSE_ENV_PREFIX: &str = "AWS_SSM_START_SESSION_RESPONSE";
/// The only operation the plugin runs.
pub const START_SESSION: &str = "StartSession";

/// What the plugin was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// No arguments: say that the plugin is installed.
    Installed,
    /// `--version`.
    Version,
    /// Run a session the AWS CLI started.
    Start(Invocation),
}

/// A session to run, as the AWS CLI describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The StartSession response (the token is redacted in `Debug`).
    pub started: StartedSession,
    /// Region for ResumeSession and TerminateSession (empty: default chain).
    pub region: Option<String>,
    /// Named profile (the CLI passes an empty string for none).
    pub profile: Option<String>,
    /// `Target` from the StartSession request, if given.
    pub target: Option<String>,
    /// SSM endpoint URL (empty: the region's default).
    pub endpoint_url: Option<String>,
}

/// Why the command line cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InvocationError {
    /// One or two arguments that are not `--version`.
    #[error(
        "\nUnknown operation {0}. \nUse session-manager-plugin --version to check the version.\n"
    )]
    UnknownOperation(String),
    /// An operation other than StartSession.
    #[error("Invalid Operation {0:?}: only StartSession is supported")]
    InvalidOperation(String),
    /// The response was to come from an environment variable that is unset.
    #[error("the environment variable {0} holding the StartSession response is not set")]
    MissingResponseVariable(String),
    /// The StartSession response is not usable.
    #[error("the StartSession response is not JSON with SessionId, TokenValue and StreamUrl: {0}")]
    BadResponse(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResponseJson {
    session_id: String,
    token_value: String,
    stream_url: String,
}

/// Reads the plugin's arguments (without the program name); `env`
/// looks up environment variables.
pub fn parse(
    args: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<Command, InvocationError> {
    match args {
        [] => return Ok(Command::Installed),
        [flag] if flag == "--version" => return Ok(Command::Version),
        [first] | [first, _] => return Err(InvocationError::UnknownOperation(first.clone())),
        _ => {}
    }
    let operation = &args[2];
    if operation != START_SESSION {
        return Err(InvocationError::InvalidOperation(operation.clone()));
    }
    let text = if args[0].starts_with(RESPONSE_ENV_PREFIX) {
        env(&args[0]).ok_or_else(|| InvocationError::MissingResponseVariable(args[0].clone()))?
    } else {
        args[0].clone()
    };
    let response: ResponseJson = serde_json::from_str(&text)
        .map_err(|error| InvocationError::BadResponse(error.to_string()))?;
    let non_empty = |index: usize| args.get(index).filter(|s| !s.is_empty()).cloned();
    Ok(Command::Start(Invocation {
        started: StartedSession {
            session_id: response.session_id,
            token_value: response.token_value,
            stream_url: response.stream_url,
        },
        region: non_empty(1),
        profile: non_empty(3),
        target: args.get(4).and_then(|json| request_target(json)),
        endpoint_url: non_empty(5),
    }))
}

/// `Target` from the StartSession request parameters JSON.
fn request_target(json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    value.get("Target")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE: &str = r#"{"SessionId":"s-1","TokenValue":"SECRET-TOKEN-1","StreamUrl":"wss://x/v1/data-channel/s-1?role=publish_subscribe&cell-number=a+b/c=","ResponseMetadata":{}}"#;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn reads_the_aws_cli_arguments() {
        let params =
            r#"{"Target":"i-1","DocumentName":"AWS-StartPortForwardingSession","Parameters":{}}"#;
        let command = parse(
            &args(&[
                "AWS_SSM_START_SESSION_RESPONSE",
                "eu-west-1",
                "StartSession",
                "",
                params,
                "https://ssm.eu-west-1.amazonaws.com",
            ]),
            |name| (name == "AWS_SSM_START_SESSION_RESPONSE").then(|| RESPONSE.to_owned()),
        )
        .unwrap();
        let Command::Start(invocation) = command else {
            panic!("{command:?}")
        };
        assert_eq!(invocation.started.session_id, "s-1");
        assert!(
            invocation
                .started
                .stream_url
                .ends_with("cell-number=a+b/c=")
        );
        assert_eq!(invocation.region.as_deref(), Some("eu-west-1"));
        assert_eq!(invocation.profile, None);
        assert_eq!(invocation.target.as_deref(), Some("i-1"));
        assert_eq!(
            invocation.endpoint_url.as_deref(),
            Some("https://ssm.eu-west-1.amazonaws.com")
        );
        assert!(!format!("{invocation:?}").contains("SECRET-TOKEN-1"));
    }

    #[test]
    fn legacy_three_arguments_with_inline_json() {
        let command = parse(&args(&[RESPONSE, "us-east-1", "StartSession"]), |_| None).unwrap();
        let Command::Start(invocation) = command else {
            panic!("{command:?}")
        };
        assert_eq!(invocation.started.token_value, "SECRET-TOKEN-1");
        assert_eq!(invocation.endpoint_url, None);
    }

    #[test]
    fn other_shapes() {
        assert_eq!(parse(&[], |_| None), Ok(Command::Installed));
        assert_eq!(parse(&args(&["--version"]), |_| None), Ok(Command::Version));
        assert!(matches!(
            parse(&args(&["x"]), |_| None),
            Err(InvocationError::UnknownOperation(_))
        ));
        assert!(matches!(
            parse(&args(&[RESPONSE, "r", "TerminateSession"]), |_| None),
            Err(InvocationError::InvalidOperation(_))
        ));
        assert!(matches!(
            parse(
                &args(&["AWS_SSM_START_SESSION_RESPONSE_X", "r", "StartSession"]),
                |_| None
            ),
            Err(InvocationError::MissingResponseVariable(_))
        ));
        assert!(matches!(
            parse(&args(&["{}", "r", "StartSession"]), |_| None),
            Err(InvocationError::BadResponse(_))
        ));
    }
}
