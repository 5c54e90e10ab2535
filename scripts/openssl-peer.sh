#!/usr/bin/env bash
# Installs the OpenSSL 3.5 command line (Debian 13 "trixie" packages) as a test peer, idempotently:
#   .peers/openssl/root/   the unpacked trixie packages (openssl, libssl3t64, libc6 and what they need)
#   .peers/openssl/apt/    a private apt state (lists, cache, sources) that leaves the system's alone
#   .peers/bin/openssl     a wrapper that runs it through the unpacked glibc loader
# Debian 12's glibc is too old for trixie's binaries, so nothing is installed system-wide: the
# packages are fetched with `apt-get download` against a private sources list that names the same
# mirror(s) as the machine's own apt sources, and unpacked with `dpkg-deb -x`.
# Called by scripts/test-deps.sh; safe to run by hand. Needs apt, dpkg-deb and the Debian archive
# keyring (trixie's Release files are also signed with the bookworm archive keys).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peers="$root/.peers"
base="$peers/openssl"
prefix="$base/root"
aptdir="$base/apt"
wrapper="$peers/bin/openssl"
suite=trixie

installed_version() {
  [[ -x $wrapper ]] && "$wrapper" version 2>/dev/null | grep -E '^OpenSSL (3\.([5-9]|[1-9][0-9])|[4-9]|[1-9][0-9]+)\.'
}

if v=$(installed_version); then
  echo "test peer: $v ($wrapper)"
  exit 0
fi

# --- The machine's own Debian mirrors --------------------------------------------------------
# From one-line (*.list) and deb822 (*.sources) entries: the URI of the main archive (a suite
# without "-security") and, if present, of the security archive. Entries for other
# distributions (no Debian codename suite) are ignored.
codenames='buster|bullseye|bookworm|trixie|forky|sid|stable|testing|unstable|oldstable'
entries() { # prints "URI SUITE" per (uri, suite) pair of every enabled deb entry
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 3 { print $2, $3 }'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk '
      function flush(   i, j, nu, ns, u, s) {
        if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled !~ /^[ \t]*no/) {
          nu = split(uris, u, /[ \t]+/); ns = split(suites, s, /[ \t]+/)
          for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) if (u[i] != "" && s[j] != "") print u[i], s[j]
        }
        types = uris = suites = enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      { key = tolower($1); sub(/:.*/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val) }
      key == "types" { types = val } key == "uris" { uris = val }
      key == "suites" { suites = val } key == "enabled" { enabled = tolower(val) }
      END { flush() }
    ' "$f"
  done
}
main_uri=$(entries | awk -v c="^($codenames)(-updates|-backports|-proposed-updates)?\$" '$2 ~ c { print $1; exit }')
security_uri=$(entries | awk -v c="^($codenames)(-security|/updates)\$" '$2 ~ c { print $1; exit }')
if [[ -z $main_uri ]]; then
  echo "openssl-peer: found no Debian archive in /etc/apt/sources.list(.d); cannot fetch $suite packages" >&2
  exit 1
fi
main_uri=${main_uri%/}
security_uri=${security_uri%/}

keyring=/usr/share/keyrings/debian-archive-keyring.gpg

# --- Private apt state --------------------------------------------------------------------------
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/debs" "$peers/bin"
{
  echo "deb [signed-by=$keyring] $main_uri $suite main"
  echo "deb [signed-by=$keyring] $main_uri $suite-updates main"
  if [[ -n $security_uri ]]; then
    echo "deb [signed-by=$keyring] $security_uri $suite-security main"
  fi
} >"$aptdir/sources.list"
# The machine's apt.conf.d stays in effect (proxies and the like), but not its update hooks:
# they are about the system's package cache, not this private one.
printf '#clear %s;\n' APT::Update::Pre-Invoke APT::Update::Post-Invoke \
  APT::Update::Post-Invoke-Success >"$aptdir/apt.conf"
