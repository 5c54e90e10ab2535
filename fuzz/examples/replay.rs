//! Runs fuzz-target bodies over files, on stable Rust and without libFuzzer: to reproduce a crash
//! artifact with a readable backtrace, or to check a local corpus after a change.
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --no-default-features --example replay -- \
//!     <target> [file-or-directory ...]
//! ```
//!
//! Without paths it replays `seeds/<target>/` and, if present, `corpus/<target>/`. With the target
//! `all`, every target over its own seeds and corpus. A panic in a target aborts with the file
//! named first.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_dir() {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path)? {
            out.extend(files(&entry?.path())?);
        }
        out.sort();
        Ok(out)
    } else {
        Ok(vec![path.to_path_buf()])
    }
}

fn replay(name: &str, body: qsafe_fuzz::Body, paths: &[PathBuf]) -> std::io::Result<usize> {
    let mut count = 0;
    for path in paths {
        for file in files(path)? {
            let data = std::fs::read(&file)?;
            eprintln!("{name}: {}", file.display());
            body(&data);
            count += 1;
        }
    }
    println!("{name}: {count} input(s) replayed without a panic");
    Ok(count)
}

fn default_paths(name: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["seeds", "corpus"]
        .iter()
        .map(|dir| root.join(dir).join(name))
        .filter(|p| p.is_dir())
        .collect()
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(name) = args.next() else {
        let names: Vec<_> = qsafe_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
        eprintln!(
            "usage: replay <target|all> [file-or-directory ...]; targets: {}",
            names.join(", ")
        );
        return ExitCode::from(2);
    };
    let paths: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let targets: Vec<(&str, qsafe_fuzz::Body)> = if name == "all" {
        qsafe_fuzz::TARGETS.to_vec()
    } else {
        match qsafe_fuzz::target(&name) {
            Some(body) => vec![(name.as_str(), body)],
            None => {
                eprintln!("no target {name:?}");
                return ExitCode::from(2);
            }
        }
    };
    for (target, body) in targets {
        let paths = if paths.is_empty() {
            default_paths(target)
        } else {
            paths.clone()
        };
        if let Err(e) = replay(target, body, &paths) {
            eprintln!("{target}: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
