#!/usr/bin/env bash
# Checks the dependency tree offline against the RustSec advisory snapshot in ../shared/advisory-db
# (cargo-deny: advisories, licenses, bans, sources). Exceptions live in deny.toml with reasons.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

src="${OPENCLAW_ADVISORY_DB:-../shared/advisory-db}"
[[ -d "$src/crates" ]] || { echo "advisory snapshot not found at $src (set OPENCLAW_ADVISORY_DB)"; exit 1; }
command -v cargo-deny >/dev/null || cargo install --locked cargo-deny@0.20.2

# cargo-deny reads the database as a git checkout named after its URL hash.
db=.local/advisory-dbs/advisory-db-3157b0e258782691
stamp="$(find "$src" -type f -newer "$db/.git/HEAD" 2>/dev/null | head -1 || true)"
if [[ ! -d "$db/.git" || -n "$stamp" ]]; then
  rm -rf "$db"
  mkdir -p "$db"
  cp -r "$src/." "$db/"
  git -C "$db" init -q
  git -C "$db" add -A
  git -C "$db" -c user.email=ci@localhost -c user.name=ci commit -qm snapshot
fi
cargo fetch --quiet  # cargo metadata needs every platform's crates on disk
cargo deny --offline check advisories bans licenses sources
