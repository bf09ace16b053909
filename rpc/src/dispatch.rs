//! Dispatching a request to an endpoint, with oslo.messaging's rules for
//! namespaces, versions and method names, and its exact errors.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::context::Context;
use crate::failure::RemoteError;

/// The future an endpoint method returns.
pub type MethodFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, RemoteError>> + Send + 'a>>;

/// A set of RPC methods under one namespace and version.
pub trait Endpoint: Send + Sync + 'static {
    /// The namespace requests must name (`None`: requests naming none).
    fn namespace(&self) -> Option<&str>;

    /// The version implemented, e.g. `1.0`; requests for `1.x` with `x` up to it are served.
    fn version(&self) -> &str;

    /// Whether `method` exists.
    fn has_method(&self, method: &str) -> bool;

    /// Runs `method` (which [`Endpoint::has_method`] accepted) with its keyword arguments.
    fn call<'a>(
        &'a self,
        context: Context,
        method: &'a str,
        args: Map<String, Value>,
    ) -> MethodFuture<'a>;
}

/// Routes a request to the first compatible endpoint that has the method.
#[derive(Clone)]
pub struct Dispatcher {
    endpoints: Vec<Arc<dyn Endpoint>>,
}

impl Dispatcher {
    /// A dispatcher over `endpoints`, tried in order.
    pub fn new(endpoints: Vec<Arc<dyn Endpoint>>) -> Dispatcher {
        Dispatcher { endpoints }
    }

    /// Runs the request's method. A compatible endpoint without the method
    /// gives `NoSuchMethod`; no compatible endpoint gives `UnsupportedVersion`
    /// (a wrong namespace included, as oslo.messaging reports it).
    ///
    /// # Errors
    /// The method's own failure, or one of the two dispatch errors above.
    pub async fn dispatch(
        &self,
        context: Context,
        namespace: Option<&str>,
        version: Option<&str>,
        method: &str,
        args: Map<String, Value>,
    ) -> Result<Value, RemoteError> {
        let version = version.unwrap_or("1.0");
        let mut found_compatible = false;
        for endpoint in &self.endpoints {
            if endpoint.namespace() != namespace
                || !version_is_compatible(endpoint.version(), version)
            {
                continue;
            }
            found_compatible = true;
            // Names starting with '_' are never exposed, as oslo's default access policy says.
            if !method.starts_with('_') && endpoint.has_method(method) {
                return endpoint.call(context, method, args).await;
            }
        }
        if found_compatible {
            Err(RemoteError::no_such_method(method))
        } else {
            Err(RemoteError::unsupported_version(version, method))
        }
    }
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("endpoints", &self.endpoints.len())
            .finish()
    }
}

/// oslo's `version_is_compatible(implemented, requested)`: same major, and
/// the requested minor (and revision) not above the implemented one.
pub fn version_is_compatible(implemented: &str, requested: &str) -> bool {
    let (Some(imp), Some(req)) = (parse_version(implemented), parse_version(requested)) else {
        return false;
    };
    imp.0 == req.0 && (req.1 < imp.1 || (req.1 == imp.1 && req.2 <= imp.2))
}

fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let mut parts = text.split('.').map(|part| part.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().unwrap_or(Some(0))?;
    let revision = parts.next().unwrap_or(Some(0))?;
    parts.next().is_none().then_some((major, minor, revision))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ping;

    impl Endpoint for Ping {
        fn namespace(&self) -> Option<&str> {
            Some("engine")
        }
        fn version(&self) -> &str {
            "1.2"
        }
        fn has_method(&self, method: &str) -> bool {
            matches!(method, "ping" | "_private")
        }
        fn call<'a>(&'a self, _: Context, _: &'a str, _: Map<String, Value>) -> MethodFuture<'a> {
            Box::pin(async { Ok(Value::from("pong")) })
        }
    }

    async fn dispatch(
        namespace: Option<&str>,
        version: Option<&str>,
        method: &str,
    ) -> Result<Value, RemoteError> {
        Dispatcher::new(vec![Arc::new(Ping)])
            .dispatch(Context::default(), namespace, version, method, Map::new())
            .await
    }

    #[tokio::test]
    async fn a_compatible_request_runs_the_method() {
        for version in ["1.0", "1.2", "1.1.5"] {
            assert_eq!(
                dispatch(Some("engine"), Some(version), "ping").await,
                Ok(Value::from("pong"))
            );
        }
    }

    #[tokio::test]
    async fn an_unknown_or_private_method_is_no_such_method() {
        for method in ["nosuch", "_private"] {
            let error = dispatch(Some("engine"), Some("1.0"), method)
                .await
                .expect_err("refused");
            assert_eq!(error.class, "NoSuchMethod");
            assert_eq!(
                error.message,
                format!("Endpoint does not support RPC method {method}")
            );
        }
    }

    #[tokio::test]
    async fn a_newer_version_or_another_namespace_is_unsupported_version() {
        let error = dispatch(Some("engine"), Some("2.0"), "ping")
            .await
            .expect_err("refused");
        assert_eq!(error.class, "UnsupportedVersion");
        assert_eq!(
            error.message,
            "Endpoint does not support RPC version 2.0. Attempted method: ping"
        );
        let error = dispatch(None, None, "ping").await.expect_err("refused");
        assert_eq!(
            error.message,
            "Endpoint does not support RPC version 1.0. Attempted method: ping"
        );
    }

    #[test]
    fn versions_compare_like_oslo() {
        assert!(version_is_compatible("1.0", "1.0"));
        assert!(version_is_compatible("1.3", "1.1"));
        assert!(!version_is_compatible("1.0", "1.1"));
        assert!(!version_is_compatible("1.0", "1.0.1"));
        assert!(version_is_compatible("1.0.2", "1.0.1"));
        assert!(!version_is_compatible("1.0", "2.0"));
        assert!(!version_is_compatible("1.0", "one"));
    }
}
