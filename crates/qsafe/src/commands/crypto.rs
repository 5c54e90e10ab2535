//! `qsafe crypto ...`: offline key generation, signing, verification, envelope encryption, JWK
//! export and fingerprints over files, with the qsafe-crypto formats (docs/formats.md).

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use qsafe_crypto::keys::{PrivateKey, PublicKey};
use qsafe_crypto::{AlgorithmId, Rng, envelope, jose};

use crate::Failure;
use crate::fileio::{self, Sensitivity};

/// Offline crypto commands.
#[derive(Debug, Subcommand)]
pub(crate) enum CryptoCommand {
    /// Generate a key pair: private key as seed-only PKCS#8 PEM, public key as SPKI PEM.
    Keygen(Keygen),
    /// Sign a file; the signature is written as raw bytes.
    Sign(Sign),
    /// Verify a raw signature over a file (exit 1 if it does not verify).
    Verify(Verify),
    /// Encrypt a file to an ML-KEM or X-Wing public key (HPKE envelope).
    Encrypt(Encrypt),
    /// Decrypt an envelope with the ML-KEM or X-Wing private key (exit 1 if it does not open).
    Decrypt(Decrypt),
    /// Print the public JWK of a signature public key (RFC 9964 AKP for ML-DSA), with its RFC 7638
    /// thumbprint as `kid`.
    Jwk(PubOnly),
    /// Print a public key's fingerprint (first 10 base32 characters of SHA-256 over the SPKI).
    Fingerprint(PubOnly),
}

