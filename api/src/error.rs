//! [`ApiError`]: every failure a request can meet, and the one place that
//! chooses its HTTP status and renders the JSON error body.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::json;

use crate::middleware::RequestId;

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
    /// The body could not be read (the client went away or sent bad framing).
    #[error("The request body could not be read: {0}")]
    BadBody(String),
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadBody(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The response: `{"error":{"code","title","message","request_id"}}`.
    pub fn into_response(self, request_id: &RequestId) -> Response<Full<Bytes>> {
        let status = self.status();
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
        if let ApiError::MethodNotAllowed { allow, .. } = self {
            headers.insert(ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
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
}
