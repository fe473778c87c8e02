//! The two ways a transformer fails: when it is built from a rule (the rule is wrong for the
//! column) and when it meets a value (the data is not what the rule expected).

/// A rule's transformer could not be built. Each variant names the transformer and the
/// parameter, and says what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    /// No transformer has this name.
    #[error("unknown transformer `{name}`{hint}; `doppel rules list-transformers` lists them")]
    UnknownTransformer {
        /// The name the rule gave.
        name: String,
        /// ", did you mean `x`?" when a known name is close, else empty.
        hint: String,
    },
    /// The transformer has no such parameter.
    #[error("transformer `{transformer}` has no parameter `{param}`; its parameters are: {known}")]
    UnknownParam {
        /// The transformer's name.
        transformer: String,
        /// The parameter the rule gave.
        param: String,
        /// The parameters it does have.
        known: String,
    },
    /// A required parameter is missing.
    #[error("transformer `{transformer}` needs parameter `{param}`: {doc}")]
    MissingParam {
        /// The transformer's name.
        transformer: String,
        /// The missing parameter.
        param: String,
        /// What the parameter is for.
        doc: String,
    },
    /// A parameter has the wrong TOML type.
    #[error("parameter `{param}` of transformer `{transformer}` must be {expected}, not {found}")]
    WrongType {
        /// The transformer's name.
        transformer: String,
        /// The parameter.
        param: String,
        /// What it must be.
        expected: String,
        /// What the rule gave.
        found: String,
    },
    /// A parameter has the right type but an unusable value.
    #[error("parameter `{param}` of transformer `{transformer}`: {reason}")]
    BadValue {
        /// The transformer's name.
        transformer: String,
        /// The parameter.
        param: String,
        /// What is wrong and what would work.
        reason: String,
    },
    /// The transformer's output cannot be valid for the column's type.
    #[error("transformer `{transformer}` cannot write a {column} column: {reason}")]
    DoesNotFit {
        /// The transformer's name.
        transformer: String,
        /// The column's type, as SQL writes it.
        column: String,
        /// Why, and what to do instead.
        reason: String,
    },
    /// A transformer nested in another one (a JSON path, an array element) could not be built.
    #[error("{at}: {source}")]
    Nested {
        /// Where: `json path $.email`, `array element`.
        at: String,
        /// What went wrong there.
        source: Box<BuildError>,
    },
}

/// A value the transformer could not handle. `reason` says what was wrong with the value
/// without quoting it, since the value may be personal data: "not an email address (no '@')".
/// The caller adds the table, column and row position; the rule's `on_error` decides whether
/// it stops the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{transformer}: {reason}")]
pub struct TransformError {
    /// The transformer that refused the value.
    pub transformer: &'static str,
    /// What was wrong with the value, never the value itself.
    pub reason: String,
}

impl TransformError {
    /// A value `transformer` could not handle, for `reason`.
    pub fn new(transformer: &'static str, reason: impl Into<String>) -> TransformError {
        TransformError {
            transformer,
            reason: reason.into(),
        }
    }
}
