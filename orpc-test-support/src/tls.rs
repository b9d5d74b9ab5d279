//! Self-signed certificates for HTTPS tests, made fresh for each run: nothing committed, nothing
//! that anything trusts.

use std::path::{Path, PathBuf};

/// A certificate for `localhost` and `127.0.0.1`, with its key, both PEM.
pub struct SelfSigned {
    pub cert_pem: String,
    pub key_pem: String,
}

impl SelfSigned {
    /// A new pair.
    pub fn new() -> Self {
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let certified =
            rcgen::generate_simple_self_signed(names).expect("a self-signed certificate");
        SelfSigned {
            cert_pem: certified.cert.pem(),
            key_pem: certified.signing_key.serialize_pem(),
        }
    }

    /// Writes `cert.pem` and `key.pem` into `dir`, for a server process's `--tls-cert` and
    /// `--tls-key`.
    pub fn write_to(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &self.cert_pem).expect("write the certificate");
        std::fs::write(&key, &self.key_pem).expect("write the key");
        (cert, key)
    }

    /// The server configuration for this pair, as the library's `tls_config` reads it.
    pub fn server_config(&self) -> rustls::ServerConfig {
        let dir = std::env::temp_dir().join(format!(
            "orpc-tls-{}-{}",
            std::process::id(),
            fastrand_suffix()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let (cert, key) = self.write_to(&dir);
        let config = orpc_runtime::http::tls_config(&cert, &key).expect("the pair loads");
        let _ = std::fs::remove_dir_all(&dir);
        config
    }
}

impl Default for SelfSigned {
    fn default() -> Self {
        Self::new()
    }
}

/// A suffix that keeps parallel tests' directories apart.
fn fastrand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// An HTTPS client that accepts the self-signed certificate and speaks HTTP/2 (ALPN), giving up
/// after 20 s. Every request it makes shares one HTTP/2 connection.
pub fn h2_client() -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(true)
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap()
}