apt_opts=(
  -c "$aptdir/apt.conf"
  -o "Dir::State::Lists=$aptdir/lists"
  -o "Dir::Etc::SourceList=$aptdir/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::Cache=$aptdir/cache"
  -o "Dir::State::status=/dev/null"
  -o "APT::Sandbox::User=root"
  -o "Acquire::Languages=none"
  -o "APT::Get::List-Cleanup=false"
)
echo "openssl-peer: fetching $suite package lists from $main_uri${security_uri:+ and $security_uri}" >&2
apt-get "${apt_opts[@]}" -qq update

# openssl, libssl3t64 and libc6 (whose loader runs them) and everything they depend on, resolved
# by apt against the trixie lists (a handful of libraries: zlib, zstd, libgcc-s1, ...).
wanted=(openssl libssl3t64 libc6)
mapfile -t pkgs < <(
  apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances --no-pre-depends "${wanted[@]}" |
    awk '/^[a-z0-9]/ { print $1 }' | sort -u
)
# Pre-Depends are skipped above (libc6's are not needed to run binaries); keep the named ones.
for p in "${wanted[@]}"; do
  printf '%s\n' "${pkgs[@]}" | grep -qx "$p" || pkgs+=("$p")
done
echo "openssl-peer: downloading ${pkgs[*]}" >&2
rm -f "$aptdir/debs/"*.deb
(cd "$aptdir/debs" && apt-get "${apt_opts[@]}" -qq download "${pkgs[@]}")

rm -rf "$prefix"
mkdir -p "$prefix"
for deb in "$aptdir/debs/"*.deb; do
  dpkg-deb -x "$deb" "$prefix"
done

# --- The wrapper --------------------------------------------------------------------------------
loader=$(find "$prefix/usr/lib" "$prefix/lib" -maxdepth 2 -name 'ld-linux*.so.*' \( -type f -o -type l \) 2>/dev/null | head -n1 || true)
if [[ -z $loader ]]; then
  echo "openssl-peer: no ld-linux loader in the unpacked libc6" >&2
  exit 1
fi
libdir=$(dirname "$loader")
triplet=$(basename "$libdir")
libpath=""
for d in "$prefix/usr/lib/$triplet" "$prefix/lib/$triplet" "$prefix/usr/lib" "$prefix/lib"; do
  [[ -d $d ]] && libpath="${libpath:+$libpath:}${d#"$peers"/}"
done
modules="usr/lib/$triplet/ossl-modules"
conf=$(find "$prefix/etc/ssl" "$prefix/usr/lib/ssl" -maxdepth 1 -name openssl.cnf 2>/dev/null | head -n1 || true)

# Paths in the wrapper are relative to .peers/, so the tree can move with the checkout.
tmp=$(mktemp "$peers/bin/.openssl.XXXXXX")
cat >"$tmp" <<EOF
#!/bin/sh
# Generated by scripts/openssl-peer.sh: OpenSSL 3.5 from Debian $suite, run through its own loader.
peers=\$(CDPATH= cd -- "\$(dirname -- "\$(readlink -f -- "\$0")")/.." && pwd)
lp=""
for d in $(tr ':' ' ' <<<"$libpath"); do lp="\${lp:+\$lp:}\$peers/\$d"; done
export OPENSSL_MODULES="\${OPENSSL_MODULES:-\$peers/openssl/root/$modules}"
EOF
if [[ -n $conf ]]; then
  echo "export OPENSSL_CONF=\"\${OPENSSL_CONF:-\$peers/${conf#"$peers"/}}\"" >>"$tmp"
fi
cat >>"$tmp" <<EOF
exec "\$peers/${loader#"$peers"/}" --library-path "\$lp" "\$peers/openssl/root/usr/bin/openssl" "\$@"
EOF
chmod 755 "$tmp"
mv -f "$tmp" "$wrapper"

if ! v=$(installed_version); then
  echo "openssl-peer: $wrapper does not run OpenSSL 3.5+:" >&2
  "$wrapper" version >&2 || true
  exit 1
fi
echo "test peer: $v ($wrapper)"
