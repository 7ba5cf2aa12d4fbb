//! TLS for `https` origins: what the user asks for ([`TlsOptions`]: verify or not, a private
//! CA, the lowest protocol version), the rustls client configuration built from it
//! ([`TlsConnector`], one per process and shared by every client, so that sessions resume
//! across connections and across clients), what a connection negotiated ([`TlsInfo`]), and
//! how rustls failures become [`Error`] values with their own [`crate::ErrorKind`]s.
//!
//! Choices:
//! - rustls 0.23 with the `ring` provider (pure Rust and C/asm that `cc` builds; the default
//!   aws-lc-rs provider needs cmake and a longer build), TLS 1.2 and 1.3, ALPN `http/1.1`,
//!   SNI from the host (rustls sends none for IP addresses, as RFC 6066 requires).
//! - Trusted roots: Mozilla's set compiled in (`webpki-roots`), plus the certificates of
//!   `--cacert`. Compiled-in roots behave the same on every machine and in minimal
//!   containers without `/etc/ssl` (where load generators often run), and cost no file
//!   reads in the forked children; a private or corporate CA is added with `--cacert`.
//! - Session resumption: rustls' in-memory client session cache (256 servers, up to 8 TLS
//!   1.3 tickets per server), which lives in the `rustls::ClientConfig`; sharing one
//!   configuration per process is what lets a reconnecting client resume.
//! - The stream is futures-rustls' `TlsStream` over molotov-runtime's `TcpStream` (which
//!   implements the futures-io traits futures-rustls needs); see [`crate::client`] for how a
//!   client drives it.
//!
//! Error mapping (handshake and established connections alike):
//!
//! | rustls says | error kind |
//! | --- | --- |
//! | certificate `UnknownIssuer` | `tls_unknown_issuer` |
//! | certificate `NotValidForName` | `tls_name_mismatch` |
//! | any other certificate error, no certificate | `tls_bad_certificate` |
//! | a fatal alert during the handshake, incompatible peer, no ALPN protocol in common, EOF mid-handshake | `tls_handshake` |
//! | corrupt or unexpected messages, decryption failures, a fatal alert later on | `tls_protocol` |
//!
//! Resets and other socket errors keep their usual kinds (`reset`, `io`).

use std::io;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use molotov_runtime::net::TcpStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{AlertDescription, CertificateError, DigitallySignedStruct, RootCertStore};

use crate::error::{Error, Phase};

/// The ALPN protocol offered (and the only one accepted): HTTP/1.1.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum TlsVersion {
    /// TLS 1.2.
    #[default]
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    /// `"1.2"` or `"1.3"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        }
    }

    fn from_rustls(version: rustls::ProtocolVersion) -> Option<TlsVersion> {
        match version {
            rustls::ProtocolVersion::TLSv1_2 => Some(TlsVersion::Tls12),
            rustls::ProtocolVersion::TLSv1_3 => Some(TlsVersion::Tls13),
            _ => None,
        }
    }
}

impl std::fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TLS {}", self.as_str())
    }
}

/// The text of a version that is not `1.2` or `1.3`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown TLS version {0:?}: expected 1.2 or 1.3")]
pub struct UnknownTlsVersion(pub String);

impl FromStr for TlsVersion {
    type Err = UnknownTlsVersion;

    /// Accepts `1.2`, `1.3`, and the same with a `tls`, `tlsv` or `TLSv` prefix.
    fn from_str(text: &str) -> Result<TlsVersion, UnknownTlsVersion> {
        let lower = text.trim().to_ascii_lowercase();
        let bare = lower
            .strip_prefix("tlsv")
            .or_else(|| lower.strip_prefix("tls"))
            .unwrap_or(&lower);
        match bare {
            "1.2" => Ok(TlsVersion::Tls12),
            "1.3" => Ok(TlsVersion::Tls13),
            _ => Err(UnknownTlsVersion(text.to_owned())),
        }
    }
}

