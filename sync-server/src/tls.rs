//! TLS on the relay: the certificate a school was given, or one the relay makes for itself on first start
//! and keeps in its data directory. Devices pin the fingerprint of the one the relay made, read off the
//! access slips, so a school server without a public name is still reached safely.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use journal_core::certificate_pin::CertificatePin;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;
use tokio_rustls::TlsAcceptor;

/// Where a self-signed certificate is kept, in the data directory.
pub const SELF_SIGNED_CERT: &str = "tls/self-signed.crt";
/// Where its private key is kept, in the data directory.
pub const SELF_SIGNED_KEY: &str = "tls/self-signed.key";

/// Why the relay cannot serve TLS.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A certificate or key file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate file holds no certificate.
    #[error("{path} holds no certificate in PEM form (-----BEGIN CERTIFICATE-----)")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no private key.
    #[error("{path} holds no private key in PEM form (-----BEGIN PRIVATE KEY-----)")]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The key is not the certificate's, or neither is usable.
    #[error("the TLS certificate and key cannot be used together: {0}")]
    Unusable(rustls::Error),
    /// The self-signed certificate could not be made.
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The self-signed certificate could not be kept.
    #[error("cannot keep the self-signed certificate in {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Where the relay's certificate comes from.
#[derive(Debug)]
pub enum CertificateSource<'a> {
    /// PEM files the school was given (a certificate chain and its key).
    Files {
        /// The certificate chain.
        cert: &'a Path,
        /// Its private key.
        key: &'a Path,
    },
    /// A certificate the relay makes on first start and keeps in `data_dir`, for the host names and
    /// addresses `names`.
    SelfSigned {
        /// The data directory.
        data_dir: &'a Path,
        /// Host names and IP addresses the certificate is for.
        names: &'a [String],
    },
}

/// The relay's TLS, ready to accept connections.
#[derive(Clone)]
pub struct ServerTls {
    /// Accepts TLS connections.
    pub acceptor: TlsAcceptor,
    /// The SHA-256 fingerprint of the relay's certificate.
    pub fingerprint: CertificatePin,
    /// Whether the relay made the certificate itself (devices must pin it).
    pub self_signed: bool,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("fingerprint", &self.fingerprint)
            .field("self_signed", &self.self_signed)
            .finish()
    }
}

/// The relay's TLS from `source`; a self-signed certificate is made and kept the first time.
pub fn load(source: &CertificateSource<'_>) -> Result<ServerTls, TlsError> {
    let (cert, key, self_signed) = match source {
        CertificateSource::Files { cert, key } => (cert.to_path_buf(), key.to_path_buf(), false),
        CertificateSource::SelfSigned { data_dir, names } => {
            let (cert, key) = (
                data_dir.join(SELF_SIGNED_CERT),
                data_dir.join(SELF_SIGNED_KEY),
            );
            if !cert.exists() || !key.exists() {
                make_self_signed(&cert, &key, names)?;
                tracing::info!(cert = %cert.display(), "made a self-signed TLS certificate");
            }
            (cert, key, true)
        }
    };
    let chain = read_chain(&cert)?;
    let key = read_key(&key)?;
    let fingerprint = CertificatePin::of(&chain[0]);
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(TlsError::Unusable)?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(TlsError::Unusable)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(ServerTls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        fingerprint,
        self_signed,
    })
}

/// The fingerprint of the certificate the relay made for itself in `data_dir`, if it made one: what the
/// access slips print.
pub fn self_signed_fingerprint(data_dir: &Path) -> Option<CertificatePin> {
    read_chain(&data_dir.join(SELF_SIGNED_CERT))
        .ok()
        .map(|chain| CertificatePin::of(&chain[0]))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain: Vec<_> = CertificateDer::pem_slice_iter(&read(path)?)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(&read(path)?).map_err(|_| TlsError::NoKey {
        path: path.to_owned(),
    })
}

fn make_self_signed(cert: &Path, key: &Path, names: &[String]) -> Result<(), TlsError> {
    let key_pair = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(names.to_vec())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "school journal relay");
    let made = params.self_signed(&key_pair)?;
    let write = |path: &Path, text: String| {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
                path: dir.to_owned(),
                source,
            })?;
        }
        std::fs::write(path, text).map_err(|source| TlsError::Write {
            path: path.to_owned(),
            source,
        })
    };
    // The key first: a certificate without its key would be taken as made and never work.
    write(key, key_pair.serialize_pem())?;
    write(cert, made.pem())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let names = ["localhost".to_owned(), "127.0.0.1".to_owned()];
        let source = CertificateSource::SelfSigned {
            data_dir: dir.path(),
            names: &names,
        };
        let first = load(&source).unwrap();
        assert!(first.self_signed);
        let again = load(&source).unwrap();
        assert_eq!(first.fingerprint, again.fingerprint);
        assert_eq!(self_signed_fingerprint(dir.path()), Some(first.fingerprint));
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let (one, other) = (dir.path().join("one"), dir.path().join("other"));
        for data_dir in [&one, &other] {
            load(&CertificateSource::SelfSigned {
                data_dir,
                names: &["localhost".to_owned()],
            })
            .unwrap();
        }
        let mismatched = load(&CertificateSource::Files {
            cert: &one.join(SELF_SIGNED_CERT),
            key: &other.join(SELF_SIGNED_KEY),
        })
        .unwrap_err();
        assert!(matches!(mismatched, TlsError::Unusable(_)), "{mismatched}");
        let not_pem = dir.path().join("cert.txt");
        std::fs::write(&not_pem, "not a certificate").unwrap();
        let refused = load(&CertificateSource::Files {
            cert: &not_pem,
            key: &one.join(SELF_SIGNED_KEY),
        })
        .unwrap_err();
        assert!(
            refused.to_string().contains("holds no certificate"),
            "{refused}"
        );
    }
}
