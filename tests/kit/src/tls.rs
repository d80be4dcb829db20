//! TLS for tests: self-signed certificates, and a client that trusts exactly one
//! certificate, still checking the handshake signatures against it.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme, SupportedProtocolVersion};

use crate::TempDir;

/// The certificate generator, for tests that pick the key type.
pub use rcgen;

/// A self-signed certificate for `localhost` and its key.
pub struct SelfSigned {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PEM.
    pub key_pem: String,
    /// The certificate, DER (what a client pins).
    pub der: Vec<u8>,
}

impl SelfSigned {
    /// A certificate whose key is of `alg` (e.g. `rcgen::PKCS_ECDSA_P256_SHA256`).
    pub fn new(alg: &'static rcgen::SignatureAlgorithm) -> SelfSigned {
        let key = rcgen::KeyPair::generate_for(alg).expect("generate key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("self-sign");
        SelfSigned {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    /// An ECDSA P-256 certificate (what the server tests use).
    pub fn p256() -> SelfSigned {
        SelfSigned::new(&rcgen::PKCS_ECDSA_P256_SHA256)
    }

    /// Writes `cert.pem` and `key.pem` into `dir`: their paths (SSL_CERTFILE, SSL_KEYFILE).
    pub fn write_to(&self, dir: &TempDir) -> (PathBuf, PathBuf) {
        (
            dir.write("cert.pem", &self.cert_pem),
            dir.write("key.pem", &self.key_pem),
        )
    }
}

#[derive(Debug)]
struct TrustOne {
    cert: Vec<u8>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for TrustOne {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("not the test certificate".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client configuration (ring provider) for `versions` that trusts `cert` (DER) only.
pub fn client_config(
    cert: &[u8],
    versions: &[&'static SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(TrustOne {
            cert: cert.to_vec(),
            provider,
        }))
        .with_no_client_auth();
    Arc::new(config)
}

/// A blocking client connection to `localhost` trusting `cert` only (default versions).
pub fn client_connection(cert: &[u8]) -> rustls::ClientConnection {
    let config = client_config(cert, rustls::DEFAULT_VERSIONS);
    rustls::ClientConnection::new(config, "localhost".try_into().expect("name"))
        .expect("tls client")
}
