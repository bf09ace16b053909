//! JSON over HTTP(S) to Keystone: hyper's pooled client, TLS by rustls on
//! `ring`, every request bounded in time.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::ClientConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::conf::KeystoneSettings;

/// Keystone's answers are small; a larger one is not Keystone's.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Why a request to Keystone got no answer. Never holds a token.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// No connection, TLS refused, the connection broke.
    #[error("cannot reach Keystone at {url}: {reason}")]
    Unreachable {
        /// The URL asked, without its query.
        url: String,
        /// What failed.
        reason: String,
    },
    /// No answer within `http_request_timeout`.
    #[error("Keystone at {url} did not answer within {}s", after.as_secs())]
    Timeout {
        /// The URL asked, without its query.
        url: String,
        /// The bound.
        after: Duration,
    },
}

/// An answer from Keystone.
pub(crate) struct HttpResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// A pooled client for one Keystone.
#[derive(Clone)]
pub(crate) struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    request_timeout: Duration,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client as `settings` configure TLS and time bounds.
    ///
    /// # Errors
    /// The `cafile` holds no usable certificate, or the system's roots cannot be loaded.
    pub(crate) fn new(settings: &KeystoneSettings) -> Result<HttpClient, String> {
        let tls = tls_config(settings)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(settings.connect_timeout));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Ok(HttpClient {
            client,
            request_timeout: settings.request_timeout,
        })
    }

    /// Sends one request; `headers` may hold tokens, which never reach an error.
    ///
    /// # Errors
    /// [`HttpError`] when no whole answer came back in time.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, HttpError> {
        let shown = url.split('?').next().unwrap_or(url).to_owned();
        let unreachable = |reason: String| HttpError::Unreachable {
            url: shown.clone(),
            reason,
        };
        let mut request = Request::builder()
            .method(method)
            .uri(url)
            .header(ACCEPT, "application/json");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let body = match body {
            Some(json) => {
                request = request.header(CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(json.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request
            .body(body)
            .map_err(|error| unreachable(error.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|error| unreachable(error_chain(&error)))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|error| unreachable(format!("reading the answer: {error}")))?
                .to_bytes();
            Ok(HttpResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout(self.request_timeout, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => Err(HttpError::Timeout {
                url: shown,
                after: self.request_timeout,
            }),
        }
    }
}

/// hyper's client error says only "client error (Connect)"; the causes say why.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn tls_config(settings: &KeystoneSettings) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?;
    let config = if settings.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth()
    } else if let Some(cafile) = &settings.cafile {
        let mut roots = rustls::RootCertStore::empty();
        let certificates = CertificateDer::pem_file_iter(cafile)
            .map_err(|error| format!("cafile {}: {error}", cafile.display()))?;
        for certificate in certificates {
            let certificate =
                certificate.map_err(|error| format!("cafile {}: {error}", cafile.display()))?;
            roots
                .add(certificate)
                .map_err(|error| format!("cafile {}: {error}", cafile.display()))?;
        }
        if roots.is_empty() {
            return Err(format!("cafile {}: no certificate in it", cafile.display()));
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        let verifier = rustls_platform_verifier::Verifier::new(provider)
            .map_err(|error| format!("the system's certificate authorities: {error}"))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    };
    Ok(config)
}

/// `insecure = true`: any certificate is taken, its signatures still checked
/// for form so that the handshake completes.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
