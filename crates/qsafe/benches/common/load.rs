//! What the qsafe-vs-OpenBao load benchmarks share: a server under test reached over TLS by
//! `CONNECTIONS` clients, a fixed-window load loop, and an OpenBao 2.7 server (raft storage, TLS,
//! a file audit device) started beside qsafe. Included with `#[path]` by each benchmark.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use qsafe_crypto::encoding::pem_encode;
use serde_json::{Value, json};

use super::dev::{Server, free_port, pq_client, start_dev};

pub(crate) const CONNECTIONS: usize = 16;
pub(crate) const WINDOW: Duration = Duration::from_secs(4);

/// A request body: none (GET), JSON (POST), or raw bytes with a media type (POST).
#[derive(Clone)]
pub(crate) enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

/// One server under test.
pub(crate) struct Target {
    pub(crate) name: &'static str,
    pub(crate) base: String,
    pub(crate) token: String,
    pub(crate) clients: Vec<reqwest::Client>,
    /// The server's process, for its CPU time.
    pub(crate) pid: u32,
}

impl Target {
    /// The server process's CPU time so far, in seconds.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        super::cpu::cpu_seconds(&self.pid.to_string())
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub(crate) async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut req = self.clients[0]
            .request(method, format!("{}/v1/{path}", self.base))
            .header("X-Vault-Token", &self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        if !status.is_success() {
            return Err(format!("{} {path}: {status} {text}", self.name));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// One request of `body` to `path`: Ok, or the status and body of the refusal.
    pub(crate) async fn probe(&self, path: &str, body: &Body) -> Result<(), String> {
        let url = format!("{}/v1/{path}", self.base);
        let resp = request(&self.clients[0], &url, body)
            .header("X-Vault-Token", &self.token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("{status} {}", text.trim()))
        }
    }

    /// Requests/s, p50, p99 of `path` with `body` (POST) or GET, 16 connections, one window.
    pub(crate) async fn load(&self, path: &str, body: Body) -> (f64, Duration, Duration) {
        // JSON serialized once, not per request: the load generator shares the server's cores.
        let body = match body {
            Body::Json(v) => Body::Raw("application/json", serde_json::to_vec(&v).unwrap()),
            other => other,
        };
        let start = Instant::now();
        let url = format!("{}/v1/{path}", self.base);
        let mut tasks = Vec::new();
        for http in &self.clients {
            let (http, url, token, body) =
                (http.clone(), url.clone(), self.token.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while start.elapsed() < WINDOW {
                    let t = Instant::now();
                    let resp = request(&http, &url, &body)
                        .header("X-Vault-Token", &token)
                        .send()
                        .await
                        .unwrap();
                    assert!(resp.status().is_success(), "{url}: {}", resp.status());
                    resp.bytes().await.unwrap();
                    latencies.push(t.elapsed());
                }
                latencies
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let elapsed = start.elapsed().as_secs_f64();
        all.sort();
        let pick = |q: f64| all[((all.len() as f64 - 1.0) * q) as usize];
        (all.len() as f64 / elapsed, pick(0.5), pick(0.99))
    }
}

/// `body` to `url`: GET without one, POST with JSON or raw bytes.
fn request(http: &reqwest::Client, url: &str, body: &Body) -> reqwest::RequestBuilder {
    match body {
        Body::Json(b) => http.post(url).json(b),
        Body::Raw(media, bytes) => http
            .post(url)
            .header("Content-Type", *media)
            .body(bytes.clone()),
        Body::None => http.get(url),
    }
}

pub(crate) async fn start_qsafe(dir: &Path) -> (Server, Target) {
    let port = free_port();
    let server = start_dev(dir, port);
    let target = Target {
        name: "qsafe",
        base: format!("https://127.0.0.1:{port}"),
        token: "dev-root".into(),
        clients: (0..CONNECTIONS)
            .map(|_| pq_client(&dir.join("ca.pem")))
            .collect(),
        pid: server.0.id(),
    };
    (server, target)
}

pub(crate) async fn start_openbao(dir: &Path) -> Option<(Server, Target)> {
    let bao = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/bao");
    if !bao.exists() {
        eprintln!("{} missing: run scripts/test-deps.sh", bao.display());
        return None;
    }
    let certs = qsafe_server::tls::dev_certificates(&["127.0.0.1".into()]).unwrap();
    let chain: String = certs
        .ecdsa
        .chain
        .iter()
        .map(|c| pem_encode("CERTIFICATE", c).unwrap())
        .collect();
    std::fs::write(dir.join("cert.pem"), chain).unwrap();
    std::fs::write(
        dir.join("key.pem"),
        pem_encode("PRIVATE KEY", &certs.ecdsa.key).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("ca.pem"), &certs.ca_bundle_pem).unwrap();
    std::fs::create_dir_all(dir.join("raft")).unwrap();
    let (port, cluster) = (free_port(), free_port());
    let d = dir.display();
    let config = format!(
        r#"storage "raft" {{
  path = "{d}/raft"
  node_id = "bench"
}}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cluster}"
  tls_cert_file = "{d}/cert.pem"
  tls_key_file = "{d}/key.pem"
}}
audit "file" "file" {{
  options {{
    file_path = "{d}/audit.log"
  }}
}}
api_addr = "https://127.0.0.1:{port}"
cluster_addr = "https://127.0.0.1:{cluster}"
disable_mlock = true
log_level = "error"
"#
    );
    std::fs::write(dir.join("bao.hcl"), config).unwrap();
    let child = Command::new(&bao)
        .args(["server", "-config"])
        .arg(dir.join("bao.hcl"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let child = Server(child);
    let http = pq_client(&dir.join("ca.pem"));
    let base = format!("https://127.0.0.1:{port}");
    let mut init = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let Ok(resp) = http
            .post(format!("{base}/v1/sys/init"))
            .json(&json!({"secret_shares": 1, "secret_threshold": 1}))
            .send()
            .await
        else {
            continue;
        };
        init = Some(resp.json::<Value>().await.unwrap());
        break;
    }
    let init = init.expect("bao did not start");
    let key = init["keys_base64"][0].as_str().unwrap();
    http.post(format!("{base}/v1/sys/unseal"))
        .json(&json!({"key": key}))
        .send()
        .await
        .unwrap();
    // Wait for raft to elect this node and the core to become active.
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(r) = http.get(format!("{base}/v1/sys/health")).send().await
            && r.status() == 200
        {
            break;
        }
    }
    let target = Target {
        name: "OpenBao",
        base,
        token: init["root_token"].as_str().unwrap().to_owned(),
        clients: (0..CONNECTIONS)
            .map(|_| pq_client(&dir.join("ca.pem")))
            .collect(),
        pid: child.0.id(),
    };
    Some((child, target))
}

pub(crate) fn median(mut xs: Vec<(f64, Duration, Duration)>) -> (f64, Duration, Duration) {
    xs.sort_by(|a, b| a.0.total_cmp(&b.0));
    xs[xs.len() / 2]
}
