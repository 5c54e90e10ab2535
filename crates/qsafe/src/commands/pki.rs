//! `qsafe pki ...`: a certificate authority from the command line (OpenBao PKI API,
//! openbao.org/api-docs/secret/pki) — issue and sign certificates into a directory, revoke them,
//! fetch the CA and CRLs, and check a certificate's status with OCSP (RFC 6960), verifying the
//! responder's signature here. Private keys are written mode 0600 and printed only when asked.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::{Args, Subcommand};
use qsafe_client::{IssueRequest, IssuedCertificate, Pki};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::client::{Connection, block_on, client};
use crate::Failure;
use crate::fileio::{self, Sensitivity};

mod ocsp;

/// The names and lifetime a certificate is asked for.
#[derive(Debug, Args)]
pub(crate) struct Names {
    /// DNS (or email) subject alternative names, comma-separated.
    #[arg(long, value_delimiter = ',')]
    alt_names: Vec<String>,
    /// IP address SANs, comma-separated.
    #[arg(long, value_delimiter = ',')]
    ip_sans: Vec<String>,
    /// URI SANs, comma-separated.
    #[arg(long, value_delimiter = ',')]
    uri_sans: Vec<String>,
    /// Lifetime (e.g. `24h`); the role's default when absent.
    #[arg(long)]
    ttl: Option<String>,
}

impl Names {
    fn request(self, common_name: Option<String>) -> IssueRequest {
        IssueRequest {
            common_name: common_name.unwrap_or_default(),
            alt_names: self.alt_names,
            ip_sans: self.ip_sans,
            uri_sans: self.uri_sans,
            ttl: self.ttl,
            exclude_cn_from_sans: false,
        }
    }
}

/// `qsafe pki ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum PkiCommand {
    /// Issue a certificate and a new key under a role. With -o DIR writes cert.pem, key.pem
    /// (mode 0600), chain.pem (issuing CA … root) and ca.pem (the root); without it prints the
    /// certificate (and the key only with --print-key).
    Issue {
        /// The role.
        role: String,
        /// The common name.
        #[arg(long)]
        cn: String,
        #[command(flatten)]
        names: Names,
        /// Write the files into this directory (made with mode 0700 if missing).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Replace existing files in the directory.
        #[arg(long)]
        force: bool,
        /// Print the private key to stdout too.
        #[arg(long)]
        print_key: bool,
    },
    /// Have a CSR (PKCS#10 PEM) signed under a role. With -o DIR writes cert.pem and chain.pem.
    Sign {
        /// The role.
        role: String,
        /// The CSR file (PEM; `-` for stdin).
        #[arg(long)]
        csr: PathBuf,
        /// The common name (default: the CSR's, as the role allows).
        #[arg(long)]
        cn: Option<String>,
        #[command(flatten)]
        names: Names,
        /// Write the files into this directory.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Replace existing files in the directory.
        #[arg(long)]
        force: bool,
    },
    /// Revoke a certificate by serial number (`1a:2b:...`) or by its PEM file.
    Revoke {
        /// The serial number.
        #[arg(required_unless_present = "cert", conflicts_with = "cert")]
        serial: Option<String>,
        /// The certificate file (PEM) instead of a serial.
        #[arg(long)]
        cert: Option<PathBuf>,
        /// RFC 5280 reason: keyCompromise, superseded, cessationOfOperation, ...
        #[arg(long)]
        reason: Option<String>,
    },
    /// Print the CA certificate (PEM), or with --chain the CA and its chain to the root.
    Ca {
        /// The whole chain.
        #[arg(long)]
        chain: bool,
        /// Write to this file instead of stdout.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Print the CA's CRL (PEM; DER with --der), or its delta CRL with --delta.
    Crl {
        /// DER instead of PEM.
        #[arg(long)]
        der: bool,
        /// The delta CRL.
        #[arg(long)]
        delta: bool,
        /// Write to this file instead of stdout.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Ask the mount's OCSP responder about a certificate and verify the answer: prints good,
    /// revoked or unknown; exit 0 good, 1 revoked or unknown, 3 an answer that does not verify.
    OcspCheck {
        /// The certificate (PEM).
        #[arg(long)]
        cert: PathBuf,
        /// Its issuer's certificate (PEM); default: the mount's CA (`ca/pem`).
        #[arg(long)]
        issuer: Option<PathBuf>,
    },
}

pub(crate) fn run(cmd: PkiCommand, mount: &str, conn: &Connection) -> Result<(), Failure> {
    let pki = client(conn)?.pki(mount);
    match cmd {
        PkiCommand::Issue {
            role,
            cn,
            names,
            output,
            force,
            print_key,
        } => {
            let out = Output::new(output, force, &ISSUE_FILES)?;
            let issued = block_on(pki.issue(&role, &names.request(Some(cn))))?;
            show(&issued, out.as_ref(), print_key, conn.json)
        }
        PkiCommand::Sign {
            role,
            csr,
            cn,
            names,
            output,
            force,
        } => {
            let csr = fileio::read_text(&csr)?;
            let out = Output::new(output, force, &SIGN_FILES)?;
            let signed = block_on(pki.sign(&role, &csr, &names.request(cn)))?;
            show(&signed, out.as_ref(), false, conn.json)
        }
        PkiCommand::Revoke {
            serial,
            cert,
            reason,
        } => revoke(&pki, serial, cert.as_deref(), reason),
        PkiCommand::Ca { chain, output } => {
            let pem = if chain {
                block_on(pki.ca_chain_pem())?
            } else {
                block_on(pki.ca_pem())?
            };
            emit(output.as_deref(), pem.as_bytes())
        }
        PkiCommand::Crl { der, delta, output } => {
            emit(output.as_deref(), &block_on(pki.crl(delta, !der))?)
        }
        PkiCommand::OcspCheck { cert, issuer } => ocsp_check(&pki, &cert, issuer.as_deref()),
    }
}

const ISSUE_FILES: [&str; 4] = ["cert.pem", "key.pem", "chain.pem", "ca.pem"];
const SIGN_FILES: [&str; 2] = ["cert.pem", "chain.pem"];

/// An output directory, checked before anything is asked of the server.
struct Output {
    dir: PathBuf,
    force: bool,
    files: &'static [&'static str],
}

