//! A throw-away certificate authority made at test time, and the stand-in
//! API server's certificate signed by it (IP SAN 127.0.0.1 plus the DNS
//! names the test uses), as curl, kubectl and rustls want them.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The CA (PEM, for clients) and the server's certificate and key.
#[derive(Debug)]
pub(crate) struct Pki {
    /// The CA certificate, PEM.
    pub(crate) ca_pem: String,
    server_cert: CertificateDer<'static>,
    server_key: Vec<u8>,
}

/// Anything that can go wrong making or loading the certificates.
pub(crate) type PkiError = Box<dyn std::error::Error + Send + Sync>;

impl Pki {
    /// A new CA and a server certificate for `names` (IP addresses or DNS
    /// names).
    pub(crate) fn generate(names: &[&str]) -> Result<Self, PkiError> {
        let (ca_pem, issuer) = new_ca()?;
        let key = KeyPair::generate()?;
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        params.use_authority_key_identifier_extension = true;
        params.key_usages.push(KeyUsagePurpose::DigitalSignature);
        params
            .extended_key_usages
            .push(ExtendedKeyUsagePurpose::ServerAuth);
        let cert = params.signed_by(&key, &issuer)?;
        Ok(Self {
            ca_pem,
            server_cert: cert.der().clone(),
            server_key: key.serialize_der(),
        })
    }

    /// A rustls server configuration offering h2 and HTTP/1.1 (ALPN), as
    /// the real API server does.
    pub(crate) fn server_config(&self) -> Result<Arc<ServerConfig>, PkiError> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![self.server_cert.clone()], key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// A self-signed CA: its PEM and the issuer that signs with its key.
fn new_ca() -> Result<(String, Issuer<'static, KeyPair>), PkiError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "ssm-forward kube_e2e test CA");
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), Issuer::new(params, key)))
}
