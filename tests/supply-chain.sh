#!/usr/bin/env bash
# Checks the dependency tree offline against the RustSec advisory snapshot in ../shared/advisory-db
# (cargo-deny: advisories, licenses, bans, sources). Exceptions live in deny.toml with reasons.
# Without the snapshot it uses the database cargo-deny fetches, and says so; without a network
# either, it checks bans, licenses and sources and says plainly that it skipped advisories.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

src="${OPENCLAW_ADVISORY_DB:-../shared/advisory-db}"
command -v cargo-deny >/dev/null || cargo install --locked cargo-deny@0.20.2
cargo fetch --quiet  # cargo metadata needs every platform's crates on disk

if [[ ! -d "$src/crates" ]]; then
  # No snapshot beside the clone: cargo-deny fetches the RustSec database itself, if it can.
  echo "[supply-chain] no advisory snapshot at $src (OPENCLAW_ADVISORY_DB): using the RustSec database cargo-deny fetches"
  if cargo deny fetch db; then
    cargo deny --offline check advisories bans licenses sources
  else
    echo "[supply-chain] SKIPPED advisories: the RustSec database could not be fetched (no network?)"
    cargo deny --offline check bans licenses sources
  fi
  exit 0
fi
echo "[supply-chain] advisories from the snapshot at $src"

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
cargo deny --offline check advisories bans licenses sources