/// How `https` connections are made and verified. Plain data: cheap to clone and compare.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TlsOptions {
    /// Accept any server certificate (`--insecure`): no chain, name or date checks. The
    /// handshake signatures are still checked, so the server must hold the key of the
    /// certificate it sends. `ca_file` is then not read. Default false.
    pub insecure: bool,
    /// A PEM file of certificates to trust in addition to the compiled-in roots
    /// (`--cacert`), e.g. a private CA. Default none.
    pub ca_file: Option<PathBuf>,
    /// The lowest protocol version offered (`--tls-min`). Default TLS 1.2.
    pub min_version: TlsVersion,
}

/// What an established TLS connection negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// The protocol version.
    pub version: TlsVersion,
    /// The cipher suite, as IANA names it (e.g. `TLS13_AES_256_GCM_SHA384`).
    pub cipher_suite: &'static str,
    /// The application protocol the server chose (`http/1.1`), if it took part in ALPN.
    pub alpn: Option<Vec<u8>>,
    /// Whether the handshake resumed an earlier session.
    pub resumed: bool,
}

/// The TLS client configuration of a process: trusted roots (or none checked), versions,
/// ALPN and the session cache. Cloning shares it (an `Arc`).
///
/// Build one per process and give it to every [`crate::Client`] of that process
/// ([`Client::with_tls`](crate::Client::with_tls)); a client that was given none uses
/// [`TlsConnector::shared`] for its `ClientConfig::tls` at its first `https` connect, which
/// is also one per process.
#[derive(Clone)]
pub struct TlsConnector {
    config: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector")
            .field("alpn", &self.config.alpn_protocols)
            .field("resumption", &self.config.resumption)
            .finish_non_exhaustive()
    }
}

/// The process-wide connectors of [`TlsConnector::shared`], one per distinct options.
static SHARED: Mutex<Vec<(TlsOptions, TlsConnector)>> = Mutex::new(Vec::new());

impl TlsConnector {
    /// Builds a configuration from `options`: reads and checks the CA file, if any. Fails
    /// with [`Error::TlsConfig`] when the file cannot be read or holds no usable
    /// certificate. Call it once (a process, or the master before forking, to report a bad
    /// file early) and share the result.
    pub fn new(options: &TlsOptions) -> Result<TlsConnector, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&'static rustls::SupportedProtocolVersion] = match options.min_version {
            TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
            TlsVersion::Tls13 => &[&rustls::version::TLS13],
        };
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(versions)
            .map_err(|e| Error::TlsConfig(e.to_string()))?;
        let mut config = if options.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification {
                    algorithms: provider.signature_verification_algorithms,
                }))
                .with_no_client_auth()
        } else {
            let mut roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let pinned = match &options.ca_file {
                Some(path) => add_ca_file(&mut roots, path)?,
                None => Vec::new(),
            };
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                Arc::clone(&provider),
            )
            .build()
            .map_err(|e| Error::TlsConfig(e.to_string()))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(CaFileVerifier { webpki, pinned }))
                .with_no_client_auth()
        };
        config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        Ok(TlsConnector {
            config: Arc::new(config),
        })
    }

    /// The connector of this process for `options`: built at the first call, the same one
    /// (same session cache) for every later call with equal options. This is what a
    /// [`crate::Client`] without [`with_tls`](crate::Client::with_tls) uses. A failure is not
    /// remembered: the next call tries again.
    pub fn shared(options: &TlsOptions) -> Result<TlsConnector, Error> {
        let mut shared = SHARED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, connector)) = shared.iter().find(|(o, _)| o == options) {
            return Ok(connector.clone());
        }
        let connector = TlsConnector::new(options)?;
        shared.push((options.clone(), connector.clone()));
        Ok(connector)
    }

    /// Uses a rustls configuration built elsewhere (its ALPN, roots and session cache are
    /// taken as they are).
    pub fn from_rustls(config: Arc<rustls::ClientConfig>) -> TlsConnector {
        TlsConnector { config }
    }

    /// The rustls configuration.
    pub fn rustls_config(&self) -> &Arc<rustls::ClientConfig> {
        &self.config
    }

    /// Runs the client handshake on a connected stream.
    pub(crate) async fn handshake(
        &self,
        server_name: ServerName<'static>,
        stream: TcpStream,
    ) -> io::Result<futures_rustls::client::TlsStream<TcpStream>> {
        futures_rustls::TlsConnector::from(Arc::clone(&self.config))
            .connect(server_name, stream)
            .await
    }
}

