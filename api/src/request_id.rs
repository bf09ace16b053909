//! `x-openstack-request-id`: taken from a well-formed incoming header, or made.

use hyper::HeaderMap;
use hyper::header::HeaderValue;
use uuid::Uuid;

/// The header that carries the request id, in both directions.
pub(crate) const HEADER: &str = "x-openstack-request-id";

/// `req-<uuid>`, the oslo.context request id form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The caller's id when it is `req-` followed by a UUID, else a new one;
    /// anything else is replaced so logs never carry caller-chosen text.
    pub fn from_headers(headers: &HeaderMap) -> RequestId {
        headers
            .get(HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(RequestId::parse)
            .unwrap_or_else(RequestId::generate)
    }

    fn parse(text: &str) -> Option<RequestId> {
        let uuid = Uuid::try_parse(text.strip_prefix("req-")?).ok()?;
        Some(RequestId(format!("req-{}", uuid.hyphenated())))
    }

    /// A fresh `req-<uuid4>`.
    pub fn generate() -> RequestId {
        RequestId(format!("req-{}", Uuid::new_v4().hyphenated()))
    }

    /// The id as a header value.
    pub fn header_value(&self) -> HeaderValue {
        HeaderValue::from_str(&self.0).expect("req- and a hyphenated uuid are valid header text")
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn a_well_formed_id_is_kept() {
        let id = "req-1b4e28ba-2fa1-4d2f-883f-0016d3cca427";
        assert_eq!(RequestId::from_headers(&with(id)).as_str(), id);
    }

    #[test]
    fn a_malformed_id_is_replaced() {
        for bad in [
            "hello",
            "req-",
            "req-not-a-uuid",
            "1b4e28ba-2fa1-4d2f-883f-0016d3cca427",
        ] {
            let id = RequestId::from_headers(&with(bad));
            assert_ne!(id.as_str(), bad);
            assert!(id.as_str().starts_with("req-"));
        }
    }

    #[test]
    fn a_missing_id_is_generated_in_the_oslo_form() {
        let id = RequestId::from_headers(&HeaderMap::new());
        assert!(RequestId::parse(id.as_str()).is_some());
    }
}
