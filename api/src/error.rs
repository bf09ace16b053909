//! [`ApiError`]: every failure a request can meet, and the one place that
//! chooses its HTTP status and renders the JSON error body.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Response, StatusCode};
use serde_json::json;

use crate::request_id::RequestId;

/// The kind of change a request asked for, to say what may have happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A create.
    Create,
    /// An update.
    Update,
    /// A delete.
    Delete,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No route has this path.
    #[error("The resource could not be found.")]
    NotFound,
    /// The path exists but not with this method.
    #[error("The method {method} is not allowed for this resource.")]
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// The methods the path allows, for the `Allow` header.
        allow: &'static str,
    },
    /// The body is larger than `[api] max_request_body_size`.
    #[error("The request body is larger than the limit of {limit} bytes.")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The client stopped sending the body for `[api] client_socket_timeout`.
    #[error("The request body did not arrive: nothing was received for {}s.", after.as_secs())]
    BodyTimeout {
        /// How long the client sent nothing.
        after: std::time::Duration,
    },
    /// The body could not be read (the client went away or sent bad framing).
    #[error("The request body could not be read: {0}")]
    BadBody(String),
    /// The request is malformed: bad JSON, a wrong or read-only field, a bad id or parameter.
    #[error("{0}")]
    BadRequest(String),
    /// The engine refused the request, or failed it.
    #[error("{}", engine_message(.0))]
    Engine(engine::Error),
    /// The engine could not be asked, or did not answer a read: saying why
    /// tells an operator where to look.
    #[error("{reason}; try again later.")]
    Unavailable {
        /// Why, for the client.
        reason: String,
        /// The transport's error, for the access log.
        cause: String,
    },
    /// A change was sent but its answer never came: it may or may not have
    /// been made.
    #[error("{}", outcome_unknown_message(*.after, *.change, *.movie))]
    OutcomeUnknown {
        /// How long the API waited (zero: the connection went first).
        after: std::time::Duration,
        /// What the request asked for.
        change: Change,
        /// The movie concerned.
        movie: uuid::Uuid,
    },
    /// No engine consumes the topic: none has started, or all have stopped.
    #[error("No engine is consuming requests; try again later.")]
    NoEngine {
        /// The transport's error, for the access log.
        cause: String,
    },
    /// An `Idempotency-Key` already made a movie from another request.
    #[error(
        "The Idempotency-Key was already used for another request, which made movie {movie}; \
         use a new key for a new movie."
    )]
    KeyReused {
        /// The movie the key made.
        movie: uuid::Uuid,
    },
    /// The request's header fields are too many or too large.
    #[error("The request header fields are too large: {0}.")]
    HeadersTooLarge(String),
    /// The request target is longer than the server reads.
    #[error("The request URI is too long.")]
    UriTooLong,
    /// The request line or a header field could not be parsed.
    #[error("The request is malformed: {0}.")]
    Malformed(&'static str),
    /// No credentials, or credentials that do not let the caller in.
    #[error("{message}")]
    Unauthorized {
        /// What is wrong, for the client; never the credentials.
        message: &'static str,
        /// The `WWW-Authenticate` challenge.
        challenge: HeaderValue,
    },
    /// The caller is known but the policy does not allow the request.
    #[error("{0}")]
    Forbidden(String),
    /// The caller's credentials could not be checked (Keystone unreachable).
    #[error("The identity service cannot check the credentials now; try again later.")]
    AuthUnavailable {
        /// Why, for the access log; never a token.
        cause: String,
    },
    /// Anything unexpected; the cause is logged, never sent.
    #[error("An unexpected error occurred.")]
    Internal(String),
}

