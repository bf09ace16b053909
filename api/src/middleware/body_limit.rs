//! `max_request_body_size` and the body's pace: refuse a larger body while
//! reading it, not after, and give up on a client that stops sending one.

use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use hyper::HeaderMap;
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_LENGTH;

use crate::error::ApiError;

/// Reads the whole body, failing with 413 as soon as it passes `limit` bytes
/// (at once when `Content-Length` already says so), and with 408 when the
/// client sends nothing for `stall` (`None`: waits forever).
pub(super) async fn read(
    headers: &HeaderMap,
    body: Incoming,
    limit: usize,
    stall: Option<Duration>,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = Limited::new(body, limit);
    let mut collected = Vec::new();
    loop {
        let frame = match stall {
            Some(stall) => tokio::time::timeout(stall, body.frame())
                .await
                .map_err(|_| ApiError::BodyTimeout { after: stall })?,
            None => body.frame().await,
        };
        match frame {
            None => return Ok(Bytes::from(collected)),
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    collected.extend_from_slice(data);
                }
            }
            Some(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            Some(Err(error)) => return Err(ApiError::BadBody(error.to_string())),
        }
    }
}
