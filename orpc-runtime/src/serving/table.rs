//! The procedure table: every procedure of a router by name, with the checks that keep each one
//! reachable as registered.

use std::collections::HashMap;
use std::sync::Arc;

use super::route_error::{route_shape, RouteError, METHODS};
use crate::procedure::Route;

/// Procedures by name. Cheap to clone: the routes are shared.
#[derive(Clone, Default)]
pub(crate) struct Procedures {
    routes: HashMap<&'static str, Arc<Route>>,
}

impl Procedures {
    /// Adds `route`, unless it could not be reached as registered: an unknown method, a name
    /// taken, or an OpenAPI method and path taken.
    pub(crate) fn add(&mut self, route: Route) -> Result<(), RouteError> {
        let method = route.method.unwrap_or("POST");
        if !METHODS.contains(&method) {
            return Err(RouteError::UnknownMethod {
                name: route.name,
                method,
            });
        }
        if self.routes.contains_key(route.name) {
            return Err(RouteError::DuplicateName { name: route.name });
        }
        let path = route.openapi_path();
        let shape = route_shape(&path);
        let taken = self.routes.values().find(|other| {
            other.method.unwrap_or("POST") == method && route_shape(&other.openapi_path()) == shape
        });
        if let Some(first) = taken {
            return Err(RouteError::DuplicateOpenApiRoute {
                method,
                path,
                first: first.name,
                second: route.name,
            });
        }
        self.routes.insert(route.name, Arc::new(route));
        Ok(())
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arc<Route>> {
        self.routes.get(name)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<Route>> {
        self.routes.values()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}
