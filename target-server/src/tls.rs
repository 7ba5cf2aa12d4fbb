//! TLS for the target server: [`TlsIdentity`] (a throw-away certificate authority and a
//! server certificate it signed, generated with rcgen at start), [`ServerTls`] (the identity
//! and which versions to offer), the rustls server configuration built from them, and what
//! each handshake negotiated ([`TlsFacts`], answered by `/tls`).
//!
//! Why a CA and a leaf rather than one self-signed leaf: the client then verifies a real
//! two-certificate chain (as against any public server), the CA certificate is what a test
//! writes to a file for `--cacert`, and the same kind of chain serves the wrong-name and
//! expired variants that the client's error tests need.
//!
//! The server offers TLS 1.2 and 1.3 (or 1.2 only), ALPN `http/1.1`, and resumption: TLS 1.3
//! stateless tickets (rustls' ring `Ticketer`) and a TLS 1.2 session cache.

use std::io;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The names of [`TlsIdentity::localhost`].
pub const LOCALHOST_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Sessions the TLS 1.2 server-side cache keeps.
const SESSION_CACHE_ENTRIES: usize = 4096;

/// A generated certificate authority, a server certificate it signed, and that
/// certificate's private key.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsIdentity {
    names: Vec<String>,
    ca_pem: String,
    cert_pem: String,
    ca_der: Vec<u8>,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

/// An rcgen failure while making an identity, saying which step failed.
fn failed(what: &str, e: rcgen::Error) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

/// Makes a certificate expired long ago: valid during the year 2000 only.
fn valid_in_2000_only(params: &mut CertificateParams) {
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2000, 12, 31);
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs.
        f.debug_struct("TlsIdentity")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// How long the generated certificates are valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Validity {
    /// From 1975 to 4096 (rcgen's defaults).
    Current,
    /// Only during the year 2000: expired.
    Expired,
}

impl TlsIdentity {
    /// A CA and a server certificate for `localhost`, `127.0.0.1` and `::1`.
    pub fn localhost() -> io::Result<TlsIdentity> {
        Self::for_names(&LOCALHOST_NAMES)
    }

    /// A CA and a server certificate valid for exactly `names` (DNS names or IP addresses).
    /// A name the client does not use gives a certificate for the wrong name.
    pub fn for_names(names: &[&str]) -> io::Result<TlsIdentity> {
        Self::generate(names, Validity::Current)
    }

    /// Like [`for_names`](Self::for_names), but the server certificate expired long ago
    /// (valid during the year 2000 only).
    pub fn expired(names: &[&str]) -> io::Result<TlsIdentity> {
        Self::generate(names, Validity::Expired)
    }

    /// One self-signed certificate for `names` that says it is a CA (basicConstraints
    /// CA:TRUE), as `openssl req -x509` makes: the server sends it alone, and it is its own
    /// [`ca_pem`](Self::ca_pem). `expired`: valid during the year 2000 only.
    pub fn self_signed_ca(names: &[&str], expired: bool) -> io::Result<TlsIdentity> {
        let key = KeyPair::generate().map_err(|e| failed("generating the key", e))?;
        let owned: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(owned.clone())
            .map_err(|e| failed("the certificate's names", e))?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("molotov-target"),
        );
        if expired {
            valid_in_2000_only(&mut params);
        }
        let cert = params
            .self_signed(&key)
            .map_err(|e| failed("signing the certificate", e))?;
        Ok(TlsIdentity::of(owned, &cert, &cert, &key))
    }

    /// The identity for `names`: `ca` signed `cert`, whose key is `key` (a self-signed
    /// certificate is its own `ca`).
    fn of(names: Vec<String>, ca: &Certificate, cert: &Certificate, key: &KeyPair) -> TlsIdentity {
        TlsIdentity {
            names,
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            ca_der: ca.der().to_vec(),
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        }
    }

    fn generate(names: &[&str], validity: Validity) -> io::Result<TlsIdentity> {
        let ca_key = KeyPair::generate().map_err(|e| failed("generating the CA key", e))?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())
            .map_err(|e| failed("the CA parameters", e))?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "molotov-target test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(|e| failed("signing the CA certificate", e))?;
        let issuer = Issuer::new(ca_params, ca_key);

        let owned: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let leaf_key = KeyPair::generate().map_err(|e| failed("generating the server key", e))?;
        let mut leaf_params = CertificateParams::new(owned.clone())
            .map_err(|e| failed("the server certificate's names", e))?;
        leaf_params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("molotov-target"),
        );
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf_params.use_authority_key_identifier_extension = true;
        if validity == Validity::Expired {
            valid_in_2000_only(&mut leaf_params);
        }
        let leaf_cert = leaf_params
            .signed_by(&leaf_key, &issuer)
            .map_err(|e| failed("signing the server certificate", e))?;
        Ok(TlsIdentity::of(owned, &ca_cert, &leaf_cert, &leaf_key))
    }

    /// The names the server certificate is valid for.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The CA certificate (PEM): what a client must trust (`--cacert FILE`).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The server certificate (PEM), as sent in the handshake before the CA's.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The chain the server sends: its certificate, then the CA's (unless it is its own).
    fn chain(&self) -> Vec<CertificateDer<'static>> {
        let mut chain = vec![CertificateDer::from(self.cert_der.clone())];
        if self.ca_der != self.cert_der {
            chain.push(CertificateDer::from(self.ca_der.clone()));
        }
        chain
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

