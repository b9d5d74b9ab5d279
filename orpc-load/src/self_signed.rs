//! `--self-signed DIR`: a fresh certificate and key for an HTTPS server under test, so that a
//! benchmark script needs neither openssl nor a committed key. The pair names `localhost` and
//! `127.0.0.1`; nothing trusts it but a client given it with `--tls-ca`.

use std::path::{Path, PathBuf};

/// Writes `DIR/cert.pem` and `DIR/key.pem` (the key readable by its owner only) and returns
/// their paths.
pub fn write(dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let pair = rcgen::generate_simple_self_signed(names).map_err(|error| error.to_string())?;
    std::fs::create_dir_all(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, pair.cert.pem())
        .map_err(|error| format!("{}: {error}", cert.display()))?;
    write_private(&key, pair.signing_key.serialize_pem().as_bytes())
        .map_err(|error| format!("{}: {error}", key.display()))?;
    Ok((cert, key))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(bytes)
}