impl Output {
    /// Refuses existing `files` in `dir` without `force`, and a `dir` that is not a directory;
    /// the directory itself is made only once there is something to write.
    fn new(
        dir: Option<PathBuf>,
        force: bool,
        files: &'static [&'static str],
    ) -> Result<Option<Self>, Failure> {
        let Some(dir) = dir else {
            return Ok(None);
        };
        if dir.exists() && !dir.is_dir() {
            return Err(Failure::Input(anyhow!(
                "{} is not a directory",
                dir.display()
            )));
        }
        if !force {
            for name in files {
                let path = dir.join(name);
                if path.exists() {
                    return Err(Failure::Input(anyhow!(
                        "{} exists; pass --force to replace it",
                        path.display()
                    )));
                }
            }
        }
        Ok(Some(Self { dir, force, files }))
    }

    /// Creates the directory (mode 0700) if it is missing.
    fn create_dir(&self) -> Result<(), Failure> {
        if self.dir.is_dir() {
            return Ok(());
        }
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&self.dir)
            .map_err(|e| Failure::Input(anyhow!("creating {}: {e}", self.dir.display())))
    }

    /// Writes a public file, replacing it.
    fn public(&self, name: &str, data: &str) -> Result<PathBuf, Failure> {
        let path = self.dir.join(name);
        fileio::write(&path, data.as_bytes(), Sensitivity::Public, true)?;
        Ok(path)
    }

    /// Writes a secret file: always newly created with mode 0600 (an existing one is removed
    /// first under `force`, so it never keeps a wider mode).
    fn secret(&self, name: &str, data: &str) -> Result<PathBuf, Failure> {
        let path = self.dir.join(name);
        if self.force {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Failure::Input(anyhow!("removing {}: {e}", path.display())));
                }
            }
        }
        fileio::write(&path, data.as_bytes(), Sensitivity::Secret, false)?;
        Ok(path)
    }
}

/// `text` ending with one newline.
fn line_ended(text: &str) -> String {
    format!("{}\n", text.trim_end())
}

/// The chain as a PEM bundle (issuing CA … root) and the root alone.
fn chain_and_root(issued: &IssuedCertificate) -> (String, String) {
    let chain: Vec<&str> = if issued.ca_chain.is_empty() {
        vec![issued.issuing_ca.as_str()]
    } else {
        issued.ca_chain.iter().map(String::as_str).collect()
    };
    let bundle = chain.iter().map(|c| line_ended(c)).collect::<String>();
    let root = chain.last().map(|c| line_ended(c)).unwrap_or_default();
    (bundle, root)
}

/// `notAfter` as RFC 3339.
fn rfc3339(unix: i64) -> String {
    u64::try_from(unix)
        .ok()
        .and_then(|s| der07::DateTime::from_unix_duration(std::time::Duration::from_secs(s)).ok())
        .map_or_else(|| unix.to_string(), |t| t.to_string())
}

/// Writes the files of an issued or signed certificate into `out`; the paths written.
fn write_files(issued: &IssuedCertificate, out: &Output) -> Result<Vec<PathBuf>, Failure> {
    let (chain, root) = chain_and_root(issued);
    out.create_dir()?;
    let mut written = Vec::new();
    if let Some(key) = &issued.private_key {
        written.push(out.secret("key.pem", &Zeroizing::new(line_ended(key)))?);
    }
    written.push(out.public("cert.pem", &line_ended(&issued.certificate))?);
    written.push(out.public("chain.pem", &chain)?);
    if out.files.contains(&"ca.pem") {
        written.push(out.public("ca.pem", &root)?);
    }
    Ok(written)
}

