//! Errors a procedure declares: sent with `defined: true`, listed in the OpenAPI document and in
//! the TypeScript contract, so that oRPC's `isDefinedError` narrows their data on the client.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;

use crate::ORPCError;

/// One error a procedure can raise, as declared.
#[derive(Debug, Clone, Copy)]
pub struct DeclaredError {
    /// Its code, `RATE_LIMITED`.
    pub code: &'static str,
    /// Its HTTP status, when declared; otherwise oRPC's for a common code, or 500.
    pub status: Option<u16>,
    /// Its message, when declared; otherwise oRPC's default for the code.
    pub message: Option<&'static str>,
    /// The schema of its `data`, when it carries data.
    pub data: Option<fn(&mut SchemaGenerator) -> Schema>,
}

impl DeclaredError {
    /// The status it is sent with.
    pub fn status(&self) -> u16 {
        self.status
            .or_else(|| orpc_protocol::status_for_code(self.code))
            .unwrap_or(500)
    }

    /// The message it is sent with.
    pub fn message(&self) -> &'static str {
        self.message
            .or_else(|| orpc_protocol::default_message(self.code))
            .unwrap_or(self.code)
    }
}

/// A type whose values are errors a procedure declares: `#[procedure(errors = MyErrors)]`.
/// Derive it on an enum whose variants are the errors:
///
/// ```
/// use orpc_runtime::{procedure, DefinedError};
/// use schemars::JsonSchema;
/// use serde::Serialize;
///
/// #[derive(Debug, Serialize, JsonSchema)]
/// struct RetryAfter { retry_after: u32 }
///
/// #[derive(Debug, DefinedError)]
/// enum LimitedError {
///     /// Code RATE_LIMITED (the variant's name), data `RetryAfter`.
///     #[error(status = 429, message = "slow down")]
///     RateLimited(RetryAfter),
///     /// A common code keeps oRPC's status and message: 403, "Forbidden".
///     Forbidden,
/// }
///
/// #[derive(Debug, Serialize, JsonSchema)]
/// struct Done { ok: bool }
///
/// #[procedure(errors = LimitedError)]
/// async fn limited() -> Result<Done, LimitedError> {
///     Err(LimitedError::RateLimited(RetryAfter { retry_after: 10 }))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let request = actix_web::test::TestRequest::default().to_http_request();
/// let error = limited.call((), &request).await.unwrap_err();
/// assert!(error.defined);
/// assert_eq!((error.code.as_str(), error.status, error.message.as_str()), ("RATE_LIMITED", 429, "slow down"));
/// assert_eq!(error.data, Some(serde_json::json!({ "retry_after": 10 })));
/// # }
/// ```
///
/// A variant is a unit (no data) or holds one value, its data, which is `Serialize` and
/// `JsonSchema`. `#[error(code = "..")]` overrides the code, which is otherwise the variant's
/// name in SCREAMING_SNAKE_CASE.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not declare errors",
    label = "not a type of declared errors",
    note = "derive them: `#[derive(DefinedError)]` on an enum whose variants are the errors, each \
            a unit or holding its data"
)]
pub trait DefinedError: Into<ORPCError> {
    /// Every error the type can be.
    const ERRORS: &'static [DeclaredError];
}

/// The error object of a declared error, `defined: true`.
#[doc(hidden)]
pub fn defined<T: Serialize>(
    code: &'static str,
    status: Option<u16>,
    message: Option<&'static str>,
    data: Option<&T>,
) -> ORPCError {
    let declared = DeclaredError {
        code,
        status,
        message,
        data: None,
    };
    let error = ORPCError::new(code)
        .with_status(declared.status())
        .with_message(declared.message())
        .with_defined(true);
    match data.map(serde_json::to_value) {
        None => error,
        Some(Ok(data)) => error.with_data(data),
        Some(Err(e)) => {
            tracing::error!(error = %e, code, "a declared error's data does not serialize");
            ORPCError::internal()
        }
    }
}

/// The schema of a declared error's data.
#[doc(hidden)]
pub fn data_schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}
