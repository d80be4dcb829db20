//! The one error type of the configuration room.

/// Why the environment cannot be used. `Display` is one line that names the variable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("{0}: required but not set")]
    Missing(&'static str),
    /// A variable's value cannot be used.
    #[error("{var}: {reason}")]
    Invalid { var: &'static str, reason: String },
    /// Variables ElectrumX no longer reads are set (non-empty); it refuses to start then,
    /// and so does FerrumX.
    #[error("{}", obsolete_message(.0))]
    Obsolete(Vec<&'static str>),
    /// Running as root without ALLOW_ROOT.
    #[error(
        "ALLOW_ROOT: RUNNING AS ROOT IS STRONGLY DISCOURAGED! You should create an \
         unprivileged user account and use that. To continue as root anyway, restart with \
         environment variable ALLOW_ROOT non-empty"
    )]
    RunningAsRoot,
}

impl ConfigError {
    /// The variable at fault (the first one, for [`ConfigError::Obsolete`]).
    pub fn variable(&self) -> Option<&'static str> {
        match self {
            ConfigError::Missing(var) | ConfigError::Invalid { var, .. } => Some(var),
            ConfigError::Obsolete(vars) => vars.first().copied(),
            ConfigError::RunningAsRoot => Some("ALLOW_ROOT"),
        }
    }
}

/// Builds [`ConfigError::Invalid`].
pub(crate) fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        reason: reason.into(),
    }
}

/// Every variable ElectrumX declares obsolete, and what replaced it.
pub(crate) const OBSOLETE: &[(&str, &str)] = &[
    (
        "MAX_SUBSCRIPTIONS",
        "subscriptions are costed: see COST_SOFT_LIMIT",
    ),
    ("MAX_SUBS", "subscriptions are costed: see COST_SOFT_LIMIT"),
    (
        "MAX_SESSION_SUBS",
        "subscriptions are costed: see COST_SOFT_LIMIT",
    ),
    ("BANDWIDTH_LIMIT", "use BANDWIDTH_UNIT_COST"),
    ("HOST", "use SERVICES"),
    ("TCP_PORT", "use SERVICES"),
    ("SSL_PORT", "use SERVICES"),
    ("RPC_HOST", "use SERVICES"),
    ("RPC_PORT", "use SERVICES"),
    ("REPORT_HOST", "use REPORT_SERVICES"),
    ("REPORT_TCP_PORT", "use REPORT_SERVICES"),
    ("REPORT_SSL_PORT", "use REPORT_SERVICES"),
    ("REPORT_HOST_TOR", "use REPORT_SERVICES"),
    ("REPORT_TCP_PORT_TOR", "use REPORT_SERVICES"),
    ("REPORT_SSL_PORT_TOR", "use REPORT_SERVICES"),
];

fn obsolete_message(vars: &[&'static str]) -> String {
    let mut message = format!(
        "{}: obsolete environment variable{}, remove {} (",
        vars.join(", "),
        if vars.len() == 1 { "" } else { "s" },
        if vars.len() == 1 { "it" } else { "them" },
    );
    let mut hints: Vec<&str> = Vec::new();
    for var in vars {
        if let Some((_, hint)) = OBSOLETE.iter().find(|(name, _)| name == var) {
            if !hints.contains(hint) {
                hints.push(hint);
            }
        }
    }
    message.push_str(&hints.join("; "));
    message.push(')');
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_and_name_the_variable() {
        let errors = [
            ConfigError::Missing("COIN"),
            invalid("DAEMON_URL", "port \"x\" is not a number"),
            ConfigError::Obsolete(vec!["HOST", "TCP_PORT", "REPORT_HOST"]),
            ConfigError::RunningAsRoot,
        ];
        for e in errors {
            let text = e.to_string();
            assert!(!text.contains('\n'), "{text}");
            let var = e.variable().unwrap_or_default();
            assert!(text.starts_with(var), "{text}");
        }
        assert_eq!(
            ConfigError::Obsolete(vec!["HOST", "TCP_PORT", "REPORT_HOST"]).to_string(),
            "HOST, TCP_PORT, REPORT_HOST: obsolete environment variables, remove them \
             (use SERVICES; use REPORT_SERVICES)"
        );
        assert_eq!(
            invalid("DAEMON_URL", "port \"x\" is not a number").to_string(),
            "DAEMON_URL: port \"x\" is not a number"
        );
    }
}
