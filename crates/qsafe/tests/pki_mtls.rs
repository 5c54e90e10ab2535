//! Mutual TLS (RFC 8446 §4.4.2, §4.4.3) between a rustls server and rustls clients with
//! certificates and keys a real `qsafe dev` issued from its PKI engine (OpenBao PKI API,
//! openbao.org/api-docs/secret/pki): ML-DSA-65 chains (RFC 9881) verified by rustls-webpki, the
//! seed-only PKCS#8 keys loaded by the aws-lc-rs provider, X25519MLKEM768 key exchange, and
//! client-certificate revocation through the engine's CRL (RFC 5280 §5).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "support/dev.rs"]
mod dev;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dev::{free_port, pq_client, start_dev};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct,
    DistinguishedName, NamedGroup, ProtocolVersion, RootCertStore, ServerConfig, ServerConnection,
    SignatureScheme, StreamOwned,
};
use serde_json::{Value, json};

/// The aws-lc-rs provider with X25519MLKEM768 preferred. The workspace builds rustls without
/// its `prefer-post-quantum` feature, so `default_provider()` lists X25519 first; a rustls
/// client then sends only an X25519 key share and a rustls server (which follows the client's
/// order) settles on X25519. This puts the hybrid group first, as `prefer-post-quantum` does.
fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider
        .kx_groups
        .sort_by_key(|g| g.name() != NamedGroup::X25519MLKEM768);
    assert_eq!(provider.kx_groups[0].name(), NamedGroup::X25519MLKEM768);
    Arc::new(provider)
}

/// The HTTP side: a dev server's `/v1/` API with the root token.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}/v1/{path}", self.base))
            .header("X-Vault-Token", "dev-root");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// `GET pki/crl` without a token (the CRL is public), DER.
    async fn crl(&self) -> CertificateRevocationListDer<'static> {
        let response = self
            .http
            .get(format!("{}/v1/pki/crl", self.base))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        let der = response.bytes().await.unwrap().to_vec();
        assert_eq!(der.first(), Some(&0x30), "the CRL is not DER");
        CertificateRevocationListDer::from(der)
    }
}

/// One `issue/:role` answer.
struct Issued {
    cert: CertificateDer<'static>,
    key_pem: String,
    serial: String,
}

impl Issued {
    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).unwrap()
    }
}

async fn issue(api: &Api, role: &str, body: Value) -> Issued {
    let data = &api.post(&format!("pki/issue/{role}"), body).await["data"];
    let pem = data["certificate"].as_str().unwrap();
    let cert = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let issuing = CertificateDer::from_pem_slice(data["issuing_ca"].as_str().unwrap().as_bytes());
    assert!(issuing.is_ok(), "{data}");
    assert_eq!(data["private_key_type"], "mldsa", "{data}");
    Issued {
        cert,
        key_pem: data["private_key"].as_str().unwrap().to_owned(),
        serial: data["serial_number"].as_str().unwrap().to_owned(),
    }
}

/// The CA, a server certificate for `localhost`/127.0.0.1 and two client certificates.
struct Pki {
    root: CertificateDer<'static>,
    server: Issued,
    alice: Issued,
    bob: Issued,
}

async fn set_up(api: &Api) -> Pki {
    api.post("sys/mounts/pki", json!({"type": "pki"})).await;
    let root = api
        .post(
            "pki/root/generate/internal",
            json!({"common_name": "qsafe mTLS test root", "ttl": "24h"}),
        )
        .await;
    let root_pem = root["data"]["certificate"].as_str().unwrap();
    let root = CertificateDer::from_pem_slice(root_pem.as_bytes()).unwrap();
    api.post(
        "pki/roles/server",
        json!({"allowed_domains": ["localhost"], "allow_bare_domains": true,
               "allow_localhost": true, "allow_ip_sans": true,
               "server_flag": true, "client_flag": false}),
    )
    .await;
    api.post(
        "pki/roles/client",
        json!({"allowed_domains": ["clients.qsafe.test"], "allow_subdomains": true,
               "allow_localhost": false, "allow_ip_sans": false,
               "server_flag": false, "client_flag": true}),
    )
    .await;
    let server = issue(
        api,
        "server",
        json!({"common_name": "localhost", "alt_names": "localhost",
               "ip_sans": "127.0.0.1", "ttl": "1h"}),
    )
    .await;
    let alice = issue(
        api,
        "client",
        json!({"common_name": "alice.clients.qsafe.test", "ttl": "1h"}),
    )
    .await;
    let bob = issue(
        api,
        "client",
        json!({"common_name": "bob.clients.qsafe.test", "ttl": "1h"}),
    )
    .await;
    Pki {
        root,
        server,
        alice,
        bob,
    }
}