#[derive(Debug, Args)]
pub(crate) struct Keygen {
    /// Algorithm: ml-dsa-44|65|87, ml-kem-512|768|1024, x-wing, ecdsa-p256, ed25519, mldsa65-ecdsa-p256.
    #[arg(long, default_value = "ml-dsa-65")]
    alg: String,
    /// Where to write the private key (PEM); `-` for stdout.
    #[arg(long)]
    out: PathBuf,
    /// Where to write the public key (PEM).
    #[arg(long)]
    pub_out: Option<PathBuf>,
    /// Replace an existing private-key file.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct Sign {
    /// Private key (PKCS#8 PEM).
    #[arg(long)]
    key: PathBuf,
    /// File to sign; `-` for stdin.
    #[arg(long = "in")]
    input: PathBuf,
    /// Where to write the signature; `-` for stdout.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct Verify {
    /// Public key (SPKI PEM).
    #[arg(long = "pub")]
    public: PathBuf,
    /// Signed file; `-` for stdin.
    #[arg(long = "in")]
    input: PathBuf,
    /// Signature file (raw bytes).
    #[arg(long)]
    sig: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct Encrypt {
    /// Recipient public key (SPKI PEM, ML-KEM or X-Wing).
    #[arg(long = "pub")]
    public: PathBuf,
    /// Plaintext file; `-` for stdin.
    #[arg(long = "in")]
    input: PathBuf,
    /// Where to write the envelope; `-` for stdout.
    #[arg(long)]
    out: PathBuf,
    /// Associated data bound to the envelope (must be given again to decrypt).
    #[arg(long, default_value = "")]
    aad: String,
}

#[derive(Debug, Args)]
pub(crate) struct Decrypt {
    /// Private key (PKCS#8 PEM, ML-KEM or X-Wing).
    #[arg(long)]
    key: PathBuf,
    /// Envelope file; `-` for stdin.
    #[arg(long = "in")]
    input: PathBuf,
    /// Where to write the plaintext; `-` for stdout.
    #[arg(long)]
    out: PathBuf,
    /// Associated data given at encryption.
    #[arg(long, default_value = "")]
    aad: String,
    /// Replace an existing output file.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PubOnly {
    /// Public key (SPKI PEM).
    #[arg(long = "pub")]
    public: PathBuf,
}

/// Runs one crypto command.
pub(crate) fn run(cmd: CryptoCommand) -> Result<(), Failure> {
    match cmd {
        CryptoCommand::Keygen(args) => keygen(args),
        CryptoCommand::Sign(args) => sign(args),
        CryptoCommand::Verify(args) => verify(args),
        CryptoCommand::Encrypt(args) => encrypt(args),
        CryptoCommand::Decrypt(args) => decrypt(args),
        CryptoCommand::Jwk(args) => jwk(args),
        CryptoCommand::Fingerprint(args) => fingerprint(args),
    }
}

fn keygen(args: Keygen) -> Result<(), Failure> {
    let alg: AlgorithmId = args.alg.parse()?;
    let key = PrivateKey::generate(alg, &Rng::new())?;
    fileio::write(
        &args.out,
        key.to_pem()?.as_bytes(),
        Sensitivity::Secret,
        args.force,
    )?;
    if let Some(path) = &args.pub_out {
        fileio::write(
            path,
            key.public_key().to_pem()?.as_bytes(),
            Sensitivity::Public,
            true,
        )?;
    }
    Ok(())
}

fn read_private(path: &std::path::Path) -> Result<PrivateKey, Failure> {
    Ok(PrivateKey::from_pem(&fileio::read_text(path)?)?)
}

fn read_public(path: &std::path::Path) -> Result<PublicKey, Failure> {
    Ok(PublicKey::from_pem(&fileio::read_text(path)?)?)
}

fn sign(args: Sign) -> Result<(), Failure> {
    let PrivateKey::Signing(key) = read_private(&args.key)? else {
        return Err(Failure::Input(anyhow!(
            "{} is not a signing key",
            args.key.display()
        )));
    };
    let message = fileio::read(&args.input)?;
    let sig = key.sign(&message)?;
    fileio::write(&args.out, &sig, Sensitivity::Public, true)
}

fn verify(args: Verify) -> Result<(), Failure> {
    let PublicKey::Verifying(key) = read_public(&args.public)? else {
        return Err(Failure::Input(anyhow!(
            "{} is not a signature public key",
            args.public.display()
        )));
    };
    let message = fileio::read(&args.input)?;
    let sig = fileio::read(&args.sig)?;
    key.verify(&message, &sig)?;
    eprintln!("signature OK ({})", key.algorithm());
    Ok(())
}

fn encrypt(args: Encrypt) -> Result<(), Failure> {
    let PublicKey::Kem(key) = read_public(&args.public)? else {
        return Err(Failure::Input(anyhow!(
            "{} is not an ML-KEM or X-Wing public key",
            args.public.display()
        )));
    };
    let plaintext = fileio::read(&args.input)?;
    let sealed = envelope::seal(&key, args.aad.as_bytes(), &plaintext)?;
    fileio::write(&args.out, &sealed, Sensitivity::Public, true)
}

fn decrypt(args: Decrypt) -> Result<(), Failure> {
    let PrivateKey::Kem(key) = read_private(&args.key)? else {
        return Err(Failure::Input(anyhow!(
            "{} is not an ML-KEM or X-Wing private key",
            args.key.display()
        )));
    };
    let sealed = fileio::read(&args.input)?;
    let plaintext = envelope::open(&key, args.aad.as_bytes(), &sealed)?;
    fileio::write(&args.out, &plaintext, Sensitivity::Secret, args.force)
}

fn jwk(args: PubOnly) -> Result<(), Failure> {
    let PublicKey::Verifying(key) = read_public(&args.public)? else {
        return Err(Failure::Input(anyhow!(
            "{} is not a signature public key; JWKs are for ML-DSA, ECDSA-P256 and Ed25519",
            args.public.display()
        )));
    };
    let jwk = jose::Jwk::from_verifying_key(&key)?;
    let kid = jwk.thumbprint();
    println!("{}", jwk.with_kid(kid).to_public_json());
    Ok(())
}

fn fingerprint(args: PubOnly) -> Result<(), Failure> {
    println!("{}", read_public(&args.public)?.fingerprint()?);
    Ok(())
}
