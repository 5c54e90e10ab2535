//! Reading and writing the files commands take, with `-` meaning stdin/stdout. Private keys are
//! written with mode 0600 and never over an existing file unless asked.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::Context;
use zeroize::Zeroizing;

use crate::Failure;

/// The whole content of `path` (`-`: stdin).
pub(crate) fn read(path: &Path) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut buf = Zeroizing::new(Vec::new());
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading stdin")
            .map_err(Failure::Input)?;
    } else {
        let mut file = std::fs::File::open(path)
            .with_context(|| format!("opening {}", path.display()))
            .map_err(Failure::Input)?;
        file.read_to_end(&mut buf)
            .with_context(|| format!("reading {}", path.display()))
            .map_err(Failure::Input)?;
    }
    Ok(buf)
}

/// `path` as UTF-8 text (PEM files).
pub(crate) fn read_text(path: &Path) -> Result<Zeroizing<String>, Failure> {
    let bytes = read(path)?;
    std::str::from_utf8(&bytes)
        .map(|s| Zeroizing::new(s.to_owned()))
        .with_context(|| format!("{} is not UTF-8 text (expected PEM)", path.display()))
        .map_err(Failure::Input)
}

/// Whether a written file holds a secret (mode 0600, no clobbering) or public data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sensitivity {
    Public,
    Secret,
}

/// Writes `data` to `path` (`-`: stdout). Public files are replaced; secret files are created 0600
/// and an existing one is only replaced when `force` is set.
pub(crate) fn write(
    path: &Path,
    data: &[u8],
    sensitivity: Sensitivity,
    force: bool,
) -> Result<(), Failure> {
    if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(data)
            .and_then(|()| out.flush())
            .context("writing stdout")
            .map_err(Failure::Input);
    }
    let mut options = OpenOptions::new();
    options.write(true);
    if force || sensitivity == Sensitivity::Public {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    if sensitivity == Sensitivity::Secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| {
            if path.exists() && !force {
                format!("{} exists; pass --force to replace it", path.display())
            } else {
                format!("creating {}", path.display())
            }
        })
        .map_err(Failure::Input)?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
        .map_err(Failure::Input)
}