/// The name a certificate must match for `host` (an IP literal or a DNS name).
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(host.to_owned()).map_err(|_| {
        Error::TlsConfig(format!(
            "host {host:?} is not a valid TLS server name (DNS name or IP address)"
        ))
    })
}

/// CA files larger than this are refused: a PEM bundle of every public CA is about 200 KiB,
/// and a bigger file (or an endless one, `/dev/zero`) is the wrong file.
pub const MAX_CA_FILE_BYTES: u64 = 16 << 20;

/// Reads the CA file at `path` as the plan reader reads a plan (molotov-dsl's
/// `read_limited`, which this crate does not depend on): a named pipe or a socket is refused
/// without being opened (opening a pipe waits for a writer), and a file is read up to
/// [`MAX_CA_FILE_BYTES`] and one byte more, so that a longer or endless one is refused
/// without being read whole. The error is the reason, for a message.
fn read_ca_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let kind = meta.file_type();
        if kind.is_fifo() {
            return Err("it is a named pipe (FIFO), not a file".into());
        }
        if kind.is_socket() {
            return Err("it is a socket, not a file".into());
        }
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_CA_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_CA_FILE_BYTES {
        return Err(format!("it is larger than {} MiB", MAX_CA_FILE_BYTES >> 20));
    }
    Ok(bytes)
}

/// Adds every certificate of the PEM file at `path` to `roots`; returns them.
fn add_ca_file(
    roots: &mut RootCertStore,
    path: &std::path::Path,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let shown = path.display();
    let pem = read_ca_file(path)
        .map_err(|why| Error::TlsConfig(format!("cannot read the CA file {shown}: {why}")))?;
    let mut added = Vec::new();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| {
            Error::TlsConfig(format!(
                "the CA file {shown} is not valid PEM: {}",
                pem_problem(&e, &pem)
            ))
        })?;
        roots.add(cert.clone()).map_err(|e| {
            let line = begin_line(&pem, added.len())
                .map_or(String::new(), |n| format!(" (the block at line {n})"));
            let why = match e {
                rustls::Error::InvalidCertificate(CertificateError::BadEncoding) => {
                    "its base64 text decodes, but not to an X.509 certificate".to_string()
                }
                rustls::Error::InvalidCertificate(other) => format!("{other:?}"),
                other => other.to_string(),
            };
            Error::TlsConfig(format!(
                "the CA file {shown}: certificate {}{line} cannot be a trust anchor: {why}",
                added.len() + 1
            ))
        })?;
        added.push(cert);
    }
    if added.is_empty() {
        return Err(Error::TlsConfig(format!(
            "the CA file {shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        )));
    }
    Ok(added)
}

/// What is wrong with a PEM file, in words (the parser's own messages show byte lists and
/// enum names: `missing section end marker: [67, 69, ...]`, `InvalidCharacter(33)`).
fn pem_problem(error: &rustls::pki_types::pem::Error, pem: &[u8]) -> String {
    use rustls::pki_types::pem::Error as Pem;
    match error {
        Pem::MissingSectionEnd { end_marker } => {
            let label = String::from_utf8_lossy(end_marker);
            format!(
                "a `-----BEGIN {label}-----` block has no `-----END {label}-----` line (is the \
                 file cut short?)"
            )
        }
        Pem::IllegalSectionStart { line } => {
            let text = String::from_utf8_lossy(line);
            let at = pem
                .split(|&b| b == b'\n')
                .position(|l| l.strip_suffix(b"\r").unwrap_or(l) == line.as_slice())
                .map_or(String::new(), |i| format!("line {}: ", i + 1));
            format!("{at}a malformed block start `{}`", text.trim())
        }
        Pem::Base64Decode(_) => match first_bad_base64(pem) {
            Some((line, column, c)) => format!(
                "line {line}, column {column}: {c:?} is not base64 (a block holds base64 text \
                 between its BEGIN and END lines)"
            ),
            None => "a block's base64 text does not decode (cut short, or lines lost?)".into(),
        },
        other => other.to_string(),
    }
}

/// The first character inside a `-----BEGIN`/`-----END` block that base64 does not have:
/// (line, column, character), both counted from 1.
fn first_bad_base64(pem: &[u8]) -> Option<(usize, usize, char)> {
    let text = String::from_utf8_lossy(pem);
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.starts_with("-----BEGIN") {
            inside = true;
        } else if line.starts_with("-----END") {
            inside = false;
        } else if inside {
            let bad = line.char_indices().find(|&(_, c)| {
                !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | ' ' | '\t'))
            });
            if let Some((at, c)) = bad {
                return Some((i + 1, line[..at].chars().count() + 1, c));
            }
        }
    }
    None
}

