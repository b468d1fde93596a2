#!/usr/bin/env bash
# Stops the local stack started by up.sh: moto, and the throwaway PostgreSQL if up.sh started one
# (only processes whose PIDs it recorded). An existing PostgreSQL server is left alone.
set -euo pipefail
# shellcheck source=deploy/local/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

stop_all
