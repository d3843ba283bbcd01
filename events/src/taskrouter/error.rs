//! Why a TaskRouter command was refused: [`TaskRouterError`], one variant per Twilio error
//! kind, so the HTTP layer maps each refusal onto one status and code without reading its
//! text. Refusals record nothing: a decider returns one of these before any event exists.

/// Why a command was refused. Each maps onto one Twilio error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskRouterError {
    /// The resource does not exist (or belongs to another workspace).
    #[error("The requested resource {0} was not found")]
    NotFound(String),
    /// A parameter is invalid: which, and why.
    #[error("Invalid parameter {param}: {message}")]
    Invalid {
        /// The parameter, as Twilio names it.
        param: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The change conflicts with the resource's state.
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` named another version.
    #[error("The resource has changed (version {actual}, If-Match {expected})")]
    Precondition {
        /// The version the caller named.
        expected: u64,
        /// The version it is at.
        actual: u64,
    },
}

/// [`TaskRouterError::Invalid`] for `param`.
pub(crate) fn invalid(param: &'static str, message: impl Into<String>) -> TaskRouterError {
    TaskRouterError::Invalid {
        param,
        message: message.into(),
    }
}
