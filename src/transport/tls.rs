//! TLS for the `ssl` and `wss` services: SSL_CERTFILE and SSL_KEYFILE turned into a rustls
//! server configuration (ring provider, TLS 1.2 and 1.3), with one-line errors naming the
//! file and the problem.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why SSL_CERTFILE / SSL_KEYFILE could not be turned into a TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// A file could not be read (missing, unreadable).
    #[error("cannot read {var} {}: {source}", path.display())]
    Read {
        /// `SSL_CERTFILE` or `SSL_KEYFILE`.
        var: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// A file is not well-formed PEM.
    #[error("{var} {}: malformed PEM: {detail}", path.display())]
    Pem {
        var: &'static str,
        path: PathBuf,
        detail: String,
    },
    /// The certificate file holds no `CERTIFICATE` block.
    #[error("SSL_CERTFILE {}: no PEM certificate (BEGIN CERTIFICATE) in the file", path.display())]
    NoCertificate { path: PathBuf },
    /// A certificate could not be parsed.
    #[error("SSL_CERTFILE {}: invalid certificate: {detail}", path.display())]
    BadCertificate { path: PathBuf, detail: String },
    /// The key file holds no private key block.
    #[error(
        "SSL_KEYFILE {}: no PEM private key (BEGIN RSA PRIVATE KEY, EC PRIVATE KEY or \
         PRIVATE KEY) in the file",
        path.display()
    )]
    NoKey { path: PathBuf },
    /// The key file holds only an encrypted private key.
    #[error(
        "SSL_KEYFILE {}: the private key is encrypted; an unencrypted key is required",
        path.display()
    )]
    EncryptedKey { path: PathBuf },
    /// The private key is of a kind or on a curve that is not supported, or is corrupt.
    #[error("SSL_KEYFILE {}: unsupported or invalid private key: {detail}", path.display())]
    UnsupportedKey { path: PathBuf, detail: String },
    /// The private key is not the certificate's.
    #[error(
        "SSL_KEYFILE {} does not match the certificate in SSL_CERTFILE {}",
        keyfile.display(),
        certfile.display()
    )]
    KeyMismatch { certfile: PathBuf, keyfile: PathBuf },
    /// Anything else rustls refused.
    #[error("cannot use SSL_CERTFILE {} with SSL_KEYFILE {}: {detail}", certfile.display(), keyfile.display())]
    Other {
        certfile: PathBuf,
        keyfile: PathBuf,
        detail: String,
    },
}

/// Loads SSL_CERTFILE/SSL_KEYFILE (PEM; certificate chain; RSA (PKCS#1), SEC1 EC or PKCS#8
/// private key). TLS 1.2 and 1.3, ring provider.
///
/// The certificate file holds the server certificate first, then any intermediates; other
/// PEM blocks in it (a key, say) are ignored. The first private key in the key file is used.
/// Supported keys are those of rustls' ring provider: RSA (2048 bits or more), ECDSA P-256
/// and P-384, and Ed25519.
///
/// # Errors
/// A [`TlsConfigError`] whose one-line `Display` names the file and the problem.
pub fn load_tls_config(
    certfile: &Path,
    keyfile: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsConfigError> {
    let cert_pem = std::fs::read(certfile).map_err(|source| TlsConfigError::Read {
        var: "SSL_CERTFILE",
        path: certfile.to_owned(),
        source,
    })?;
    let key_pem = std::fs::read(keyfile).map_err(|source| TlsConfigError::Read {
        var: "SSL_KEYFILE",
        path: keyfile.to_owned(),
        source,
    })?;

    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|e| TlsConfigError::Pem {
            var: "SSL_CERTFILE",
            path: certfile.to_owned(),
            detail: pem_problem(&e),
        })?;
    if chain.is_empty() {
        return Err(TlsConfigError::NoCertificate {
            path: certfile.to_owned(),
        });
    }

    let key = match PrivateKeyDer::from_pem_slice(&key_pem) {
        Ok(key) => key,
        // An encrypted key is either not found (PKCS#8 "ENCRYPTED PRIVATE KEY") or breaks
        // the PEM parser (the legacy "Proc-Type: 4,ENCRYPTED" header of OpenSSL's RSA/EC
        // forms).
        Err(_) if looks_encrypted(&key_pem) => {
            return Err(TlsConfigError::EncryptedKey {
                path: keyfile.to_owned(),
            })
        }
        Err(pem::Error::NoItemsFound) => {
            return Err(TlsConfigError::NoKey {
                path: keyfile.to_owned(),
            })
        }
        Err(e) => {
            return Err(TlsConfigError::Pem {
                var: "SSL_KEYFILE",
                path: keyfile.to_owned(),
                detail: pem_problem(&e),
            })
        }
    };

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Load the key on its own first so that a bad key is reported as such, not as whatever
    // the combined check says.
    if let Err(e) = provider.key_provider.load_private_key(key.clone_key()) {
        return Err(TlsConfigError::UnsupportedKey {
            path: keyfile.to_owned(),
            detail: e.to_string(),
        });
    }
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsConfigError::Other {
            certfile: certfile.to_owned(),
            keyfile: keyfile.to_owned(),
            detail: e.to_string(),
        })?;
    let config = builder
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => TlsConfigError::KeyMismatch {
                certfile: certfile.to_owned(),
                keyfile: keyfile.to_owned(),
            },
            rustls::Error::InvalidCertificate(e) => TlsConfigError::BadCertificate {
                path: certfile.to_owned(),
                detail: match e {
                    rustls::CertificateError::BadEncoding => {
                        "not a DER-encoded X.509 certificate".to_owned()
                    }
                    e => format!("{e:?}"),
                },
            },
            e => TlsConfigError::Other {
                certfile: certfile.to_owned(),
                keyfile: keyfile.to_owned(),
                detail: e.to_string(),
            },
        })?;
    Ok(Arc::new(config))
}

/// A PEM parse error in words (the library's `Display` shows markers as byte lists).
fn pem_problem(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "no \"-----END {}-----\" line",
            String::from_utf8_lossy(end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => {
            format!("bad BEGIN line {:?}", String::from_utf8_lossy(line))
        }
        pem::Error::Base64Decode(detail) => format!("bad base64: {detail}"),
        e => e.to_string(),
    }
}

/// Whether PEM text holds an encrypted private key, in PKCS#8 or OpenSSL's legacy form.
fn looks_encrypted(pem: &[u8]) -> bool {
    let contains = |needle: &[u8]| pem.windows(needle.len()).any(|w| w == needle);
    contains(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || contains(b"Proc-Type: 4,ENCRYPTED")
}
