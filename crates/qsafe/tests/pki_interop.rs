//! Black-box interop of the PKI engine (OpenBao's PKI API, RFC 5280 certificates and CRLs,
//! RFC 6960 OCSP) against OpenSSL 3.5 and Python `cryptography`: a real `qsafe dev` over plain
//! HTTP, chains, CRLs (full and delta), the OCSP responder (POST and GET), issued keys, and bad
//! input refused over HTTP and audited. Python checks live in `tests/compat/pki_check.py`.
//! A missing peer prints `SKIPPED:`, or fails the test with `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;

#[path = "support/dev.rs"]
mod dev;
#[path = "openssl/support.rs"]
#[allow(dead_code, reason = "only the peer finder is used here")]
mod ossl;
#[path = "support/peers.rs"]
#[allow(dead_code, reason = "only the Python finder is used here")]
mod peers;

#[path = "pki/harness.rs"]
mod harness;

use harness::{Dev, Peers, hex_serial, s};
use peers::text;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// 1. Chains

#[tokio::test]
async fn chains_verify_in_openssl_and_python() {
    let Some(peers) = Peers::find() else { return };
    let dev = Dev::start(peers, &["pki", "pki-int", "pki-ec"]).await;
    let root = dev.root("pki", "mldsa", 87).await;
    let int = dev.intermediate("pki", "pki-int").await;
    dev.role("pki-int").await;
    let leaf = dev
        .write(
            "pki-int/issue/web",
            json!({"common_name": "www.example.com", "alt_names": "api.example.com",
                   "ip_sans": "192.0.2.7", "uri_sans": "spiffe://example.com/web",
                   "ttl": "24h"}),
        )
        .await;
    let root_pem = dev.save_field("root.pem", &root, "certificate");
    let int_pem = dev.save_field("int.pem", &int, "certificate");
    let leaf_pem = dev.save_field("leaf.pem", &leaf, "certificate");
    // Strict RFC 5280 checks, as a TLS server and as a TLS client.
    for purpose in ["sslserver", "sslclient"] {
        let out = dev.openssl_ok(&[
            "verify",
            "-x509_strict",
            "-purpose",
            purpose,
            "-CAfile",
            s(&root_pem),
            "-untrusted",
            s(&int_pem),
            s(&leaf_pem),
        ]);
        assert!(out.contains("leaf.pem: OK"), "{purpose}: {out}");
    }
    // The leaf's ca_chain and the mount's ca_chain are the intermediate then the root.
    let chain: Vec<&str> = leaf["ca_chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().trim())
        .collect();
    assert_eq!(
        chain,
        [
            int["certificate"].as_str().unwrap().trim(),
            root["certificate"].as_str().unwrap().trim()
        ]
    );
    let chain_pem = dev.fetch("pki-int/ca_chain", "chain.pem").await;
    let out = dev.openssl_ok(&[
        "verify",
        "-CAfile",
        s(&root_pem),
        "-untrusted",
        s(&chain_pem),
        s(&leaf_pem),
    ]);
    assert!(out.contains(": OK"), "{out}");

    let facts = dev.py(&json!({"op": "chain", "certs": [root_pem, int_pem, leaf_pem]}));
    let [r, i, l] = &facts["certs"].as_array().unwrap()[..] else {
        panic!("{facts}")
    };
    assert_eq!(r["ca"], true, "{r}");
    assert_eq!(i["ca"], true, "{i}");
    assert_eq!(i["path_length"], 0, "{i}");
    for ca in [r, i] {
        let usage = ca["key_usage"].as_array().unwrap();
        assert!(usage.contains(&json!("key_cert_sign")), "{ca}");
        assert!(usage.contains(&json!("crl_sign")), "{ca}");
    }
    assert_eq!(l["ca"], false, "{l}");
    assert_eq!(l["key_usage"], json!(["digital_signature"]), "{l}");
    let mut eku: Vec<String> = serde_json::from_value(l["ext_key_usage"].clone()).unwrap();
    eku.sort();
    assert_eq!(eku, ["clientAuth", "serverAuth"], "{l}");
    let mut dns: Vec<String> = serde_json::from_value(l["dns"].clone()).unwrap();
    dns.sort();
    assert_eq!(dns, ["api.example.com", "www.example.com"], "{l}");
    assert_eq!(l["ips"], json!(["192.0.2.7"]), "{l}");
    assert_eq!(l["uris"], json!(["spiffe://example.com/web"]), "{l}");
    assert_eq!(
        l["serial"],
        hex_serial(leaf["serial_number"].as_str().unwrap())
    );
    // 24h, plus the role's 30 s of backdating.
    let lifetime = l["lifetime_seconds"].as_i64().unwrap();
    assert!((86_400..=86_400 + 60).contains(&lifetime), "{lifetime}");

    // The whole chain against both CRLs; then the root revokes the intermediate.
    let root_crl = dev.fetch("pki/crl/pem", "root-crl.pem").await;
    let int_crl = dev.fetch("pki-int/crl/pem", "int-crl.pem").await;
    let check_all = |root_crl: &Path| {
        dev.openssl(&[
            "verify",
            "-crl_check_all",
            "-CRLfile",
            s(root_crl),
            "-CRLfile",
            s(&int_crl),
            "-CAfile",
            s(&root_pem),
            "-untrusted",
            s(&int_pem),
            s(&leaf_pem),
        ])
    };
    let out = check_all(&root_crl);
    assert!(out.status.success(), "{}", text(&out));
    dev.write(
        "pki/revoke",
        json!({"serial_number": int["serial_number"], "reason": "cACompromise"}),
    )
    .await;
    let root_crl = dev.fetch("pki/crl/pem", "root-crl2.pem").await;
    let out = check_all(&root_crl);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("error 23 at 1 depth lookup: certificate revoked"),
        "{}",
        text(&out)
    );

    // An ECDSA P-256 root signing an ML-DSA-65 leaf.
    let ec_root = dev.root("pki-ec", "ec", 256).await;
    dev.role("pki-ec").await;
    let ec_leaf = dev.issue("pki-ec", "mixed.example.com").await;
    let ec_root_pem = dev.save_field("ec-root.pem", &ec_root, "certificate");
    let ec_leaf_pem = dev.save_field("ec-leaf.pem", &ec_leaf, "certificate");
    let out = dev.openssl_ok(&[
        "verify",
        "-x509_strict",
        "-purpose",
        "sslserver",
        "-CAfile",
        s(&ec_root_pem),
        s(&ec_leaf_pem),
    ]);
    assert!(out.contains("ec-leaf.pem: OK"), "{out}");
    let described = dev.openssl_ok(&["x509", "-in", s(&ec_leaf_pem), "-noout", "-text"]);
    assert!(described.contains("ecdsa-with-SHA256"), "{described}");
    assert!(described.contains("ML-DSA-65"), "{described}");
    let facts = dev.py(&json!({"op": "chain", "certs": [ec_root_pem, ec_leaf_pem]}));
    assert_eq!(facts["certs"][1]["key_usage"], json!(["digital_signature"]));
    // A leaf of the ML-DSA chain does not verify under the EC root.
    let out = dev.openssl(&["verify", "-CAfile", s(&ec_root_pem), s(&leaf_pem)]);
    assert!(!out.status.success(), "{}", text(&out));
}

