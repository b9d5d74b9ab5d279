//! actix-web integration, behind the `actix-web` feature: an [`ORPCError`] is a `ResponseError`,
//! any actix-web error can become an [`ORPCError`], and [`LastEventId`] is an extractor.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::{LastEventId, ORPCError};

/// An `ORPCError` is an actix-web error: a plain handler can return it with `?`, and the response
/// has the error's status (500 when it is not an error status) and oRPC's error object as its JSON
/// body, as an oRPC server sends it over the OpenAPI protocol.
///
/// ```
/// use actix_web::{body::to_bytes, test, web, App};
/// use orpc_protocol::ORPCError;
///
/// async fn find() -> Result<String, ORPCError> {
///     Err(ORPCError::not_found("no such room"))
/// }
///
/// # #[actix_web::main]
/// # async fn main() {
/// let app = test::init_service(App::new().route("/rooms/1", web::get().to(find))).await;
/// let response = test::call_service(&app, test::TestRequest::get().uri("/rooms/1").to_request()).await;
/// assert_eq!(response.status(), 404);
/// let body = to_bytes(response.into_body()).await.unwrap();
/// assert_eq!(&body[..], br#"{"defined":false,"code":"NOT_FOUND","status":404,"message":"no such room"}"#);
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "actix-web")))]
impl ResponseError for ORPCError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status)
            .ok()
            .filter(|status| status.is_client_error() || status.is_server_error())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        // Serialized straight from the struct, to keep oRPC's field order.
        let json = serde_json::to_vec(self).expect("the error object always serializes");
        HttpResponse::build(self.status_code())
            .content_type("application/json")
            .body(json)
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "actix-web")))]
impl ORPCError {
    /// Any actix-web error as an oRPC error, as an extractor's failure is answered: an
    /// `ORPCError` inside comes back as it was; any other keeps its HTTP status, with the common
    /// code for it (`401` is `UNAUTHORIZED`, `403` is `FORBIDDEN`). A client error (4xx) keeps
    /// its own message; a server error gets oRPC's default one, since its text is for the
    /// server's log.
    ///
    /// A method rather than `From`, so that a compile error about a handler's error type that
    /// does not convert into `ORPCError` does not point at actix-web's.
    ///
    /// ```
    /// use actix_web::error::{ErrorForbidden, ErrorInternalServerError};
    /// use orpc_protocol::ORPCError;
    ///
    /// let error = ORPCError::from_actix(&ErrorForbidden("not your room"));
    /// assert_eq!((error.code.as_str(), error.status, error.message.as_str()), ("FORBIDDEN", 403, "not your room"));
    ///
    /// let error = ORPCError::from_actix(&ErrorInternalServerError("pool timed out at 10.0.0.7"));
    /// assert_eq!((error.code.as_str(), error.message.as_str()), ("INTERNAL_SERVER_ERROR", "Internal Server Error"));
    ///
    /// let error = ORPCError::from_actix(&ORPCError::not_found("no such room").into());
    /// assert_eq!((error.code.as_str(), error.message.as_str()), ("NOT_FOUND", "no such room"));
    /// ```
    pub fn from_actix(error: &actix_web::Error) -> Self {
        if let Some(error) = error.as_error::<ORPCError>() {
            return error.clone();
        }
        let status = error.as_response_error().status_code();
        let converted = ORPCError::from_status(status.as_u16());
        let message = error.to_string();
        if status.is_client_error() && !message.is_empty() {
            converted.with_message(message)
        } else {
            converted
        }
    }
}

/// The `Last-Event-ID` header as an extractor: a handler declares `Option<LastEventId>` to
/// receive it, `None` when the header is absent or not a valid id (see [`LastEventId::new`]).
/// Declared without the `Option`, an absent or invalid header is a 400 `BAD_REQUEST`.
///
/// A call over oRPC's WebSocket transport sends its headers in its own message: the server
/// puts them in the request's extensions as [`peer::Headers`](crate::peer::Headers), and the
/// id is read from there instead of from the upgrade request.
///
/// ```
/// use actix_web::{test::TestRequest, FromRequest};
/// use orpc_protocol::LastEventId;
///
/// # #[actix_web::main]
/// # async fn main() {
/// let request = TestRequest::default().insert_header(("last-event-id", "41")).to_http_request();
/// let id = Option::<LastEventId>::extract(&request).await.unwrap();
/// assert_eq!(id.and_then(|id| id.parse::<u32>()), Some(41));
///
/// let request = TestRequest::default().to_http_request();
/// assert_eq!(Option::<LastEventId>::extract(&request).await.unwrap(), None);
///
/// // A call over the WebSocket transport: its own headers, not the upgrade request's.
/// use actix_web::HttpMessage;
/// let call = orpc_protocol::peer::decode_client(br#"{"i":"1","p":{"u":"/count","h":{"last-event-id":"7"}}}"#, false);
/// let Ok(orpc_protocol::peer::ClientMessage::Request(call)) = call else { unreachable!() };
/// let request = TestRequest::default().insert_header(("last-event-id", "41")).to_http_request();
/// request.extensions_mut().insert(call.headers);
/// let id = Option::<LastEventId>::extract(&request).await.unwrap();
/// assert_eq!(id.and_then(|id| id.parse::<u32>()), Some(7));
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "actix-web")))]
impl FromRequest for LastEventId {
    type Error = ORPCError;
    type Future = Ready<Result<Self, ORPCError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // A call that travels inside a peer message (oRPC's WebSocket transport) carries its own
        // headers; the upgrade request's are the socket's, not the call's.
        let id = match req.extensions().get::<crate::peer::Headers>() {
            Some(call) => call.get("last-event-id").and_then(LastEventId::new),
            None => req
                .headers()
                .get("last-event-id")
                .and_then(|value| value.to_str().ok())
                .and_then(LastEventId::new),
        };
        ready(id.ok_or_else(|| {
            ORPCError::bad_request("The Last-Event-ID header is missing or not a valid event id")
        }))
    }
}
