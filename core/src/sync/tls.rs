//! TLS for the sync client: a relay is trusted by the web PKI's roots plus the platform's, or, for a
//! school server that made its own certificate, by the one certificate whose fingerprint the device was
//! signed in with.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, OtherError, RootCertStore,
    SignatureScheme,
};

use crate::certificate_pin::CertificatePin;

/// A relay presented a certificate other than the pinned one.
#[derive(Debug, thiserror::Error)]
#[error("the relay presented a certificate with fingerprint {found}")]
pub struct PinMismatch {
    /// The fingerprint of the certificate the relay presented.
    pub found: CertificatePin,
}

/// Trusts one certificate, by fingerprint; the handshake's signatures are still checked against it, so
/// only the holder of its key passes.
#[derive(Debug)]
struct PinnedCertificate {
    pin: CertificatePin,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let found = CertificatePin::of(end_entity);
        if found == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(PinMismatch { found })),
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            signature,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            signature,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The web PKI's roots and the platform's (which honours `SSL_CERT_FILE` and `SSL_CERT_DIR`), read once.
fn trusted_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let platform = rustls_native_certs::load_native_certs();
            let (added, ignored) = roots.add_parsable_certificates(platform.certs);
            tracing::debug!(
                added,
                ignored,
                errors = platform.errors.len(),
                "platform certificate authorities read"
            );
            Arc::new(roots)
        })
        .clone()
}

/// Makes _ring_ the process's TLS provider, for HTTP clients built without [`client_config`] (a test's
/// plain `reqwest::Client`); the journal's own clients never need it.
pub fn install_default_provider() {
    // Already installed (by this or by the application) is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The TLS configuration for reaching a relay: pinned to one certificate, or trusting the usual roots.
pub fn client_config(pin: Option<&CertificatePin>) -> Arc<ClientConfig> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports TLS 1.2 and 1.3");
    let mut config = match pin {
        Some(pin) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCertificate {
                pin: *pin,
                provider,
            }))
            .with_no_client_auth(),
        None => builder
            .with_root_certificates(trusted_roots())
            .with_no_client_auth(),
    };
    // The relay speaks HTTP/1.1 only; WebSockets need it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// What a teacher is told when the relay's certificate was refused, if that is what `error` (or one of
/// its causes) says.
pub fn certificate_refusal(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(rustls::Error::InvalidCertificate(refused)) = error.downcast_ref() {
            return Some(describe(refused));
        }
        // An I/O error's `source` skips the error it wraps (often another I/O error around rustls's).
        next = match error.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        };
    }
    None
}

fn describe(refused: &CertificateError) -> String {
    match refused {
        CertificateError::Other(OtherError(other)) => match other.downcast_ref::<PinMismatch>() {
            Some(mismatch) => format!(
                "the relay's certificate is not the one this device was signed in with (it presented {}); \
                 someone may be in the way, so nothing was sent: ask the school's IT officer",
                mismatch.found
            ),
            None => format!("the relay's certificate was refused: {other}"),
        },
        CertificateError::UnknownIssuer => "the relay's certificate is not from an authority this device trusts; \
             if the school's relay made its own certificate, sign in with the fingerprint printed on the access slip"
            .to_owned(),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "the relay's certificate is for another address: check the relay address".to_owned()
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "the relay's certificate has expired: ask the school's IT officer to renew it".to_owned()
        }
        other => format!("the relay's certificate was refused ({other:?})"),
    }
}
