//! oRPC's OpenAPI protocol over HTTP, as `OpenAPILink` and browsers' `EventSource` speak it: one
//! route per procedure, `POST /{name}` unless the procedure sets `method` and `path`; plain JSON
//! in and out, `GET` routes reading their input from the query string and path parameters
//! filling the input's fields. Beside them, `GET {scope}/openapi.json` (the document) and, when
//! turned on, `GET {scope}/docs` (the reference page), unless a procedure takes those paths.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};

use super::answer::answer;
use super::input::read_input;
use super::reply::error_response;
use super::served::Served;
use crate::docs::{document, REFERENCE_PAGE};
use crate::procedure::Route;
use crate::sse::Envelope;
use crate::{ORPCError, RawInput};

/// The protocol's routes and documents, on an app or a scope.
pub(crate) fn mount(served: Arc<Served>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let taken = |path: &str| {
            served
                .core
                .procedures
                .iter()
                .any(|r| r.openapi_path() == path)
        };
        if !taken("/openapi.json") {
            let documented = served.clone();
            cfg.route(
                "/openapi.json",
                web::get().to(move |req: HttpRequest| {
                    let scope = req.path().strip_suffix("/openapi.json").unwrap_or("");
                    let routes = documented.core.procedures.iter().map(|r| &**r);
                    let document = document(routes, &documented.info, scope);
                    async move { HttpResponse::Ok().json(document) }
                }),
            );
        }
        if served.reference && !taken("/docs") {
            cfg.route(
                "/docs",
                web::get().to(|| async {
                    HttpResponse::Ok()
                        .content_type("text/html; charset=utf-8")
                        .body(REFERENCE_PAGE)
                }),
            );
        }
        let mut by_path: HashMap<String, Vec<Arc<Route>>> = HashMap::new();
        for route in served.core.procedures.iter() {
            by_path
                .entry(route.openapi_path())
                .or_default()
                .push(route.clone());
        }
        for (path, routes) in by_path {
            let mut resource = web::resource(path);
            for route in routes {
                // Every method was checked when the route was registered.
                let Ok(method) = Method::from_bytes(route.method.unwrap_or("POST").as_bytes())
                else {
                    continue;
                };
                let served = served.clone();
                resource = resource.route(web::method(method).to(
                    move |req: HttpRequest, payload: web::Payload| {
                        let (served, route) = (served.clone(), route.clone());
                        async move { serve(&served, &route, req, payload).await }
                    },
                ));
            }
            let resource = resource.default_service(web::to(|| async {
                error_response(&ORPCError::new("METHOD_NOT_SUPPORTED"), Envelope::Plain)
            }));
            cfg.service(resource);
        }
    }
}

/// oRPC's JSON `NOT_FOUND`, for paths under the protocol's prefix that no route matches.
pub(crate) async fn not_found(req: HttpRequest) -> HttpResponse {
    let message = format!("No procedure at {}", req.path());
    error_response(&ORPCError::not_found(message), Envelope::Plain)
}

async fn serve(
    served: &Served,
    route: &Route,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let input = if req.method() == Method::GET {
        Ok(RawInput::Query(req.query_string().to_owned()))
    } else {
        read_input(&req, payload, served, Envelope::Plain).await
    };
    match input {
        Ok(input) => {
            let info = req.match_info();
            let params = (route.params.iter())
                .filter_map(|&name| info.get(name).map(|value| (name, value.to_owned())))
                .collect();
            answer(served, route, input, params, &req, Envelope::Plain).await
        }
        Err(error) => error_response(&error, Envelope::Plain),
    }
}
