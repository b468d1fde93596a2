#!/usr/bin/env bash
# Checks the observability files with promtool (Debian's `prometheus` package, installed when missing):
#   - deploy/prometheus/alerts.yml parses (promtool check rules);
#   - deploy/prometheus/prometheus.yml is a valid config that loads alerts.yml (promtool check config);
#   - every alert's unit tests pass (promtool test rules deploy/prometheus/alerts.test.yml);
#   - every PromQL expression of deploy/grafana/openclaw-dashboard.json parses, with the Grafana
#     template variables substituted (written as recording rules and checked with promtool).
#
#   tests/prometheus-rules.sh                  all the checks above
#   tests/prometheus-rules.sh --list-metrics   the openclaw_ metric names the dashboard and the alert
#                                              rules use, one base name a line (histogram _bucket,
#                                              _sum and _count folded), sorted and unique; needs
#                                              only python3, never promtool
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dashboard=deploy/grafana/openclaw-dashboard.json
alerts=deploy/prometheus/alerts.yml
config=deploy/prometheus/prometheus.yml
alert_tests=deploy/prometheus/alerts.test.yml

list_metrics() {
  python3 - "$dashboard" "$alerts" <<'PY'
import re, sys
names = set()
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        for m in re.findall(r"openclaw_[a-z_]+", f.read()):
            names.add(re.sub(r"_(bucket|sum|count)$", "", m))
print("\n".join(sorted(names)))
PY
}

if [[ "${1:-}" == "--list-metrics" ]]; then
  list_metrics
  exit 0
elif (($#)); then
  echo "usage: $0 [--list-metrics]" >&2
  exit 2
fi

as_root() {
  if ((EUID == 0)); then "$@"; else sudo "$@"; fi
}

# Installs Debian's prometheus package for promtool. Services must not start: a policy-rc.d that
# refuses every start is put in place for the install (unless one exists), and a daemon that
# started anyway is stopped and disabled. Only /usr/bin/promtool is used here.
install_promtool() {
  echo "== installing Debian's prometheus package (for promtool)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  local policy_out
  policy_out="$(apt-cache policy prometheus)"
  if [[ "$policy_out" != *"Candidate: "[0-9]* ]]; then
    echo "no installable 'prometheus' package in the apt sources:" >&2
    echo "$policy_out" >&2
    exit 1
  fi
  local policy=/usr/sbin/policy-rc.d placed=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# placed by tests/prometheus-rules.sh during apt-get install\nexit 101\n' |
      as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    placed=1
  fi
  local rc=0
  as_root apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold prometheus >/dev/null || rc=$?
  if ((placed)); then as_root rm -f "$policy"; fi
  ((rc == 0)) || { echo "apt-get install prometheus failed ($rc)" >&2; exit "$rc"; }
  # Nothing of the package may stay running or start at boot.
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    as_root systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
  local pidfile
  for pidfile in /run/prometheus.pid /run/prometheus/prometheus.pid; do
    if [[ -s "$pidfile" ]]; then
      as_root kill "$(cat "$pidfile")" 2>/dev/null || true
      as_root rm -f "$pidfile"
    fi
  done
}

if ! command -v promtool >/dev/null; then install_promtool; fi
promtool --version 2>&1 | head -1

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "== promtool check rules $alerts"
promtool check rules "$alerts"

echo "== promtool check config $config"
promtool check config "$config"

echo "== promtool test rules $alert_tests"
promtool test rules "$alert_tests"

echo "== every alert has unit tests that fire it and keep it silent"
python3 - "$alerts" "$alert_tests" <<'PY'
import re, sys
rules_text = open(sys.argv[1], encoding="utf-8").read()
tests_text = open(sys.argv[2], encoding="utf-8").read()
alerts = set(re.findall(r"^\s*-?\s*alert:\s*(\S+)\s*$", rules_text, re.M))
if not alerts:
    sys.exit("no alerts found in " + sys.argv[1])
# Each `alertname:` line is followed by its exp_alerts: a list (fires) or [] (stays silent).
fires, silent = set(), set()
for name, exp in re.findall(r"alertname:\s*(\S+)\s*\n\s*exp_alerts:\s*(\[\])?", tests_text):
    (silent if exp else fires).add(name)
bad = sorted(a for a in alerts if a not in fires or a not in silent)
for a in bad:
    print(f"  {a}: firing case {'yes' if a in fires else 'MISSING'}, "
          f"silent case {'yes' if a in silent else 'MISSING'}")
unknown = sorted((fires | silent) - alerts)
for a in unknown:
    print(f"  {a}: tested but not defined")
if bad or unknown:
    sys.exit(1)
print(f"  {len(alerts)} alerts, each with a firing and a silent case")
PY

echo "== every dashboard expression parses as PromQL"
python3 - "$dashboard" "$tmp/dashboard-rules.yml" <<'PY'
import json, re, sys
dash = json.load(open(sys.argv[1], encoding="utf-8"))
exprs = []  # (where, PromQL)
def walk(node, where):
    if isinstance(node, dict):
        where = node.get("title", where)
        for k, v in node.items():
            if k == "expr" and isinstance(v, str):
                if v.strip():
                    exprs.append((where, v))
            else:
                walk(v, where)
    elif isinstance(node, list):
        for v in node:
            walk(v, where)
walk(dash.get("panels", []), "panels")
# Query variables: label_values(EXPR, label) and query_result(EXPR) are Grafana's syntax around PromQL.
for var in dash.get("templating", {}).get("list", []):
    if var.get("type") != "query":
        continue
    q = var.get("query")
    q = q.get("query", "") if isinstance(q, dict) else (q or "")
    m = re.fullmatch(r"\s*(label_values|query_result)\((.*)\)\s*", q, re.S)
    if m and m.group(1) == "label_values":
        inner = m.group(2).rsplit(",", 1)[0] if "," in m.group(2) else m.group(2)
        if inner.strip():
            exprs.append((f"variable {var['name']}", inner))
    elif m:
        exprs.append((f"variable {var['name']}", m.group(2)))
    elif q.strip():
        sys.exit(f"variable {var.get('name')}: unsupported query {q!r}")
if not exprs:
    sys.exit("no expressions in " + sys.argv[1])
subst = {
    "__rate_interval": "5m", "__interval": "1m", "__range": "1h",
    "__interval_ms": "60000", "__range_s": "3600", "__range_ms": "3600000",
    "tenant": "x", "datasource": "prometheus", "DS_PROMETHEUS": "prometheus",
}
def sub(e):
    def rep(m):
        name = m.group(1) or m.group(2) or m.group(3)
        name = name.split(":")[0]
        if name not in subst:
            sys.exit(f"unknown template variable ${name} in: {e}")
        return subst[name]
    return re.sub(r"\$\{([A-Za-z0-9_:]+)\}|\[\[([A-Za-z0-9_:]+)\]\]|\$([A-Za-z_][A-Za-z0-9_]*)", rep, e)
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (title, e) in enumerate(exprs):
        out.write(f"      - record: dashboard_expr_{i}\n")
        out.write(f"        labels: {{panel: {json.dumps(title)}}}\n")
        out.write(f"        expr: {json.dumps(sub(e))}\n")
print(f"  {len(exprs)} expressions")
PY
promtool check rules "$tmp/dashboard-rules.yml"

echo "== metric names used by the dashboard and the alert rules"
list_metrics | sed 's/^/  /'
echo "prometheus rules: all checks passed"