/// The line (from 1) of the `index`th (from 0) `-----BEGIN` line of a PEM file.
fn begin_line(pem: &[u8], index: usize) -> Option<usize> {
    pem.split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| l.starts_with(b"-----BEGIN"))
        .nth(index)
        .map(|(i, _)| i + 1)
}

/// The verifier of a verifying client: rustls' own (webpki: Mozilla's roots and the CA
/// file's certificates as trust anchors), and one more way in: a server certificate that is
/// itself one of the CA file's certificates, byte for byte, is trusted as it is, once its
/// name and dates are checked. That is a self-signed certificate given with `--cacert`:
/// webpki refuses one that says it is a CA (`CaUsedAsEndEntity`), and `openssl req -x509`
/// makes exactly that, which curl and browsers accept once told to trust it. The handshake's
/// signatures are verified as always: the server must hold the certificate's key.
#[derive(Debug)]
struct CaFileVerifier {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    /// The certificates of `--cacert`.
    pinned: Vec<CertificateDer<'static>>,
}

impl CaFileVerifier {
    /// The checks of a server certificate trusted as it is: the name, then the dates.
    fn verify_pinned(
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        let (not_before, not_after) = crate::cert_dates::validity(end_entity).ok_or(
            rustls::Error::InvalidCertificate(CertificateError::BadEncoding),
        )?;
        let now_secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        let at = |secs: i64| {
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs.max(0) as u64))
        };
        if now_secs < not_before {
            return Err(CertificateError::NotValidYetContext {
                time: now,
                not_before: at(not_before),
            }
            .into());
        }
        if now_secs > not_after {
            return Err(CertificateError::ExpiredContext {
                time: now,
                not_after: at(not_after),
            }
            .into());
        }
        Ok(ServerCertVerified::assertion())
    }
}

impl ServerCertVerifier for CaFileVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(_)
                if self
                    .pinned
                    .iter()
                    .any(|c| c.as_ref() == end_entity.as_ref()) =>
            {
                Self::verify_pinned(end_entity, server_name, now)
            }
            verdict => verdict,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// What `--insecure` installs: every certificate is accepted, handshake signatures are
/// still verified (with the provider's algorithms).
#[derive(Debug)]
struct NoVerification {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// What an established connection negotiated.
pub(crate) fn info(connection: &rustls::ClientConnection) -> Option<TlsInfo> {
    let version = TlsVersion::from_rustls(connection.protocol_version()?)?;
    let cipher_suite = connection
        .negotiated_cipher_suite()
        .and_then(|suite| suite.suite().as_str())
        .unwrap_or("unknown");
    Some(TlsInfo {
        version,
        cipher_suite,
        alpn: connection.alpn_protocol().map(<[u8]>::to_vec),
        resumed: connection.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
    })
}

/// Classifies an I/O error from the TLS stream (handshake or established connection):
/// rustls failures become the TLS kinds, an EOF in the handshake is `tls_handshake`,
/// anything else is classified like a plain socket error.
pub(crate) fn classify(server: &str, phase: Phase, error: io::Error) -> Error {
    if let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return from_rustls(server, phase == Phase::TlsHandshake, tls);
    }
    if phase == Phase::TlsHandshake && error.kind() == io::ErrorKind::UnexpectedEof {
        return Error::TlsHandshake {
            server: server.to_owned(),
            reason: "the server closed the connection in the middle of the handshake".to_owned(),
        };
    }
    Error::from_io(phase, error)
}

