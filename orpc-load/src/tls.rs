//! TLS for `https://` targets: the client configuration, trusting exactly the certificate given
//! with `--tls-ca` (the server under test's own, self-signed: nothing from the system's store),
//! and the handshake on a connected socket.
//!
//! ALPN offers one protocol, the one the run measures: `http/1.1` for one stream per connection,
//! `h2` for `--http2`. A server that agrees to another is refused, so an HTTP/2 figure can never
//! come from an HTTP/1.1 connection or the other way round. Session resumption is off, so that
//! every HTTP/1.1 connection pays a full handshake, as a new client would.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The application protocol a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    Http1,
    H2,
}

impl Alpn {
    fn id(self) -> &'static [u8] {
        match self {
            Self::Http1 => b"http/1.1",
            Self::H2 => b"h2",
        }
    }
}

/// Opens TLS sessions to the server under test.
#[derive(Clone)]
pub struct Tls {
    connector: TlsConnector,
    name: ServerName<'static>,
    alpn: Alpn,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("name", &self.name)
            .field("alpn", &self.alpn)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Trusts the certificates in the PEM file `ca` and names the server `host` (an IP address
    /// or a DNS name, as the URL has it).
    pub fn new(ca: &Path, host: &str, alpn: Alpn) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(ca)
            .map_err(|error| format!("cannot read {}: {error}", ca.display()))?;
        for cert in certs {
            let cert = cert.map_err(|error| format!("{}: {error}", ca.display()))?;
            roots
                .add(cert)
                .map_err(|error| format!("{}: {error}", ca.display()))?;
        }
        if roots.is_empty() {
            return Err(format!("{}: no certificate in it", ca.display()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| error.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![alpn.id().to_vec()];
        config.resumption = rustls::client::Resumption::disabled();
        let name = ServerName::try_from(host.to_owned())
            .map_err(|error| format!("{host:?} as a TLS server name: {error}"))?;
        Ok(Self {
            connector: TlsConnector::from(Arc::new(config)),
            name,
            alpn,
        })
    }

    /// The handshake on `socket`; fails unless the server chose this connection's protocol.
    pub async fn connect(&self, socket: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        let stream = self.connector.connect(self.name.clone(), socket).await?;
        let chosen = stream.get_ref().1.alpn_protocol();
        if chosen != Some(self.alpn.id()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the server chose ALPN {:?}, not {:?}",
                    chosen.map(String::from_utf8_lossy),
                    String::from_utf8_lossy(self.alpn.id())
                ),
            ));
        }
        Ok(stream)
    }
}