// ---------------------------------------------------------------------------------------------
// 2. CRLs

/// `openssl verify -crl_check` of `leaf` with `crls`; (success, output).
fn crl_verify(dev: &Dev, ca: &Path, crls: &[&Path], deltas: bool, leaf: &Path) -> (bool, String) {
    let mut args = vec!["verify", "-crl_check"];
    if deltas {
        args.push("-use_deltas");
    }
    for crl in crls {
        args.extend(["-CRLfile", s(crl)]);
    }
    args.extend(["-CAfile", s(ca), s(leaf)]);
    let out = dev.openssl(&args);
    (out.status.success(), text(&out))
}

/// `aa:bb:..` as `openssl crl -text` prints it: uppercase hex bytes, no sign byte.
fn openssl_serial(colon: &str) -> String {
    let mut bytes: Vec<&str> = colon.split(':').collect();
    while bytes.len() > 1 && bytes[0] == "00" {
        bytes.remove(0);
    }
    bytes.concat().to_ascii_uppercase()
}

fn assert_revoked_by_openssl(result: (bool, String)) {
    let (ok, out) = result;
    assert!(!ok, "{out}");
    assert!(out.contains("error 23"), "{out}");
    assert!(out.contains("certificate revoked"), "{out}");
}

#[tokio::test]
async fn crls_list_revocations_for_openssl_and_python() {
    let Some(peers) = Peers::find() else { return };
    let dev = Dev::start(peers, &["pki"]).await;
    let root = dev.root("pki", "mldsa", 65).await;
    dev.role("pki").await;
    let ca = dev.save_field("ca.pem", &root, "certificate");
    let keep = dev.issue("pki", "keep.example.com").await;
    let gone = dev.issue("pki", "gone.example.com").await;
    let keep_pem = dev.save_field("keep.pem", &keep, "certificate");
    let gone_pem = dev.save_field("gone.pem", &gone, "certificate");
    let gone_serial = hex_serial(gone["serial_number"].as_str().unwrap());
    let crl = dev.fetch("pki/crl/pem", "crl0.pem").await;
    let before = dev.py(&json!({"op": "crl", "crl": crl, "issuer": ca, "serial": gone_serial}));
    assert_eq!(before["signature_valid"], true, "{before}");
    assert_eq!(before["revoked"], false, "{before}");
    let n0 = before["crl_number"].as_u64().unwrap();

    dev.write(
        "pki/revoke",
        json!({"serial_number": gone["serial_number"], "reason": "keyCompromise"}),
    )
    .await;
    let crl = dev.fetch("pki/crl/pem", "crl1.pem").await;
    let out = dev.openssl_ok(&["crl", "-in", s(&crl), "-CAfile", s(&ca), "-noout"]);
    assert!(out.contains("verify OK"), "{out}");
    let listing = dev.openssl_ok(&["crl", "-in", s(&crl), "-noout", "-text"]);
    let printed = openssl_serial(gone["serial_number"].as_str().unwrap());
    assert!(
        listing.contains(&format!("Serial Number: {printed}")),
        "{printed} in {listing}"
    );
    assert!(listing.contains("Key Compromise"), "{listing}");
    assert_revoked_by_openssl(crl_verify(&dev, &ca, &[&crl], false, &gone_pem));
    let (ok, out) = crl_verify(&dev, &ca, &[&crl], false, &keep_pem);
    assert!(ok && out.contains("keep.pem: OK"), "{out}");
    // The DER form is the same list.
    let der = dev.fetch("pki/crl", "crl1.der").await;
    let out = dev.openssl_ok(&["crl", "-inform", "DER", "-in", s(&der), "-noout", "-text"]);
    assert_eq!(out, listing);

    let after = dev.py(&json!({"op": "crl", "crl": crl, "issuer": ca, "serial": gone_serial}));
    assert_eq!(after["signature_valid"], true, "{after}");
    assert_eq!(after["issuer_matches"], true, "{after}");
    assert_eq!(after["revoked"], true, "{after}");
    assert_eq!(after["reason"], "key_compromise", "{after}");
    assert_eq!(after["delta_base"], Value::Null, "{after}");
    let n1 = after["crl_number"].as_u64().unwrap();
    assert!(n1 > n0, "{n0} then {n1}");
    dev.write(
        "pki/revoke",
        json!({"serial_number": keep["serial_number"]}),
    )
    .await;
    let crl = dev.fetch("pki/crl/pem", "crl2.pem").await;
    let again = dev.py(&json!({"op": "crl", "crl": crl, "issuer": ca, "serial": gone_serial}));
    assert!(again["crl_number"].as_u64().unwrap() > n1, "{again}");
    assert_eq!(again["entries"], 2, "{again}");
    assert_revoked_by_openssl(crl_verify(&dev, &ca, &[&crl], false, &keep_pem));

    // Delta CRLs: the full CRL must be rebuilt once to carry the Freshest CRL pointer.
    let base = format!("http://127.0.0.1:{}/v1/pki", dev.port);
    dev.write(
        "pki/config/urls",
        json!({"issuing_certificates": format!("{base}/ca"),
               "crl_distribution_points": format!("{base}/crl"),
               "ocsp_servers": format!("{base}/ocsp")}),
    )
    .await;
    dev.write(
        "pki/config/crl",
        json!({"auto_rebuild": true, "enable_delta": true}),
    )
    .await;
    dev.ok(Method::GET, "pki/crl/rotate", None).await;
    let late = dev.issue("pki", "late.example.com").await;
    let late_pem = dev.save_field("late.pem", &late, "certificate");
    let late_serial = hex_serial(late["serial_number"].as_str().unwrap());
    dev.write(
        "pki/revoke",
        json!({"serial_number": late["serial_number"], "reason": "superseded"}),
    )
    .await;
    let full = dev.fetch("pki/crl/pem", "full.pem").await;
    let delta = dev.fetch("pki/crl/delta/pem", "delta.pem").await;
    let f = dev.py(&json!({"op": "crl", "crl": full, "issuer": ca, "serial": late_serial}));
    let d = dev.py(&json!({"op": "crl", "crl": delta, "issuer": ca, "serial": late_serial}));
    assert_eq!(
        f["revoked"], false,
        "the full CRL waits for its rebuild: {f}"
    );
    assert_eq!(d["revoked"], true, "{d}");
    assert_eq!(d["reason"], "superseded", "{d}");
    assert_eq!(d["signature_valid"], true, "{d}");
    assert_eq!(d["delta_base"], f["crl_number"], "{d} over {f}");
    assert!(d["crl_number"].as_u64() > f["crl_number"].as_u64(), "{d}");
    let listing = dev.openssl_ok(&["crl", "-in", s(&full), "-noout", "-text"]);
    assert!(listing.contains("Freshest CRL"), "{listing}");
    let out = dev.openssl_ok(&[
        "crl",
        "-in",
        s(&delta),
        "-CAfile",
        s(&ca),
        "-noout",
        "-text",
    ]);
    assert!(
        out.contains("verify OK") && out.contains("Delta CRL Indicator"),
        "{out}"
    );
    // OpenSSL sees the revocation only through the delta.
    let (ok, out) = crl_verify(&dev, &ca, &[&full], false, &late_pem);
    assert!(ok, "{out}");
    assert_revoked_by_openssl(crl_verify(&dev, &ca, &[&full, &delta], true, &late_pem));
    // After a rebuild the full CRL has it too.
    dev.ok(Method::GET, "pki/crl/rotate", None).await;
    let full = dev.fetch("pki/crl/pem", "full2.pem").await;
    let f2 = dev.py(&json!({"op": "crl", "crl": full, "issuer": ca, "serial": late_serial}));
    assert_eq!(f2["revoked"], true, "{f2}");
    assert!(f2["crl_number"].as_u64() > d["crl_number"].as_u64(), "{f2}");
    assert_revoked_by_openssl(crl_verify(&dev, &ca, &[&full], false, &late_pem));
}