fn roots(pki: &Pki) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add(pki.root.clone()).unwrap();
    Arc::new(roots)
}

/// Records the scheme of every TLS 1.3 CertificateVerify a verifier checks.
type Schemes = Arc<Mutex<Vec<SignatureScheme>>>;

#[derive(Debug)]
struct RecordClient(Arc<dyn ClientCertVerifier>, Schemes);

impl ClientCertVerifier for RecordClient {
    fn offer_client_auth(&self) -> bool {
        self.0.offer_client_auth()
    }
    fn client_auth_mandatory(&self) -> bool {
        self.0.client_auth_mandatory()
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0.verify_client_cert(end_entity, intermediates, now)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.1.lock().unwrap().push(dss.scheme);
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[derive(Debug)]
struct RecordServer(Arc<dyn ServerCertVerifier>, Schemes);

impl ServerCertVerifier for RecordServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.1.lock().unwrap().push(dss.scheme);
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A server requiring a client certificate from `pki`'s root, checked against `crl`.
fn server_config(
    pki: &Pki,
    crl: &CertificateRevocationListDer<'static>,
) -> (ServerConfig, Schemes) {
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(pki), provider())
        .with_crls([crl.clone()])
        // Defaults kept: the whole chain is checked and a certificate the CRL cannot speak for
        // (bad CRL signature, other issuer) is refused. Also refuse a CRL past its nextUpdate.
        .enforce_revocation_expiration()
        .build()
        .unwrap();
    let schemes = Schemes::default();
    let verifier = Arc::new(RecordClient(verifier, schemes.clone()));
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![pki.server.cert.clone()], pki.server.key())
        .unwrap();
    (config, schemes)
}

/// A client trusting `pki`'s root that presents `client`'s certificate (none if `None`).
fn client_config(pki: &Pki, client: Option<&Issued>) -> (ClientConfig, Schemes) {
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots(pki), provider())
            .build()
            .unwrap();
    let schemes = Schemes::default();
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots(pki));
    let mut config = match client {
        Some(client) => builder
            .with_client_auth_cert(vec![client.cert.clone()], client.key())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config
        .dangerous()
        .set_certificate_verifier(Arc::new(RecordServer(verifier, schemes.clone())));
    (config, schemes)
}

/// What one side saw of a connection that completed and carried data both ways.
struct Seen {
    group: Option<NamedGroup>,
    version: Option<ProtocolVersion>,
    peer: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seen")
            .field("group", &self.group)
            .field("version", &self.version)
            .field("peer_certificates", &self.peer.len())
            .finish()
    }
}

fn seen(conn: &rustls::CommonState) -> Seen {
    Seen {
        group: conn.negotiated_key_exchange_group().map(|g| g.name()),
        version: conn.protocol_version(),
        peer: conn
            .peer_certificates()
            .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
            .unwrap_or_default(),
    }
}

/// The rustls error behind an I/O error from a TLS stream.
fn tls_error(e: &std::io::Error) -> rustls::Error {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .cloned()
        .unwrap_or_else(|| rustls::Error::General(format!("not a TLS error: {e}")))
}

/// Reads `want.len()` bytes from `tls`; an error unless they are `want`.
fn expect_message(tls: &mut impl Read, want: &[u8]) -> std::io::Result<()> {
    let mut got = vec![0u8; want.len()];
    tls.read_exact(&mut got)?;
    if got != want {
        return Err(std::io::Error::other(format!(
            "expected {want:?}, received {got:?}"
        )));
    }
    Ok(())
}

/// Server: handshake, send a greeting, answer `ping` with `pong`.
fn serve(listener: &TcpListener, config: ServerConfig) -> Result<Seen, rustls::Error> {
    let (sock, _) = listener.accept().unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let conn = ServerConnection::new(Arc::new(config)).unwrap();
    let mut tls = StreamOwned::new(conn, sock);
    let result = (|| {
        tls.write_all(b"hello\n")?;
        tls.flush()?;
        expect_message(&mut tls, b"ping\n")?;
        tls.write_all(b"pong\n")?;
        tls.conn.send_close_notify();
        tls.flush()
    })();
    if let Err(e) = result {
        // The alert has been written; let the client read it before the socket goes (closing
        // with unread input would reset the connection under it).
        let _ = tls.sock.shutdown(Shutdown::Write);
        let _ = std::io::copy(&mut tls.sock, &mut std::io::sink());
        return Err(tls_error(&e));
    }
    Ok(seen(&tls.conn))
}