impl From<engine::CallError> for ApiError {
    /// For a read, or a change the engine answered: every failure to get an
    /// answer is "unavailable". Changes use [`ApiError::from_change`].
    fn from(error: engine::CallError) -> ApiError {
        match error {
            engine::CallError::Engine(error) => ApiError::Engine(error),
            engine::CallError::Rpc(error @ rpc::Error::NoServer { .. }) => ApiError::NoEngine {
                cause: format!("engine unreachable: {error}"),
            },
            error if error.is_unsupported() => ApiError::Unavailable {
                reason: "The engine is older than this API (upgrade the engines first)".to_owned(),
                cause: format!("engine too old: {error}"),
            },
            engine::CallError::Rpc(error) if error.is_unavailable() => ApiError::Unavailable {
                reason: unavailable_reason(&error),
                cause: format!("engine unreachable: {error}"),
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    /// The failure of a call that changes something (create, update,
    /// delete) about `movie`: when the request reached the engine but no
    /// answer came back, the change may have been made, and the client must
    /// be told so rather than "try again" (a retried create would then meet
    /// its own movie).
    pub fn from_change(error: engine::CallError, change: Change, movie: uuid::Uuid) -> ApiError {
        match error {
            engine::CallError::Rpc(rpc::Error::Timeout { after, .. }) => ApiError::OutcomeUnknown {
                after,
                change,
                movie,
            },
            engine::CallError::Rpc(rpc::Error::ConnectionLost) => ApiError::OutcomeUnknown {
                after: std::time::Duration::ZERO,
                change,
                movie,
            },
            other => ApiError::from(other),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound | ApiError::Engine(engine::Error::MovieNotFound { .. }) => {
                StatusCode::NOT_FOUND
            }
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::BadBody(_)
            | ApiError::BadRequest(_)
            | ApiError::Malformed(_)
            | ApiError::Engine(engine::Error::Invalid(_)) => StatusCode::BAD_REQUEST,
            ApiError::Engine(engine::Error::MovieExists { .. }) => StatusCode::CONFLICT,
            ApiError::KeyReused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::UriTooLong => StatusCode::URI_TOO_LONG,
            ApiError::Engine(engine::Error::StoreUnavailable)
            | ApiError::Unavailable { .. }
            | ApiError::NoEngine { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::OutcomeUnknown { .. } => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::AuthUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Engine(engine::Error::Internal) | ApiError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// What an operator needs to know about a server-side failure beyond
    /// what the client is told: the access log line prints it.
    fn cause(&self) -> Option<Cause> {
        let cause = match self {
            ApiError::Internal(cause)
            | ApiError::Unavailable { cause, .. }
            | ApiError::NoEngine { cause }
            | ApiError::AuthUnavailable { cause } => cause.clone(),
            ApiError::Engine(engine::Error::Internal) => "the engine failed".to_owned(),
            ApiError::OutcomeUnknown { after, movie, .. } if after.is_zero() => format!(
                "the broker connection was lost while a change to movie {movie} waited for its answer"
            ),
            ApiError::OutcomeUnknown { after, movie, .. } => format!(
                "the engine did not answer a change to movie {movie} within {}s",
                after.as_secs()
            ),
            _ => return None,
        };
        Some(Cause(cause))
    }

    /// The response: `{"error":{"code","title","message","request_id"}}`.
    pub fn into_response(self, request_id: &RequestId) -> Response<Full<Bytes>> {
        let status = self.status();
        let cause = self.cause();
        let body = json!({
            "error": {
                "code": status.as_u16(),
                "title": status.canonical_reason().unwrap_or("Error"),
                "message": self.to_string(),
                "request_id": request_id.as_str(),
            }
        });
        let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        match self {
            ApiError::MethodNotAllowed { allow, .. } => {
                headers.insert(ALLOW, HeaderValue::from_static(allow));
            }
            ApiError::Unauthorized { challenge, .. } => {
                headers.insert(WWW_AUTHENTICATE, challenge);
            }
            _ => {}
        }
        if let Some(cause) = cause {
            response.extensions_mut().insert(cause);
        }
        response
    }
}

/// The cause of a failure, kept from the client, as a response extension:
/// the access log prints it on the request's line, so it is logged once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cause(pub String);

/// The client's message for an engine error: the database's failure reads
/// as the other "try again" answers do.
fn engine_message(error: &engine::Error) -> String {
    match error {
        engine::Error::StoreUnavailable => {
            "The movie database is unavailable; try again later.".to_owned()
        }
        other => other.to_string(),
    }
}

/// Why the engine could not be asked or did not answer, for the client.
fn unavailable_reason(error: &rpc::Error) -> String {
    match error {
        rpc::Error::Timeout { after, .. } => {
            format!("The engine did not answer within {} s", after.as_secs())
        }
        rpc::Error::ConnectionLost => {
            "The connection to the message broker was lost while waiting for the engine".into()
        }
        rpc::Error::Unavailable => "The message broker is unreachable".into(),
        _ => "The message broker did not take the request".into(),
    }
}

fn outcome_unknown_message(
    after: std::time::Duration,
    change: Change,
    movie: uuid::Uuid,
) -> String {
    let waited = if after.is_zero() {
        "The connection to the engine was lost before it answered".to_string()
    } else {
        format!("The engine did not answer within {} s", after.as_secs())
    };
    let (done, retry) = match change {
        Change::Create => (
            "created",
            ", and a retry with the same Idempotency-Key cannot make a second movie",
        ),
        Change::Update => ("changed", ""),
        Change::Delete => ("deleted", ""),
    };
    format!(
        "{waited}: the outcome is unknown. Movie {movie} may have been {done}: \
         GET /v1/movies/{movie} tells{retry}."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn the_body_has_the_contract_shape() {
        let id = RequestId::generate();
        let response = ApiError::NotFound.into_response(&id);
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(value["error"]["code"], 404);
        assert_eq!(value["error"]["title"], "Not Found");
        assert_eq!(value["error"]["request_id"], id.as_str());
    }

    #[test]
    fn method_not_allowed_names_the_allowed_methods() {
        let error = ApiError::MethodNotAllowed {
            method: "POST".into(),
            allow: "GET",
        };
        let response = error.into_response(&RequestId::generate());
        assert_eq!(response.headers()[ALLOW], "GET");
    }

    #[test]
    fn each_engine_error_has_its_status_and_the_store_reads_as_unavailable() {
        let status = |error: engine::Error| ApiError::from(engine::CallError::Engine(error));
        let unavailable = status(engine::Error::StoreUnavailable);
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            unavailable.to_string(),
            "The movie database is unavailable; try again later."
        );
        assert_eq!(
            status(engine::Error::Internal).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status(engine::Error::Invalid("x".into())).status(),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn only_a_hidden_cause_rides_on_the_response() {
        let id = RequestId::generate();
        let internal = ApiError::Internal("disk on fire".into()).into_response(&id);
        assert_eq!(
            internal.extensions().get::<Cause>(),
            Some(&Cause("disk on fire".into()))
        );
        let engine = ApiError::Engine(engine::Error::Internal).into_response(&id);
        assert!(engine.extensions().get::<Cause>().is_some());
        let not_found = ApiError::NotFound.into_response(&id);
        assert!(not_found.extensions().get::<Cause>().is_none());
    }
}