// ---------------------------------------------------------------------------------------------
// 3. OCSP

/// `openssl ocsp` against the responder of `mount`, writing the response to `respout`.
fn ocsp_query(dev: &Dev, mount: &str, extra: &[&str], respout: &str) -> String {
    let url = format!("http://127.0.0.1:{}/v1/{mount}/ocsp", dev.port);
    let mut args = vec![
        "ocsp",
        "-issuer",
        "int.pem",
        "-url",
        &url,
        "-CAfile",
        "root.pem",
        "-resp_text",
        "-respout",
        respout,
    ];
    args.extend(extra);
    dev.openssl_ok(&args)
}

#[tokio::test]
async fn ocsp_answers_openssl_and_python() {
    let Some(peers) = Peers::find() else { return };
    let dev = Dev::start(peers, &["pki", "pki-int", "pki-ec"]).await;
    let root = dev.root("pki", "mldsa", 87).await;
    let int = dev.intermediate("pki", "pki-int").await;
    dev.role("pki-int").await;
    let leaf = dev.issue("pki-int", "ocsp.example.com").await;
    dev.save_field("root.pem", &root, "certificate");
    let int_pem = dev.save_field("int.pem", &int, "certificate");
    dev.save_field("leaf.pem", &leaf, "certificate");
    let serial = hex_serial(leaf["serial_number"].as_str().unwrap());

    let out = ocsp_query(&dev, "pki-int", &["-cert", "leaf.pem"], "good.der");
    assert!(out.contains("Response verify OK"), "{out}");
    assert!(out.contains("leaf.pem: good"), "{out}");
    assert!(!out.contains("WARNING"), "the nonce is echoed: {out}");
    let good = dev.py(&json!({"op": "ocsp", "response": dev.p("good.der"), "issuer": int_pem}));
    assert_eq!(good["response_status"], "SUCCESSFUL", "{good}");
    assert_eq!(good["certificate_status"], "GOOD", "{good}");
    assert_eq!(good["signature_valid"], true, "{good}");
    assert_eq!(good["serial"], serial, "{good}");

    dev.write(
        "pki-int/revoke",
        json!({"serial_number": leaf["serial_number"], "reason": "superseded"}),
    )
    .await;
    for (extra, respout) in [
        (&["-cert", "leaf.pem"][..], "revoked.der"),
        (&["-cert", "leaf.pem", "-no_nonce"][..], "revoked-nn.der"),
        // A CertID hashed with SHA-256 instead of SHA-1.
        (&["-sha256", "-cert", "leaf.pem"][..], "revoked-sha256.der"),
    ] {
        let out = ocsp_query(&dev, "pki-int", extra, respout);
        assert!(out.contains("Response verify OK"), "{out}");
        assert!(out.contains("leaf.pem: revoked"), "{out}");
        assert!(out.contains("Reason: superseded"), "{out}");
        let r = dev.py(&json!({"op": "ocsp", "response": dev.p(respout), "issuer": int_pem}));
        assert_eq!(r["certificate_status"], "REVOKED", "{r}");
        assert_eq!(r["revocation_reason"], "superseded", "{r}");
        assert_eq!(r["signature_valid"], true, "{r}");
    }

    // Two certificates in one request: one answer each.
    let other = dev.issue("pki-int", "other.example.com").await;
    dev.save_field("other.pem", &other, "certificate");
    let out = ocsp_query(
        &dev,
        "pki-int",
        &["-cert", "leaf.pem", "-cert", "other.pem"],
        "two.der",
    );
    assert!(out.contains("Response verify OK"), "{out}");
    assert!(out.contains("leaf.pem: revoked"), "{out}");
    assert!(out.contains("other.pem: good"), "{out}");

    // GET ocsp/<url-encoded base64 request>.
    dev.openssl_ok(&[
        "ocsp",
        "-issuer",
        "int.pem",
        "-cert",
        "leaf.pem",
        "-no_nonce",
        "-reqout",
        "req.der",
    ]);
    let request = std::fs::read(dev.p("req.der")).unwrap();
    let b64 = qsafe_crypto::encoding::b64_encode(&request);
    let encoded: String = b64
        .chars()
        .map(|c| match c {
            '+' => "%2B".to_owned(),
            '/' => "%2F".to_owned(),
            '=' => "%3D".to_owned(),
            c => c.to_string(),
        })
        .collect();
    let response = dev.raw(&format!("pki-int/ocsp/{encoded}")).await;
    dev.save("get.der", &response);
    let out = dev.openssl_ok(&[
        "ocsp",
        "-respin",
        "get.der",
        "-issuer",
        "int.pem",
        "-cert",
        "leaf.pem",
        "-CAfile",
        "root.pem",
        "-no_nonce",
        "-resp_text",
    ]);
    assert!(out.contains("Response verify OK"), "{out}");
    assert!(out.contains("leaf.pem: revoked"), "{out}");
    let r = dev.py(&json!({"op": "ocsp", "response": dev.p("get.der"), "issuer": int_pem}));
    assert_eq!(r["certificate_status"], "REVOKED", "{r}");
    // Not URL-encoded (a `/` of the base64 alphabet is then a path separator): the same answer.
    assert_eq!(
        dev.raw(&format!("pki-int/ocsp/{b64}")).await.len(),
        response.len()
    );

    // A serial the mount never issued.
    let out = ocsp_query(&dev, "pki-int", &["-serial", "0x4242424242"], "unknown.der");
    assert!(out.contains("0x4242424242: unknown"), "{out}");
    assert!(out.contains("Response verify OK"), "{out}");
    let u = dev.py(&json!({"op": "ocsp", "response": dev.p("unknown.der"), "issuer": int_pem}));
    assert_eq!(u["certificate_status"], "UNKNOWN", "{u}");
    assert_eq!(u["signature_valid"], true, "{u}");

    // An ECDSA P-256 issuer signs its responses with ECDSA.
    let ec_root = dev.root("pki-ec", "ec", 256).await;
    dev.role("pki-ec").await;
    let ec_leaf = dev.issue("pki-ec", "ec.example.com").await;
    let ec_pem = dev.save_field("ec-root.pem", &ec_root, "certificate");
    dev.save_field("ec-leaf.pem", &ec_leaf, "certificate");
    let url = format!("http://127.0.0.1:{}/v1/pki-ec/ocsp", dev.port);
    let out = dev.openssl_ok(&[
        "ocsp",
        "-issuer",
        "ec-root.pem",
        "-cert",
        "ec-leaf.pem",
        "-url",
        &url,
        "-CAfile",
        "ec-root.pem",
        "-resp_text",
        "-respout",
        "ec.der",
    ]);
    assert!(out.contains("Response verify OK"), "{out}");
    assert!(out.contains("ec-leaf.pem: good"), "{out}");
    assert!(out.contains("ecdsa-with-SHA256"), "{out}");
    let e = dev.py(&json!({"op": "ocsp", "response": dev.p("ec.der"), "issuer": ec_pem}));
    assert_eq!(e["certificate_status"], "GOOD", "{e}");
    assert_eq!(e["signature_valid"], true, "{e}");
}