/// Client: handshake, read the greeting, send `ping`, read `pong`.
fn connect(port: u16, config: ClientConfig) -> Result<Seen, rustls::Error> {
    let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tls = StreamOwned::new(conn, sock);
    let result = (|| {
        expect_message(&mut tls, b"hello\n")?;
        tls.write_all(b"ping\n")?;
        tls.flush()?;
        expect_message(&mut tls, b"pong\n")
    })();
    result.map_err(|e: std::io::Error| tls_error(&e))?;
    Ok(seen(&tls.conn))
}

/// Both ends of one connection, each run on its own thread.
struct Handshake {
    server: Result<Seen, rustls::Error>,
    client: Result<Seen, rustls::Error>,
    server_saw: Vec<SignatureScheme>,
    client_saw: Vec<SignatureScheme>,
}

fn handshake(
    pki: &Pki,
    crl: &CertificateRevocationListDer<'static>,
    client: Option<&Issued>,
) -> Handshake {
    let (server_cfg, server_saw) = server_config(pki, crl);
    let (client_cfg, client_saw) = client_config(pki, client);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || serve(&listener, server_cfg));
    let client = connect(port, client_cfg);
    let server = server.join().unwrap();
    let server_saw = server_saw.lock().unwrap().clone();
    let client_saw = client_saw.lock().unwrap().clone();
    Handshake {
        server,
        client,
        server_saw,
        client_saw,
    }
}

/// A connection that must succeed: post-quantum on both layers, with `client`'s certificate.
fn assert_connects(pki: &Pki, crl: &CertificateRevocationListDer<'static>, client: &Issued) {
    let h = handshake(pki, crl, Some(client));
    let server = h.server.unwrap();
    let client_side = h.client.unwrap();
    for side in [&server, &client_side] {
        assert_eq!(side.group, Some(NamedGroup::X25519MLKEM768), "{side:?}");
        assert_eq!(side.version, Some(ProtocolVersion::TLSv1_3), "{side:?}");
    }
    assert_eq!(
        server.peer.first(),
        Some(&client.cert),
        "the client's certificate"
    );
    assert_eq!(
        client_side.peer.first(),
        Some(&pki.server.cert),
        "the server's certificate"
    );
    assert_eq!(
        h.server_saw,
        [SignatureScheme::ML_DSA_65],
        "client CertificateVerify"
    );
    assert_eq!(
        h.client_saw,
        [SignatureScheme::ML_DSA_65],
        "server CertificateVerify"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_with_qsafe_issued_ml_dsa_certificates_and_crl_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = start_dev(dir.path(), port);
    let api = Api {
        http: pq_client(&dir.path().join("ca.pem")),
        base: format!("https://127.0.0.1:{port}"),
    };
    let pki = set_up(&api).await;

    // The seed-only PKCS#8 keys load into aws-lc-rs as ML-DSA-65 signers.
    let provider = provider();
    for issued in [&pki.server, &pki.alice, &pki.bob] {
        assert!(issued.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let key = issued.key();
        assert!(matches!(key, PrivateKeyDer::Pkcs8(_)));
        let signer = provider.key_provider.load_private_key(key).unwrap();
        let scheme = signer.choose_scheme(&[SignatureScheme::ML_DSA_65]);
        assert_eq!(scheme.map(|s| s.scheme()), Some(SignatureScheme::ML_DSA_65));
        assert!(
            signer
                .choose_scheme(&[SignatureScheme::ML_DSA_44])
                .is_none()
        );
    }

    // Before revocation: the CRL lists nobody we care about, so both clients connect.
    let old_crl = api.crl().await;
    assert_connects(&pki, &old_crl, &pki.alice);
    assert_connects(&pki, &old_crl, &pki.bob);
    // Client authentication is required.
    let h = handshake(&pki, &old_crl, None);
    assert_eq!(
        h.server.unwrap_err(),
        rustls::Error::NoCertificatesPresented
    );
    assert_eq!(
        h.client.unwrap_err(),
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
    );

    // Revoke bob: the fresh CRL turns him away, alice still gets in.
    let revoked = api
        .post("pki/revoke", json!({"serial_number": pki.bob.serial}))
        .await;
    assert!(
        revoked["data"]["revocation_time"].as_i64().unwrap() > 0,
        "{revoked}"
    );
    let new_crl = api.crl().await;
    assert_ne!(new_crl, old_crl);
    assert_connects(&pki, &new_crl, &pki.alice);
    let h = handshake(&pki, &new_crl, Some(&pki.bob));
    assert_eq!(
        h.server.unwrap_err(),
        rustls::Error::InvalidCertificate(CertificateError::Revoked),
    );
    assert_eq!(
        h.client.unwrap_err(),
        rustls::Error::AlertReceived(AlertDescription::CertificateRevoked),
    );

    // The old CRL still lets bob in: the rejection came from the CRL and nothing else.
    assert_connects(&pki, &old_crl, &pki.bob);
}
