//! `refarch-load`: drives the gateway for the scenario and the benchmark — `--concurrency`
//! tasks sending requests for `--seconds`, on pooled connections or a new TLS connection per
//! request (`--new-connections`); prints one JSON line (`ok`, `failed`, `rate`, the first
//! errors) and exits 1 if any request failed. With `--mtls` it is a workload itself (its
//! certificate from qsafe through `QSAFE_JOIN_TOKEN_FILE`, key and key exchange from `MTLS_KEY`
//! and `MTLS_KX`) and calls an mTLS service directly — the benchmark's handshake measurement.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// The gateway, `https://127.0.0.1:PORT`.
    #[arg(long)]
    url: String,
    /// The CA bundle (PEM) the gateway's certificate chains to.
    #[arg(long)]
    ca: PathBuf,
    /// A file holding the bearer token (none: no Authorization header).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Present a workload certificate of its own (see above); `--ca` is then unused.
    #[arg(long)]
    mtls: bool,
    /// `status` (GET /status), `create` (POST /users), `get:ID` (GET /users/ID/status).
    #[arg(long, default_value = "status")]
    op: String,
    /// How long to run.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Concurrent request loops.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// A new TLS connection for every request.
    #[arg(long)]
    new_connections: bool,
    /// `pq` (X25519MLKEM768) or `classical` (X25519).
    #[arg(long, default_value = "pq")]
    kx: String,
    /// Instead of a load: one request `METHOD PATH` (e.g. `GET /users/ID`); prints the status
    /// and the body on one line.
    #[arg(long, num_args = 2, value_names = ["METHOD", "PATH"])]
    call: Option<Vec<String>>,
    /// The JSON body of `--call`.
    #[arg(long)]
    body: Option<String>,
}

/// `--call`: one request, its status and body printed.
async fn call(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    args: &Args,
) -> anyhow::Result<()> {
    let [method, path] = args.call.as_deref().unwrap_or_default() else {
        anyhow::bail!("--call takes METHOD PATH");
    };
    let mut request = client.request(method.parse()?, format!("{base}{path}"));
    if !token.is_empty() {
        request = request.bearer_auth(token);
    }
    if let Some(body) = &args.body {
        request = request
            .header("content-type", "application/json")
            .body(body.clone());
    }
    let answer = request.send().await?;
    let status = answer.status().as_u16();
    println!("{status} {}", answer.text().await?);
    Ok(())
}

async fn client(args: &Args) -> anyhow::Result<reqwest::Client> {
    if args.mtls {
        let identity = qsafe_reference_architecture::start_identity().await?;
        let tls = Arc::unwrap_or_clone(identity.client_config(&[])?);
        // Dropping the provider stops its renewals; the configuration keeps its certificate,
        // which outlives a load run.
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(Duration::from_secs(30));
        if args.new_connections {
            builder = builder.pool_max_idle_per_host(0);
        }
        return Ok(builder.build()?);
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&args.ca).context("reading --ca")? {
        roots.add(cert?)?;
    }
    let kx = match args.kx.as_str() {
        "classical" => qsafe_client::mtls::KeyExchange::Classical,
        _ => qsafe_client::mtls::KeyExchange::PostQuantum,
    };
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(kx.provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(30));
    if args.new_connections {
        builder = builder.pool_max_idle_per_host(0);
    }
    Ok(builder.build()?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let token = match &args.token_file {
        Some(file) => std::fs::read_to_string(file)?.trim().to_owned(),
        None => String::new(),
    };
    let client = client(&args).await?;
    let base = args.url.trim_end_matches('/').to_owned();
    if args.call.is_some() {
        return call(&client, &base, &token, &args).await;
    }
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let errors = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(args.seconds);
    let mut tasks = Vec::new();
    for worker in 0..args.concurrency {
        let (client, base, token, op) =
            (client.clone(), base.clone(), token.clone(), args.op.clone());
        let (ok, failed, errors) = (ok.clone(), failed.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < end {
                n += 1;
                let request = match op.as_str() {
                    "create" => client.post(format!("{base}/users")).json(&json!({
                        "email": format!("load-{worker}-{n}@example.com"),
                        "phone": "+1 555 0100",
                        "date_of_birth": "1990-01-01",
                    })),
                    "status" => client.get(format!("{base}/status")),
                    other => match other.strip_prefix("get:") {
                        Some(id) => client.get(format!("{base}/users/{id}/status")),
                        None => client.get(format!("{base}/{other}")),
                    },
                };
                let request = if token.is_empty() {
                    request
                } else {
                    request.bearer_auth(&token)
                };
                let outcome = request.send().await;
                match outcome {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        let mut e = errors.lock().unwrap_or_else(|p| p.into_inner());
                        if e.len() < 5 {
                            e.push(format!("{status} {body}"));
                        }
                    }
                    Err(err) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        let mut e = errors.lock().unwrap_or_else(|p| p.into_inner());
                        if e.len() < 5 {
                            e.push(format!("{err:?}"));
                        }
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let errors = errors.lock().unwrap_or_else(|p| p.into_inner()).clone();
    println!(
        "{}",
        json!({"ok": ok, "failed": failed, "seconds": seconds,
               "rate": ok as f64 / seconds, "errors": errors})
    );
    if failed > 0 || ok == 0 {
        std::process::exit(1);
    }
    Ok(())
}
