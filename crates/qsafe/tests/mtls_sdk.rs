//! The SDK's mTLS against a real `qsafe dev`: services bootstrapped with workload join tokens
//! get ML-DSA-65 SPIFFE certificates (keys made in the process), serve and call each other over
//! TLS 1.3 with X25519MLKEM768, admit only named peers on guarded routes, refuse clients
//! without a certificate or with a revoked one at the handshake (counted), and rotate short
//! certificates under load with no failed request.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "../../qsafe-identity/tests/engine/cluster.rs"]
mod cluster;
#[path = "support/dev.rs"]
mod dev;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::routing::get;
use dev::{free_port, pq_client, start_dev};
use qsafe_client::mtls::{AllowPeers, MtlsOptions, PeerIdentity, Side, serve};
use qsafe_client::{Bootstrap, CertificateProvider, Client, Config};
use rustls::NamedGroup;
use serde_json::{Value, json};
use zeroize::Zeroizing;

struct Dev {
    _dir: tempfile::TempDir,
    _server: dev::Server,
    port: u16,
    http: reqwest::Client,
}

impl Dev {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let server = start_dev(dir.path(), port);
        let http = pq_client(&dir.path().join("ca.pem"));
        Self {
            _dir: dir,
            _server: server,
            port,
            http,
        }
    }

    fn ca(&self) -> &Path {
        self._dir.path()
    }

    async fn admin(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("https://127.0.0.1:{}/v1/{path}", self.port))
            .header("X-Vault-Token", "dev-root")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// A PKI mount with a root and the `workload` role, and workloads `names` with
    /// certificates of `cert_ttl`.
    async fn workloads(&self, names: &[&str], cert_ttl: &str) {
        self.admin("sys/mounts/pki", json!({"type": "pki"})).await;
        self.admin(
            "pki/root/generate/internal",
            json!({"common_name": "mesh root", "ttl": "8760h"}),
        )
        .await;
        self.admin(
            "pki/roles/workload",
            json!({"allowed_uri_sans": ["spiffe://qsafe.local/*"], "require_cn": false,
                   "key_type": "any", "server_flag": true, "client_flag": true,
                   "max_ttl": "24h", "not_before_duration": "5s"}),
        )
        .await;
        for name in names {
            self.admin(
                &format!("identity/workload/{name}"),
                json!({"namespace": "shop", "audiences": ["qsafe"], "pki_mount": "pki",
                       "cert_ttl": cert_ttl}),
            )
            .await;
        }
    }

    /// A started provider for workload `name`, bootstrapped with a fresh join token.
    async fn provider(&self, name: &str, options: MtlsOptions) -> CertificateProvider {
        let join = self
            .admin(&format!("identity/workload/{name}/join-token"), json!({}))
            .await["data"]["join_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let client = Client::new(Config {
            addr: format!("https://127.0.0.1:{}", self.port),
            token: None,
            ca_cert: Some(self.ca().join("ca.pem")),
        })
        .unwrap();
        let bootstrap = Bootstrap::JoinToken {
            provider: "default".into(),
            token: Zeroizing::new(join),
        };
        CertificateProvider::start(client, bootstrap, options)
            .await
            .unwrap()
    }
}

fn spiffe(name: &str) -> String {
    format!("spiffe://qsafe.local/ns/shop/sa/{name}")
}