// ---------------------------------------------------------------------------------------------
// 4. Issued private keys

#[tokio::test]
async fn issued_private_keys_load_in_openssl_and_python() {
    let Some(peers) = Peers::find() else { return };
    let dev = Dev::start(peers, &["pki"]).await;
    dev.root("pki", "mldsa", 65).await;
    dev.role("pki").await;
    for (bits, name) in [(65, "ML-DSA-65"), (44, "ML-DSA-44"), (87, "ML-DSA-87")] {
        dev.write(
            "pki/roles/keys",
            json!({"allowed_domains": "example.com", "allow_subdomains": true,
                   "key_type": "mldsa", "key_bits": bits}),
        )
        .await;
        let leaf = dev
            .write("pki/issue/keys", json!({"common_name": "k.example.com"}))
            .await;
        let key = dev.save_field("key.pem", &leaf, "private_key");
        let cert = dev.save_field("cert.pem", &leaf, "certificate");
        assert!(
            leaf["private_key"]
                .as_str()
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----"),
            "{leaf}"
        );
        dev.openssl_ok(&["pkey", "-in", s(&key), "-noout"]);
        let described = dev.openssl_ok(&["pkey", "-in", s(&key), "-noout", "-text"]);
        assert!(described.contains(name), "{described}");
        let from_key = dev.openssl(&["pkey", "-in", s(&key), "-pubout", "-outform", "DER"]);
        let from_cert = dev.openssl(&["x509", "-in", s(&cert), "-noout", "-pubkey"]);
        assert!(from_key.status.success() && from_cert.status.success());
        let cert_pub = dev.save("cert-pub.pem", &from_cert.stdout);
        let cert_der = dev.openssl(&["pkey", "-pubin", "-in", s(&cert_pub), "-outform", "DER"]);
        assert_eq!(from_key.stdout, cert_der.stdout, "{name}");
        let py = dev.py(&json!({"op": "key", "key": key, "cert": cert}));
        assert_eq!(py["equal"], true, "{name}: {py}");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Bad input over HTTP

/// A PEM CSR for `cn` made by OpenSSL with an ML-DSA-65 key; with `corrupt`, its signature's
/// last byte flipped.
fn csr(dev: &Dev, cn: &str, corrupt: bool) -> String {
    dev.openssl_ok(&[
        "req",
        "-new",
        "-newkey",
        "mldsa65",
        "-nodes",
        "-keyout",
        "csr-key.pem",
        "-subj",
        &format!("/CN={cn}"),
        "-outform",
        "DER",
        "-out",
        "req.der",
    ]);
    let mut der = std::fs::read(dev.p("req.der")).unwrap();
    if corrupt {
        *der.last_mut().unwrap() ^= 0x01;
    }
    pem_rfc7468::encode_string("CERTIFICATE REQUEST", pem_rfc7468::LineEnding::LF, &der).unwrap()
}

/// A refusal: 400 with `{"errors": [..]}` whose text contains every one of `needles`.
async fn refused(dev: &Dev, path: &str, body: Value, needles: &[&str]) {
    let (status, value) = dev.call(Method::POST, path, Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {value}");
    let errors = value["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{value}"));
    let joined = errors
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("; ");
    for needle in needles {
        assert!(
            joined.contains(needle),
            "{path}: {needle:?} not in {joined:?}"
        );
    }
}

#[tokio::test]
async fn bad_input_is_refused_over_http_and_audited() {
    let Some(peers) = Peers::find() else { return };
    let dev = Dev::start(peers, &["pki"]).await;
    dev.root("pki", "mldsa", 65).await;
    dev.role("pki").await;
    // A good CSR is signed, so the bad one below fails only for its signature.
    let good = dev
        .write(
            "pki/sign/web",
            json!({"csr": csr(&dev, "csr.example.com", false), "common_name": "csr.example.com"}),
        )
        .await;
    assert!(good["certificate"].as_str().is_some(), "{good}");
    let before = dev.cert_list("pki").await;

    let bad = csr(&dev, "csr.example.com", true);
    refused(
        &dev,
        "pki/sign/web",
        json!({"csr": bad, "common_name": "csr.example.com"}),
        &["signature"],
    )
    .await;
    refused(
        &dev,
        "pki/issue/web",
        json!({"common_name": "www.example.com", "alt_names": "evil.example.org"}),
        &["evil.example.org"],
    )
    .await;
    refused(
        &dev,
        "pki/issue/web",
        json!({"common_name": "www.example.com", "uri_sans": "spiffe://evil.org/x"}),
        &["spiffe://evil.org/x"],
    )
    .await;
    refused(
        &dev,
        "pki/issue/web",
        json!({"common_name": "www.example.com", "ttl": "1000h"}),
        &["max_ttl"],
    )
    .await;
    refused(
        &dev,
        "pki/issue/nope",
        json!({"common_name": "www.example.com"}),
        &["nope"],
    )
    .await;
    assert_eq!(dev.cert_list("pki").await, before);

    // Each refusal has a response line with its error in the audit log.
    let log = std::fs::read_to_string(dev.data.path().join("audit.log")).unwrap();
    let errors: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["type"] == "response" && l.get("error").is_some())
        .collect();
    for (path, needle) in [
        ("pki/sign/web", "signature"),
        ("pki/issue/web", "evil.example.org"),
        ("pki/issue/web", "max_ttl"),
        ("pki/issue/nope", "nope"),
    ] {
        assert!(
            errors
                .iter()
                .any(|l| l["path"] == path && l["error"].as_str().unwrap().contains(needle)),
            "no audited error for {path} ({needle}) in {errors:?}"
        );
    }
}