/// TLS settings of a server (`ServerConfig::tls`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    /// The certificates and key.
    pub identity: TlsIdentity,
    /// Offer TLS 1.2 only (to test a client that insists on 1.3). Default false: 1.2 and 1.3.
    pub tls12_only: bool,
}

impl ServerTls {
    /// TLS 1.2 and 1.3 with a fresh identity for the localhost names.
    pub fn localhost() -> io::Result<ServerTls> {
        Ok(ServerTls::new(TlsIdentity::localhost()?))
    }

    /// TLS 1.2 and 1.3 with `identity`.
    pub fn new(identity: TlsIdentity) -> ServerTls {
        ServerTls {
            identity,
            tls12_only: false,
        }
    }

    /// The rustls configuration every thread of the server shares (public for tests that
    /// write a TLS server of their own, byte by byte).
    pub fn rustls_config(&self) -> io::Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&'static rustls::SupportedProtocolVersion] = if self.tls12_only {
            &[&rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        };
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(|e| io::Error::other(format!("TLS versions: {e}")))?
            .with_no_client_auth()
            .with_single_cert(self.identity.chain(), self.identity.key())
            .map_err(|e| io::Error::other(format!("TLS certificate: {e}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.session_storage =
            rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE_ENTRIES);
        config.ticketer = rustls::crypto::ring::Ticketer::new()
            .map_err(|e| io::Error::other(format!("TLS session tickets: {e}")))?;
        Ok(Arc::new(config))
    }
}

/// What a TLS connection negotiated, from the server's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsFacts {
    pub(crate) version: &'static str,
    pub(crate) cipher_suite: &'static str,
    pub(crate) sni: Option<String>,
    pub(crate) alpn: Option<String>,
    pub(crate) resumed: bool,
}

impl TlsFacts {
    pub(crate) fn of(connection: &rustls::ServerConnection) -> TlsFacts {
        let version = match connection.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_2) => "1.2",
            Some(rustls::ProtocolVersion::TLSv1_3) => "1.3",
            _ => "unknown",
        };
        TlsFacts {
            version,
            cipher_suite: connection
                .negotiated_cipher_suite()
                .and_then(|suite| suite.suite().as_str())
                .unwrap_or("unknown"),
            sni: connection.server_name().map(str::to_owned),
            alpn: connection
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            resumed: connection.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
        }
    }

    /// The `/tls` reply body.
    pub(crate) fn to_json(&self) -> String {
        serde_json::json!({
            "tls": true,
            "version": self.version,
            "cipher_suite": self.cipher_suite,
            "sni": self.sni,
            "alpn": self.alpn,
            "resumed": self.resumed,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_hold_a_ca_and_a_leaf_for_the_names() {
        let identity = TlsIdentity::localhost().unwrap();
        assert_eq!(identity.names(), &LOCALHOST_NAMES.map(str::to_owned));
        assert!(identity.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(
            identity
                .cert_pem()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        assert_ne!(identity.ca_pem(), identity.cert_pem());
        assert!(!format!("{identity:?}").contains("key_der"));
        // Each call generates fresh keys.
        assert_ne!(identity, TlsIdentity::localhost().unwrap());
        ServerTls::new(identity).rustls_config().unwrap();
        let expired = TlsIdentity::expired(&["localhost"]).unwrap();
        ServerTls::new(expired).rustls_config().unwrap();
    }

    #[test]
    fn bad_names_are_errors_not_panics() {
        let error = TlsIdentity::for_names(&["h\u{e9}llo.example"]).unwrap_err();
        assert!(error.to_string().contains("names"), "{error}");
    }
}