/// Maps one rustls error (see the module table).
pub(crate) fn from_rustls(server: &str, in_handshake: bool, error: &rustls::Error) -> Error {
    let server = server.to_owned();
    match error {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            CertificateError::UnknownIssuer => Error::TlsUnknownIssuer {
                server,
                reason: "its chain ends at an unknown issuer".to_owned(),
            },
            CertificateError::BadSignature => Error::TlsUnknownIssuer {
                server,
                reason: "it is not signed by the key of the issuer it names".to_owned(),
            },
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Error::TlsNameMismatch {
                    server,
                    reason: name_mismatch(certificate),
                }
            }
            CertificateError::Other(other)
                if matches!(
                    other.0.downcast_ref::<webpki::Error>(),
                    Some(webpki::Error::CaUsedAsEndEntity)
                ) =>
            {
                Error::TlsBadCertificate {
                    server,
                    reason: "it is a CA certificate (basicConstraints CA:TRUE, as `openssl req \
                             -x509` makes), sent as the server's own; if it is your self-signed \
                             certificate, trust it with --cacert FILE"
                        .to_owned(),
                }
            }
            CertificateError::Other(other) => Error::TlsBadCertificate {
                server,
                reason: other.0.to_string(),
            },
            other => Error::TlsBadCertificate {
                server,
                reason: other.to_string(),
            },
        },
        rustls::Error::NoCertificatesPresented => Error::TlsBadCertificate {
            server,
            reason: "the server presented no certificate".to_owned(),
        },
        rustls::Error::AlertReceived(alert) if in_handshake => Error::TlsHandshake {
            server,
            reason: format!(
                "the server refused it with the alert {}",
                alert_name(*alert)
            ),
        },
        rustls::Error::AlertReceived(alert) => Error::TlsProtocol {
            server,
            reason: format!("the server sent the fatal alert {}", alert_name(*alert)),
        },
        rustls::Error::PeerIncompatible(_)
        | rustls::Error::NoApplicationProtocol
        | rustls::Error::UnsupportedNameType => Error::TlsHandshake {
            server,
            reason: error.to_string(),
        },
        rustls::Error::InvalidMessage(_) if in_handshake => Error::TlsProtocol {
            server,
            reason: format!("{error} (is the server speaking TLS on this port?)"),
        },
        _ => Error::TlsProtocol {
            server,
            reason: error.to_string(),
        },
    }
}

/// Which name was expected and which the certificate holds, plainly: rustls lists the
/// certificate's names in webpki's Debug form (`DnsName("wrong.example")`,
/// `IpAddress(10.0.0.1)`).
fn name_mismatch(certificate: &CertificateError) -> String {
    let CertificateError::NotValidForNameContext {
        expected,
        presented,
    } = certificate
    else {
        return "the certificate is not valid for the name the request went to".to_owned();
    };
    let expected = expected.to_str();
    let names: Vec<String> = presented.iter().map(|n| plain_name(n)).collect();
    match names.as_slice() {
        [] => format!(
            "the certificate is not valid for {expected:?}; it names no host (no DNS name or \
             IP address in its subjectAltName extension)"
        ),
        [one] => {
            format!("the certificate is not valid for {expected:?}; it is only valid for {one}")
        }
        [first @ .., last] => format!(
            "the certificate is not valid for {expected:?}; it is only valid for {} or {last}",
            first.join(", ")
        ),
    }
}

