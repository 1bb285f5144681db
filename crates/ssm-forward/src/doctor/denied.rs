//! Missing IAM permissions, named from the AccessDenied message (the
//! action and the resource it was denied on), else from the call that
//! was refused.

use ssm_client::ApiErrorKind;

/// What to grant after `kind` refused a call of `action` (the action
/// the message names wins over `action`).
pub fn fix(kind: &ApiErrorKind, action: &str) -> String {
    let (named, resource) = match kind {
        ApiErrorKind::AccessDenied { action, resource } => (action.as_deref(), resource.as_deref()),
        _ => (None, None),
    };
    let action = named.unwrap_or(action);
    match resource {
        Some(resource) => format!("ask for IAM permission {action} on {resource}"),
        None => format!("ask for IAM permission {action}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_action_and_resource() {
        let kind = ApiErrorKind::access_denied(
            "User: arn:aws:iam::1:user/dev is not authorized to perform: ssm:StartSession on \
             resource: arn:aws:ec2:us-east-1:1:instance/i-1 because no identity-based policy allows it",
        );
        assert_eq!(
            fix(&kind, "ssm:Other"),
            "ask for IAM permission ssm:StartSession on arn:aws:ec2:us-east-1:1:instance/i-1"
        );
        let vague = ApiErrorKind::access_denied("not authorized");
        assert_eq!(
            fix(&vague, "ssm:DescribeInstanceInformation"),
            "ask for IAM permission ssm:DescribeInstanceInformation"
        );
    }
}