/// Serves a router on a free port with `provider`: `/whoami` answers the caller's name and
/// certificate serial, `/gateway-only` does the same for the gateway alone.
fn start_service(provider: &CertificateProvider) -> (SocketAddr, axum_server::Handle<SocketAddr>) {
    async fn whoami(Extension(peer): Extension<PeerIdentity>) -> String {
        format!("{} {}", peer.name(), peer.serial)
    }
    let router = axum::Router::new().route("/whoami", get(whoami)).merge(
        axum::Router::new()
            .route("/gateway-only", get(whoami))
            .route_layer(AllowPeers::new([spiffe("gateway")])),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = axum_server::Handle::new();
    let (provider, h) = (provider.clone(), handle.clone());
    tokio::spawn(async move { serve(listener, router, &provider, h).await.unwrap() });
    (addr, handle)
}

/// One handshake with `config` to `addr` on a blocking thread: the key exchange group and
/// the server's certificate, or the error.
async fn handshake(
    config: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
) -> Result<(NamedGroup, Vec<u8>), String> {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read as _, Write as _};
        let name = rustls::pki_types::ServerName::try_from("users-api").unwrap();
        let mut conn = rustls::ClientConnection::new(config, name).unwrap();
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
        tls.write_all(b"GET /whoami HTTP/1.1\r\nhost: users-api\r\nconnection: close\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        tls.read_to_end(&mut answer).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&answer);
        if !text.starts_with("HTTP/1.1 200") {
            return Err(text.into_owned());
        }
        let group = conn.negotiated_key_exchange_group().unwrap().name();
        let cert = conn.peer_certificates().unwrap()[0].to_vec();
        Ok((group, cert))
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_talk_over_pq_mtls_admit_named_peers_and_refuse_bad_certificates() {
    let dev = Dev::start();
    dev.workloads(&["users-api", "gateway", "notifications"], "24h")
        .await;
    let users = dev.provider("users-api", MtlsOptions::default()).await;
    let gateway = dev.provider("gateway", MtlsOptions::default()).await;
    let notifications = dev.provider("notifications", MtlsOptions::default()).await;
    assert_eq!(
        users.identity().spiffe_id.as_deref(),
        Some(&*spiffe("users-api"))
    );
    let (addr, _handle) = start_service(&users);
    let url = |path: &str| format!("https://127.0.0.1:{}{path}", addr.port());

    // The gateway, expecting users-api, gets through; the route sees its SPIFFE ID.
    let from_gateway = gateway.http_client(&[&spiffe("users-api")]).unwrap();
    let answer = from_gateway.get(url("/whoami")).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.unwrap();
    assert!(text.starts_with(&spiffe("gateway")), "{text}");
    assert_eq!(
        from_gateway
            .get(url("/gateway-only"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Another valid identity is refused on the guarded route (403), not at the handshake.
    let from_notifications = notifications.http_client(&[]).unwrap();
    let denied = from_notifications
        .get(url("/gateway-only"))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    assert!(
        denied
            .text()
            .await
            .unwrap()
            .contains(&spiffe("notifications"))
    );

    // The handshake: TLS 1.3 over X25519MLKEM768 with the ML-DSA-65 certificate.
    let (group, cert) = handshake(gateway.client_config(&[]).unwrap(), addr)
        .await
        .unwrap();
    assert_eq!(group, NamedGroup::X25519MLKEM768);
    let mldsa65 = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x12,
    ];
    assert!(cert.windows(mldsa65.len()).any(|w| w == mldsa65));

    // A client expecting someone else refuses the server (counted on its side).
    let wrong = gateway.client_config(&[&spiffe("notifications")]).unwrap();
    assert!(handshake(wrong, addr).await.is_err());
    assert_eq!(
        gateway
            .metrics()
            .handshake_failures(Side::Client, "not_allowed"),
        1
    );

    // No client certificate: refused at the handshake, counted.
    let anonymous = unchecking_client().with_no_client_auth();
    assert!(handshake(Arc::new(anonymous), addr).await.is_err());
    wait_until(|| {
        users
            .metrics()
            .handshake_failures(Side::Server, "no_certificate")
            == 1
    })
    .await;

    // The gateway's certificate presented with another key (stolen without its key): the
    // CertificateVerify signature fails, counted.
    let stolen = rustls::sign::CertifiedKey::new(
        gateway.certified_key().unwrap().cert.clone(),
        notifications.certified_key().unwrap().key.clone(),
    );
    let thief = unchecking_client().with_client_cert_resolver(Arc::new(Present(Arc::new(stolen))));
    assert!(handshake(Arc::new(thief), addr).await.is_err());
    wait_until(|| {
        users
            .metrics()
            .handshake_failures(Side::Server, "bad_signature")
            == 1
    })
    .await;

    // A certificate from a sibling CA under the same root (another mount's intermediate): the
    // chain reaches the trusted root, but no CRL of users-api's bundle speaks for it: refused.
    dev.admin("sys/mounts/pki-other", json!({"type": "pki"}))
        .await;
    let csr = dev
        .admin(
            "pki-other/intermediate/generate/internal",
            json!({"common_name": "another team's intermediate"}),
        )
        .await["data"]["csr"]
        .clone();
    let signed = dev
        .admin(
            "pki/root/sign-intermediate",
            json!({"csr": csr, "ttl": "24h"}),
        )
        .await;
    let bundle = format!(
        "{}\n{}",
        signed["data"]["certificate"].as_str().unwrap(),
        signed["data"]["issuing_ca"].as_str().unwrap()
    );
    dev.admin(
        "pki-other/intermediate/set-signed",
        json!({"certificate": bundle}),
    )
    .await;
    dev.admin(
        "pki-other/roles/any",
        json!({"allowed_uri_sans": ["spiffe://qsafe.local/*"], "require_cn": false,
               "client_flag": true}),
    )
    .await;
    let issued = dev
        .admin(
            "pki-other/issue/any",
            json!({"uri_sans": spiffe("gateway")}),
        )
        .await;
    let pem = |v: &Value| v.as_str().unwrap().as_bytes().to_vec();
    use rustls::pki_types::pem::PemObject as _;
    let chain = vec![
        rustls::pki_types::CertificateDer::from_pem_slice(&pem(&issued["data"]["certificate"]))
            .unwrap(),
        rustls::pki_types::CertificateDer::from_pem_slice(&pem(&issued["data"]["issuing_ca"]))
            .unwrap(),
    ];
    let key =
        rustls::pki_types::PrivateKeyDer::from_pem_slice(&pem(&issued["data"]["private_key"]))
            .unwrap();
    let sibling = unchecking_client()
        .with_client_auth_cert(chain, key)
        .unwrap();
    let before = users
        .metrics()
        .handshake_failures(Side::Server, "bad_certificate");
    assert!(handshake(Arc::new(sibling), addr).await.is_err());
    assert_eq!(
        users
            .metrics()
            .handshake_failures(Side::Server, "bad_certificate"),
        before + 1
    );

    // A revoked client certificate: refused once the server has the new CRL.
    let serial = notifications.identity().serial;
    dev.admin("pki/revoke", json!({"serial_number": serial}))
        .await;
    users.refresh_trust().await.unwrap();
    let fresh = notifications.http_client(&[]).unwrap();
    assert!(fresh.get(url("/whoami")).send().await.is_err());
    assert_eq!(
        users.metrics().handshake_failures(Side::Server, "revoked"),
        1
    );
    let metrics = users.metrics().render();
    assert!(
        metrics
            .contains(r#"qsafe_mtls_handshake_failures_total{side="server",reason="revoked"} 1"#),
        "{metrics}"
    );
    // The gateway is unaffected.
    assert_eq!(
        from_gateway
            .get(url("/whoami"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubernetes_pod_keeps_its_certificate_and_token_fresh_with_its_service_account_token() {
    let dev = Dev::start();
    dev.workloads(&[], "8s").await;
    let cluster = cluster::Cluster::new();
    dev.admin(
        "identity/kubernetes/config",
        json!({"issuer": "https://kubernetes.default.svc.cluster.local", "jwks": cluster.jwks()}),
    )
    .await;
    dev.admin(
        "sys/policies/acl/app-reader",
        json!({"policy": "path \"secret/data/app\" { capabilities = [\"read\"] }"}),
    )
    .await;
    dev.admin("secret/data/app", json!({"data": {"password": "s3cret"}}))
        .await;
    dev.admin(
        "identity/workload/users-api",
        json!({"namespace": "shop", "service_account": "users-api", "audiences": ["qsafe"],
               "pki_mount": "pki", "cert_ttl": "8s", "access_token_ttl": "2s",
               "policies": ["app-reader"]}),
    )
    .await;
    // The projected token file, refreshed by "the kubelet" below.
    let sa = "system:serviceaccount:shop:users-api";
    let file = dev.ca().join("token");
    std::fs::write(&file, cluster.token(sa, "qsafe")).unwrap();
    let client = Client::new(Config {
        addr: format!("https://127.0.0.1:{}", dev.port),
        token: None,
        ca_cert: Some(dev.ca().join("ca.pem")),
    })
    .unwrap();
    let bootstrap = Bootstrap::ServiceAccountToken {
        provider: "default".into(),
        path: file.clone(),
    };
    let provider = CertificateProvider::start(client, bootstrap, MtlsOptions::default())
        .await
        .unwrap();
    assert_eq!(
        provider.identity().spiffe_id.as_deref(),
        Some(&*spiffe("users-api"))
    );
    let mut tokens = BTreeSet::new();
    for i in 0..14 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        tokens.insert(provider.client().token().unwrap().to_string());
        if i % 2 == 1 {
            std::fs::write(&file, cluster.token(sa, "qsafe")).unwrap();
        }
    }
    // An 8 s certificate is renewed at half its life; the 2 s token at two thirds of its own,
    // on its own schedule (the client must hold a live token for KV and transit).
    assert!(
        provider.metrics().rotations() >= 1,
        "{}",
        provider.metrics().rotations()
    );
    assert!(
        tokens.len() >= 4,
        "the token was renewed {} times",
        tokens.len()
    );
    // The client reads as the workload, with a token issued after the first one expired.
    let secret = provider
        .client()
        .kv("secret")
        .read("app")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(secret.field("password"), Some("s3cret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misconfigured_workload_fails_start_up_without_spending_its_join_token() {
    let dev = Dev::start();
    dev.workloads(&[], "24h").await;
    // The SDK renews with a token for the audience qsafe, which this workload may not name.
    dev.admin(
        "identity/workload/batch",
        json!({"namespace": "shop", "audiences": ["reports"], "pki_mount": "pki"}),
    )
    .await;
    let join = dev
        .admin("identity/workload/batch/join-token", json!({}))
        .await["data"]["join_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = || {
        let client = Client::new(Config {
            addr: format!("https://127.0.0.1:{}", dev.port),
            token: None,
            ca_cert: Some(dev.ca().join("ca.pem")),
        })
        .unwrap();
        let bootstrap = Bootstrap::JoinToken {
            provider: "default".into(),
            token: Zeroizing::new(join.clone()),
        };
        let options = MtlsOptions {
            startup_attempts: 2,
            backoff_base: Duration::from_millis(10),
            ..MtlsOptions::default()
        };
        CertificateProvider::start(client, bootstrap, options)
    };
    let refused = start().await.unwrap_err().to_string();
    assert!(refused.contains("invalid_target"), "{refused}");
    // Fixed by the operator: the same join token works.
    dev.admin(
        "identity/workload/batch",
        json!({"audiences": ["reports", "qsafe"]}),
    )
    .await;
    let provider = start().await.unwrap();
    assert_eq!(
        provider.identity().spiffe_id.as_deref(),
        Some(&*spiffe("batch"))
    );
    // And now it is spent.
    let again = start().await.unwrap_err().to_string();
    assert!(again.contains("invalid_grant"), "{again}");
}

async fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(done(), "timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_rotate_under_load_without_a_failed_request() {
    let dev = Dev::start();
    dev.workloads(&["users-api", "gateway"], "6s").await;
    let options = MtlsOptions {
        check_interval: Duration::from_secs(1),
        trust_refresh: Duration::from_secs(2),
        ..MtlsOptions::default()
    };
    let users = dev.provider("users-api", options.clone()).await;
    let gateway = dev.provider("gateway", options).await;
    let (addr, _handle) = start_service(&users);
    let url = format!("https://127.0.0.1:{}/whoami", addr.port());
    // One pooled client (connections outlive rotations) and a new client per request (a new
    // handshake each time, with whatever certificate is current).
    let pooled = gateway.http_client(&[]).unwrap();
    let mut client_serials = BTreeSet::new();
    let mut server_serials = BTreeSet::new();
    let (mut ok, mut failed) = (0, Vec::new());
    let end = tokio::time::Instant::now() + Duration::from_secs(14);
    while tokio::time::Instant::now() < end {
        for client in [pooled.clone(), gateway.http_client(&[]).unwrap()] {
            match client.get(&url).send().await {
                Ok(r) if r.status() == 200 => {
                    ok += 1;
                    let text = r.text().await.unwrap();
                    client_serials.insert(text.split(' ').nth(1).unwrap().to_owned());
                }
                Ok(r) => failed.push(r.status().to_string()),
                Err(e) => failed.push(format!("{e:?}")),
            }
        }
        server_serials.insert(users.identity().serial);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        failed.is_empty(),
        "{} failed of {}: {:?}",
        failed.len(),
        ok + failed.len(),
        &failed[..failed.len().min(3)]
    );
    assert!(ok > 100, "{ok}");
    // 6 s certificates (less than renew_before) renewed at half their life, every 3 s.
    assert!(
        users.metrics().rotations() >= 2,
        "{}",
        users.metrics().rotations()
    );
    assert!(gateway.metrics().rotations() >= 2);
    assert!(client_serials.len() >= 3, "{client_serials:?}");
    assert!(server_serials.len() >= 3, "{server_serials:?}");
}

/// Presents one fixed certificate and key.
#[derive(Debug)]
struct Present(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for Present {
    fn resolve(
        &self,
        _: &[&[u8]],
        _: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A PQ client configuration that does not check the server (the server is under test), its
/// client certificate still to choose.
fn unchecking_client()
-> rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert> {
    rustls::ClientConfig::builder_with_provider(Arc::new(
        qsafe_client::mtls::KeyExchange::PostQuantum.provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(AnyServer))
}

/// A client that does not check the server (it is the server that refuses it here).
#[derive(Debug)]
struct AnyServer;

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::aws_lc_rs::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