/// `DnsName("a.example")` is `a.example`, `IpAddress(10.0.0.1)` is `10.0.0.1`; a name of
/// another kind keeps its kind (`UniformResourceIdentifier(...)` is `URI ...`).
fn plain_name(debug: &str) -> String {
    let Some((kind, rest)) = debug.split_once('(') else {
        return debug.to_owned();
    };
    let Some(inner) = rest.strip_suffix(')') else {
        return debug.to_owned();
    };
    let inner = inner
        .strip_prefix('"')
        .and_then(|i| i.strip_suffix('"'))
        .unwrap_or(inner);
    match kind {
        "DnsName" | "IpAddress" => inner.to_owned(),
        "UniformResourceIdentifier" => format!("URI {inner}"),
        _ => debug.to_owned(),
    }
}

/// The RFC 8446 name of an alert (`handshake_failure`, `unknown_ca`...).
pub fn alert_name(alert: AlertDescription) -> String {
    let name = match alert {
        AlertDescription::CloseNotify => "close_notify",
        AlertDescription::UnexpectedMessage => "unexpected_message",
        AlertDescription::BadRecordMac => "bad_record_mac",
        AlertDescription::DecryptionFailed => "decryption_failed",
        AlertDescription::RecordOverflow => "record_overflow",
        AlertDescription::DecompressionFailure => "decompression_failure",
        AlertDescription::HandshakeFailure => "handshake_failure",
        AlertDescription::NoCertificate => "no_certificate",
        AlertDescription::BadCertificate => "bad_certificate",
        AlertDescription::UnsupportedCertificate => "unsupported_certificate",
        AlertDescription::CertificateRevoked => "certificate_revoked",
        AlertDescription::CertificateExpired => "certificate_expired",
        AlertDescription::CertificateUnknown => "certificate_unknown",
        AlertDescription::IllegalParameter => "illegal_parameter",
        AlertDescription::UnknownCA => "unknown_ca",
        AlertDescription::AccessDenied => "access_denied",
        AlertDescription::DecodeError => "decode_error",
        AlertDescription::DecryptError => "decrypt_error",
        AlertDescription::ExportRestriction => "export_restriction",
        AlertDescription::ProtocolVersion => "protocol_version",
        AlertDescription::InsufficientSecurity => "insufficient_security",
        AlertDescription::InternalError => "internal_error",
        AlertDescription::InappropriateFallback => "inappropriate_fallback",
        AlertDescription::UserCanceled => "user_canceled",
        AlertDescription::NoRenegotiation => "no_renegotiation",
        AlertDescription::MissingExtension => "missing_extension",
        AlertDescription::UnsupportedExtension => "unsupported_extension",
        AlertDescription::CertificateUnobtainable => "certificate_unobtainable",
        AlertDescription::UnrecognisedName => "unrecognized_name",
        AlertDescription::BadCertificateStatusResponse => "bad_certificate_status_response",
        AlertDescription::BadCertificateHashValue => "bad_certificate_hash_value",
        AlertDescription::UnknownPSKIdentity => "unknown_psk_identity",
        AlertDescription::CertificateRequired => "certificate_required",
        AlertDescription::NoApplicationProtocol => "no_application_protocol",
        AlertDescription::EncryptedClientHelloRequired => "encrypted_client_hello_required",
        other => return format!("{}", u8::from(other)),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn versions_parse() {
        for (text, expected) in [
            ("1.2", TlsVersion::Tls12),
            ("1.3", TlsVersion::Tls13),
            ("TLSv1.3", TlsVersion::Tls13),
            ("tls1.2", TlsVersion::Tls12),
            (" 1.3 ", TlsVersion::Tls13),
        ] {
            assert_eq!(text.parse::<TlsVersion>(), Ok(expected), "{text}");
        }
        for bad in ["", "1.1", "1.0", "3", "tls", "1.3.0", "ssl3"] {
            let err = bad.parse::<TlsVersion>().unwrap_err();
            assert!(
                err.to_string().contains("expected 1.2 or 1.3"),
                "{bad}: {err}"
            );
        }
        assert!(TlsVersion::Tls12 < TlsVersion::Tls13);
        assert_eq!(TlsVersion::Tls13.to_string(), "TLS 1.3");
    }

    #[test]
    fn a_name_mismatch_lists_the_names_plainly() {
        use rustls::pki_types::ServerName;
        let mismatch = |expected: &str, presented: &[&str]| {
            let error: rustls::Error = CertificateError::NotValidForNameContext {
                expected: ServerName::try_from(expected.to_owned()).unwrap(),
                presented: presented.iter().map(|p| p.to_string()).collect(),
            }
            .into();
            let mapped = from_rustls("h:443", true, &error);
            assert_eq!(mapped.kind(), ErrorKind::TlsNameMismatch);
            mapped.to_string()
        };
        // rustls said `certificate is only valid for DnsName("wrong.example")`.
        assert_eq!(
            mismatch("127.0.0.1", &["DnsName(\"wrong.example\")"]),
            "TLS: the certificate of h:443 does not match its name: the certificate is not \
             valid for \"127.0.0.1\"; it is only valid for wrong.example"
        );
        let text = mismatch(
            "a.example",
            &[
                "DnsName(\"b.example\")",
                "DnsName(\"*.c.example\")",
                "IpAddress(10.0.0.1)",
                "IpAddress(::1)",
            ],
        );
        assert!(
            text.ends_with(
                "not valid for \"a.example\"; it is only valid for b.example, *.c.example, \
                 10.0.0.1 or ::1"
            ),
            "{text}"
        );
        assert!(
            !text.contains("DnsName") && !text.contains("IpAddress"),
            "{text}"
        );
        assert!(mismatch("a.example", &[]).ends_with(
            "it names no host (no DNS name or IP address in its subjectAltName extension)"
        ));
        assert_eq!(plain_name("Unsupported(0x81)"), "Unsupported(0x81)");
        assert_eq!(plain_name("UniformResourceIdentifier(\"u:x\")"), "URI u:x");
    }

    #[test]
    fn rustls_errors_map_to_kinds() {
        use rustls::{InvalidMessage, PeerIncompatible, PeerMisbehaved};
        let cases: Vec<(rustls::Error, bool, ErrorKind)> = vec![
            (
                CertificateError::UnknownIssuer.into(),
                true,
                ErrorKind::TlsUnknownIssuer,
            ),
            (
                CertificateError::BadSignature.into(),
                true,
                ErrorKind::TlsUnknownIssuer,
            ),
            (
                CertificateError::NotValidForName.into(),
                true,
                ErrorKind::TlsNameMismatch,
            ),
            (
                CertificateError::Expired.into(),
                true,
                ErrorKind::TlsBadCertificate,
            ),
            (
                CertificateError::NotValidYet.into(),
                true,
                ErrorKind::TlsBadCertificate,
            ),
            (
                CertificateError::Revoked.into(),
                true,
                ErrorKind::TlsBadCertificate,
            ),
            (
                rustls::Error::NoCertificatesPresented,
                true,
                ErrorKind::TlsBadCertificate,
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::HandshakeFailure),
                true,
                ErrorKind::TlsHandshake,
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::InternalError),
                false,
                ErrorKind::TlsProtocol,
            ),
            (
                rustls::Error::PeerIncompatible(PeerIncompatible::Tls12NotOffered),
                true,
                ErrorKind::TlsHandshake,
            ),
            (
                rustls::Error::NoApplicationProtocol,
                true,
                ErrorKind::TlsHandshake,
            ),
            (
                rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType),
                true,
                ErrorKind::TlsProtocol,
            ),
            (rustls::Error::DecryptError, false, ErrorKind::TlsProtocol),
            (
                rustls::Error::PeerMisbehaved(PeerMisbehaved::TooManyKeyUpdateRequests),
                false,
                ErrorKind::TlsProtocol,
            ),
        ];
        for (error, in_handshake, kind) in cases {
            let mapped = from_rustls("h:443", in_handshake, &error);
            assert_eq!(mapped.kind(), kind, "{error:?} -> {mapped}");
            assert!(mapped.to_string().contains("h:443"), "{mapped}");
        }
    }

    #[test]
    fn alerts_are_named_as_the_rfc_does() {
        let error = from_rustls(
            "h:443",
            true,
            &rustls::Error::AlertReceived(AlertDescription::ProtocolVersion),
        );
        assert!(
            error
                .to_string()
                .contains("the server refused it with the alert protocol_version"),
            "{error}"
        );
        assert_eq!(alert_name(AlertDescription::UnknownCA), "unknown_ca");
        assert_eq!(alert_name(AlertDescription::Unknown(200)), "200");
    }

    #[test]
    fn io_errors_are_classified_by_what_they_carry() {
        let wrapped = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::from(CertificateError::UnknownIssuer),
        );
        assert_eq!(
            classify("h:443", Phase::TlsHandshake, wrapped).kind(),
            ErrorKind::TlsUnknownIssuer
        );
        let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "tls handshake eof");
        assert_eq!(
            classify("h:443", Phase::TlsHandshake, eof).kind(),
            ErrorKind::TlsHandshake
        );
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(
            classify("h:443", Phase::TlsHandshake, reset).kind(),
            ErrorKind::Reset
        );
        let other = io::Error::from(io::ErrorKind::PermissionDenied);
        assert_eq!(classify("h:443", Phase::Read, other).kind(), ErrorKind::Io);
    }

    #[test]
    fn bad_ca_files_are_config_errors() {
        let dir = std::env::temp_dir().join(format!("molotov-http-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let garbage = dir.join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        // Cut before its END line, and a stray character (the messages once showed the
        // parser's byte list of "CERTIFICATE" and `InvalidCharacter(33)`).
        let cut = dir.join("cut.pem");
        std::fs::write(&cut, "-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap();
        let bad_base64 = dir.join("bad64.pem");
        std::fs::write(
            &bad_base64,
            "# a comment line\n-----BEGIN CERTIFICATE-----\nAA!A\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        // A named pipe (opening it used to wait for a writer for ever), an endless file and
        // a large one (both used to be read until memory ran out).
        let fifo = dir.join("fifo.pem");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let large = dir.join("large.pem");
        std::fs::File::create(&large)
            .unwrap()
            .set_len(MAX_CA_FILE_BYTES + 1)
            .unwrap();
        for (path, needle) in [
            (dir.join("missing.pem"), "cannot read the CA file"),
            (empty, "holds no PEM certificate"),
            (
                garbage,
                "garbage.pem: certificate 1 (the block at line 1) cannot be a trust anchor: its \
                 base64 text decodes, but not to an X.509 certificate",
            ),
            (
                cut,
                "cut.pem is not valid PEM: a `-----BEGIN CERTIFICATE-----` block has no \
                 `-----END CERTIFICATE-----` line (is the file cut short?)",
            ),
            (
                bad_base64,
                "bad64.pem is not valid PEM: line 3, column 3: '!' is not base64",
            ),
            (fifo, "fifo.pem: it is a named pipe (FIFO), not a file"),
            (
                std::path::PathBuf::from("/dev/zero"),
                "cannot read the CA file /dev/zero: it is larger than 16 MiB",
            ),
            (large, "large.pem: it is larger than 16 MiB"),
        ] {
            let options = TlsOptions {
                ca_file: Some(path.clone()),
                ..TlsOptions::default()
            };
            let error = TlsConnector::new(&options).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{error}");
            assert!(error.to_string().contains(needle), "{path:?}: {error}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn shared_connectors_are_one_per_options() {
        let a = TlsConnector::shared(&TlsOptions::default()).unwrap();
        let b = TlsConnector::shared(&TlsOptions::default()).unwrap();
        assert!(Arc::ptr_eq(a.rustls_config(), b.rustls_config()));
        let insecure = TlsOptions {
            insecure: true,
            ..TlsOptions::default()
        };
        let c = TlsConnector::shared(&insecure).unwrap();
        assert!(!Arc::ptr_eq(a.rustls_config(), c.rustls_config()));
        assert_eq!(a.rustls_config().alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn server_names_from_hosts() {
        assert!(matches!(
            server_name("127.0.0.1"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(server_name("::1"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(
            server_name("example.com"),
            Ok(ServerName::DnsName(_))
        ));
        let error = server_name("bad host").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    }
}
