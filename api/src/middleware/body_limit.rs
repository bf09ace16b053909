//! `max_request_body_size`: refuse a larger body while reading it, not after.

use http_body_util::{BodyExt, Limited};
use hyper::HeaderMap;
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_LENGTH;

use crate::error::ApiError;

/// Reads the whole body, failing with 413 as soon as it passes `limit` bytes
/// (at once when `Content-Length` already says so).
pub async fn read(headers: &HeaderMap, body: Incoming, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::PayloadTooLarge { limit })
        }
        Err(error) => Err(ApiError::BadBody(error.to_string())),
    }
}
