//! Reading a certificate and key for HTTPS (feature `tls`).

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A rustls server configuration from a PEM certificate chain and its PEM private key (PKCS#8,
/// PKCS#1 or SEC1), with rustls' safe defaults and the `ring` provider, for [`serve_tls`](super::serve_tls)
/// or `HttpServer::bind_rustls_0_23`. The errors name the file that is
/// wrong.
///
/// ```no_run
/// let tls = orpc_runtime::http::tls_config("cert.pem", "key.pem")?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn tls_config(
    cert: impl AsRef<Path>,
    key: impl AsRef<Path>,
) -> io::Result<rustls::ServerConfig> {
    let (cert, key) = (cert.as_ref(), key.as_ref());
    let invalid = |path: &Path, what: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {what}", path.display()),
        )
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| invalid(cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(invalid(cert, "no PEM certificate in the file".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| invalid(key, e.to_string()))?;
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| invalid(key, format!("does not fit the certificate: {e}")))
}