/// `--json`: the answer's fields, the private key only with `print_key`.
fn print_json(issued: &IssuedCertificate, print_key: bool) {
    let mut data = json!({
        "certificate": issued.certificate,
        "issuing_ca": issued.issuing_ca,
        "ca_chain": issued.ca_chain,
        "serial_number": issued.serial_number,
        "expiration": issued.expiration,
    });
    if let (Some(key), true) = (&issued.private_key, print_key) {
        data["private_key"] = Value::from(key.as_str());
        data["private_key_type"] = issued.private_key_type.clone().into();
    }
    let text = Zeroizing::new(serde_json::to_string_pretty(&data).unwrap_or_default());
    if let Value::String(key) = data["private_key"].take() {
        drop(Zeroizing::new(key));
    }
    println!("{}", text.as_str());
}

/// Writes or prints an issued or signed certificate.
fn show(
    issued: &IssuedCertificate,
    out: Option<&Output>,
    print_key: bool,
    json_output: bool,
) -> Result<(), Failure> {
    let written = match out {
        Some(out) => write_files(issued, out)?,
        None => Vec::new(),
    };
    if json_output {
        print_json(issued, print_key);
        return Ok(());
    }
    if out.is_none() {
        print!("{}", line_ended(&issued.certificate));
    }
    match &issued.private_key {
        Some(key) if print_key => print!("{}", Zeroizing::new(line_ended(key)).as_str()),
        Some(_) if out.is_none() => eprintln!(
            "qsafe: the private key is not shown (pass -o DIR or --print-key); \
             the server keeps no copy"
        ),
        _ => {}
    }
    for path in &written {
        eprintln!("Wrote {}", path.display());
    }
    eprintln!(
        "Serial {} valid until {}",
        issued.serial_number,
        rfc3339(issued.expiration)
    );
    Ok(())
}

fn revoke(
    pki: &Pki,
    serial: Option<String>,
    cert: Option<&Path>,
    reason: Option<String>,
) -> Result<(), Failure> {
    let mut body = match (serial, cert) {
        (Some(serial), None) => json!({ "serial_number": serial }),
        (None, Some(path)) => json!({ "certificate": fileio::read_text(path)?.as_str() }),
        _ => {
            return Err(Failure::Input(anyhow!(
                "give a serial number or --cert FILE"
            )));
        }
    };
    if let Some(reason) = reason {
        body["reason"] = reason.into();
    }
    let at = block_on(pki.revoke_with(&body))?;
    println!("Success! Revoked at {}", rfc3339(at));
    Ok(())
}

/// `data` to `path`, or to stdout.
fn emit(path: Option<&Path>, data: &[u8]) -> Result<(), Failure> {
    fileio::write(
        path.unwrap_or(Path::new("-")),
        data,
        Sensitivity::Public,
        true,
    )
}

fn ocsp_check(pki: &Pki, cert: &Path, issuer: Option<&Path>) -> Result<(), Failure> {
    let input = |e: String| Failure::Input(anyhow!(e));
    let cert_pem = fileio::read_text(cert)?;
    let cert_name = cert.display().to_string();
    let cert = ocsp::certificates(&cert_pem, &cert_name)
        .map_err(input)?
        .swap_remove(0);
    let (issuer_pem, issuer_name) = match issuer {
        Some(path) => (fileio::read_text(path)?, path.display().to_string()),
        None => (
            Zeroizing::new(block_on(pki.ca_pem())?),
            "the mount's CA".to_owned(),
        ),
    };
    let issuer = ocsp::certificates(&issuer_pem, &issuer_name)
        .map_err(input)?
        .swap_remove(0);
    let id = ocsp::cert_id(&cert, &issuer)
        .map_err(|e| input(format!("{e}; pass its issuer with --issuer")))?;
    let key = ocsp::issuer_key(&issuer).map_err(input)?;
    let mut nonce = [0u8; ocsp::NONCE_LEN];
    qsafe_crypto::Rng::new().fill(&mut nonce)?;
    let request = ocsp::build_request(&id, &nonce).map_err(|e| Failure::Internal(anyhow!(e)))?;
    let response = block_on(pki.ocsp(&request))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let status = ocsp::check_response(&response, &id, &nonce, &key, now)
        .map_err(|e| Failure::Internal(anyhow!("{e}")))?;
    println!("{status}");
    match status {
        ocsp::Status::Good => Ok(()),
        ocsp::Status::Revoked { .. } => {
            Err(Failure::Rejected(anyhow!("the certificate is revoked")))
        }
        ocsp::Status::Unknown => Err(Failure::Rejected(anyhow!(
            "the responder does not know the certificate"
        ))),
    }
}
