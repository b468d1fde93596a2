#!/usr/bin/env bash
# The main job, locally: starts PostgreSQL and the AWS emulator (deploy/local/up.sh), builds
# openclaw, migrates both databases, onboards the example tenants and runs the operator in the
# foreground. Ctrl-C stops the operator; deploy/local/down.sh stops the stack.
#   In another terminal:  source .local/stack.env
#                         target/debug/openclaw get tenants
#                         curl -s 127.0.0.1:9464/metrics | grep openclaw_tenants
#   deploy/local/run.sh --agents-at-work
#       also shows acme's agents at work: the gateway, local fakes for Bedrock and the SaaS APIs,
#       acme's three agents as local processes, one task each through the gateway's API, and
#       their results printed; the operator keeps running after (its log: .local/operator.log).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

at_work=0
case "${1:-}" in
  --agents-at-work) at_work=1 ;;
  "") ;;
  *) echo "usage: deploy/local/run.sh [--agents-at-work]" >&2; exit 2 ;;
esac

export MOTO_ECS_SERVICE_RUNNING="${MOTO_ECS_SERVICE_RUNNING:-10}"
deploy/local/up.sh
# shellcheck source=/dev/null
source .local/stack.env

echo "== building openclaw"
cargo build --quiet --bin openclaw
bin=target/debug/openclaw
"$bin" upgrade split-control-store   # a stack from before the split; otherwise a no-op
"$bin" migrate
"$bin" apply -f crds/examples/tenants.yaml
if ((at_work)); then
  echo "== building the agent, the gateway and the demo driver"
  cargo build --quiet --bin openclaw-agent --bin openclaw-gateway --bin agents-at-work
  "$bin" operator > .local/operator.log 2>&1 &
  operator=$!
  trap 'kill "$operator" 2>/dev/null || true' EXIT
  target/debug/agents-at-work
  echo "== operator running (log: .local/operator.log, metrics on http://127.0.0.1:9464/metrics); Ctrl-C to stop"
  wait "$operator"
  exit
fi
cat <<EOF
== operator running (metrics on http://127.0.0.1:9464/metrics); Ctrl-C to stop
   Next, in another terminal:
     source .local/stack.env
     $bin get tenants                  # phases: Pending, Provisioning, Ready
     $bin describe tenant acme         # spec, conditions, resources, audit entries
     $bin plan --detailed-exitcode     # what would change (exit 2 when anything would)
     curl -s 127.0.0.1:9464/metrics | grep openclaw_tenant_condition
     deploy/local/down.sh              # after Ctrl-C here: stops PostgreSQL and the emulator
EOF
exec "$bin" operator
