//! Why a router refuses a procedure: the mistakes that would otherwise make a route silently
//! unreachable.
//!
//! They are programming errors, found once when the router is built, before the server serves
//! anything: [`Router::procedure`](crate::http::Router::procedure) panics with this error's message,
//! as axum's `Router::route` does on overlapping routes, and
//! [`Router::try_procedure`](crate::http::Router::try_procedure) returns it instead, for routers built
//! from configuration or plugins.

use std::fmt;

/// The HTTP methods an OpenAPI route may use; `#[procedure(method = ..)]` accepts the same ones.
pub(crate) const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// A procedure a [`Router`](crate::http::Router) refuses to register.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteError {
    /// Another procedure is registered under this name: the RPC protocol could reach only one.
    DuplicateName {
        /// The name both procedures have.
        name: &'static str,
    },
    /// Another procedure has this OpenAPI method and path: the OpenAPI protocol could reach only
    /// one. Paths that differ only in the names of their parameters (`/rooms/{id}` and
    /// `/rooms/{room}`) are the same route.
    DuplicateOpenApiRoute {
        /// The method both procedures are served with.
        method: &'static str,
        /// The path of the procedure being registered.
        path: String,
        /// The procedure registered first.
        first: &'static str,
        /// The procedure refused.
        second: &'static str,
    },
    /// The procedure's OpenAPI method is not one the router serves (see
    /// [`Route::with_method`](crate::Route::with_method)).
    UnknownMethod {
        /// The procedure.
        name: &'static str,
        /// Its method, as given.
        method: &'static str,
    },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::DuplicateName { name } => write!(
                f,
                "two procedures are named {name:?}; give one of them another `name = \"..\"`"
            ),
            RouteError::DuplicateOpenApiRoute {
                method,
                path,
                first,
                second,
            } => write!(
                f,
                "procedures {first:?} and {second:?} are both served at OpenAPI route \
                 `{method} {path}`; give one of them another `method` or `path`"
            ),
            RouteError::UnknownMethod { name, method } => write!(
                f,
                "procedure {name:?} has unknown method {method:?}; use one of {}",
                METHODS.join(", ")
            ),
        }
    }
}

impl std::error::Error for RouteError {}

/// A path as the router matches it: a `{param}` matches the same whatever its name, so the name
/// is left out; a custom pattern (`{id:\d+}`) is kept.
pub(crate) fn route_shape(path: &str) -> String {
    crate::path::rewrite(path, |out, param| {
        out.push('{');
        if let Some(pattern) = param.pattern {
            out.push(':');
            out.push_str(pattern);
        }
        out.push('}');
    })
}

#[cfg(test)]
mod tests {
    use super::route_shape;

    #[test]
    fn parameters_match_whatever_their_name() {
        assert_eq!(route_shape("/rooms/{room}/ticks"), "/rooms/{}/ticks");
        assert_eq!(
            route_shape("/rooms/{id}/ticks"),
            route_shape("/rooms/{room}/ticks")
        );
        assert_eq!(route_shape("/files/{tail:.*}"), "/files/{:.*}");
        assert_eq!(route_shape("/n/{id:\\d{2}}/x"), "/n/{:\\d{2}}/x");
        assert_ne!(route_shape("/n/{id:\\d+}"), route_shape("/n/{id:[a-z]+}"));
        assert_eq!(route_shape("/odd/{x"), "/odd/{x");
        assert_ne!(route_shape("/rooms"), route_shape("/rooms/"));
    }
}
