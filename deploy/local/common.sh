# shellcheck shell=bash
# Helpers for the local stack, sourced by up.sh, down.sh and bootstrap.sh.
# Owns: the pinned moto/awscli venv, the moto server process, the PostgreSQL the stack uses (the one
# already on 127.0.0.1:5432, or a throwaway cluster under /tmp), and $STATE_DIR (pids, logs, env).
# It only ever stops processes whose PIDs it recorded itself.
set -euo pipefail

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LOCAL_DIR/../.." && pwd)"
STATE_DIR="${OPENCLAW_STATE_DIR:-$REPO_ROOT/.local}"
VENV="${OPENCLAW_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/openclaw/venv-moto-5.2.5}"
MOTO_PORT="${MOTO_PORT:-4566}"
PID_DIR="$STATE_DIR/pids"
mkdir -p "$PID_DIR"

log() { printf '[local] %s\n' "$*" >&2; }
die() { printf '[local] ERROR: %s\n' "$*" >&2; exit 1; }

# --- Python venv with moto and the aws CLI ---------------------------------------------------------
ensure_venv() {
  local req="$LOCAL_DIR/requirements.txt" marker="$VENV/.openclaw-requirements.sha256" hash
  hash="$(sha256sum "$req" | cut -d' ' -f1)"
  if [[ -f "$marker" && "$(cat "$marker")" == "$hash" && -x "$VENV/bin/moto_server" && -x "$VENV/bin/aws" ]]; then
    return 0
  fi
  log "installing moto and awscli into $VENV"
  "$VENV/bin/python" -c '' 2>/dev/null || python3 -m venv --clear "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  printf '%s\n' "$hash" >"$marker"
}

# --- PostgreSQL -------------------------------------------------------------------------------------
pg_bin_dir() {
  local dir
  dir="$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -1 || true)"
  if [[ -z "$dir" ]]; then
    log "no PostgreSQL installed; installing it with apt-get"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    dir="$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -1)"
  fi
  printf '%s\n' "$dir"
}

as_postgres() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_answers() { # PORT
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1" &&
    PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -w -h 127.0.0.1 -p "$1" -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_throwaway_postgres() {
  local base port
  if [[ -f "$PID_DIR/postgres.dir" ]]; then
    base="$(cat "$PID_DIR/postgres.dir")"
    port="$(cat "$PID_DIR/postgres.port" 2>/dev/null || true)"
    if [[ -n "$port" ]] && as_postgres "$PG_BIN/pg_ctl" status -D "$base/data" >/dev/null 2>&1 && pg_answers "$port"; then
      log "reusing throwaway PostgreSQL on port $port ($base)"
      PG_PORT="$port"
      return 0
    fi
    log "recorded throwaway PostgreSQL ($base) is not running; starting a new one"
    stop_throwaway_postgres
  fi
  port=55432
  while port_in_use "$port"; do
    port=$((port + 1))
    ((port < 55532)) || die "no free port in 55432-55531 for a throwaway PostgreSQL"
  done
  base="$(mktemp -d /tmp/openclaw-pg.XXXXXX)"
  chown postgres: "$base" 2>/dev/null || true
  as_postgres "$PG_BIN/initdb" -D "$base/data" -A trust -U postgres -E UTF8 >"$base/initdb.log" 2>&1 ||
    { tail -20 "$base/initdb.log" >&2; die "initdb failed in $base"; }
  printf '%s\n' "$base" >"$PID_DIR/postgres.dir"
  printf '%s\n' "$port" >"$PID_DIR/postgres.port"
  as_postgres "$PG_BIN/pg_ctl" -D "$base/data" -l "$base/postgres.log" -w -t 30 \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $base -c fsync=off -c max_connections=300" start >/dev/null ||
    { tail -20 "$base/postgres.log" >&2; die "throwaway PostgreSQL did not start (log: $base/postgres.log)"; }
  log "started throwaway PostgreSQL on port $port (data: $base/data)"
  PG_PORT="$port"
}

stop_throwaway_postgres() {
  [[ -f "$PID_DIR/postgres.dir" ]] || return 0
  local base
  base="$(cat "$PID_DIR/postgres.dir")"
  if [[ -f "$base/data/postmaster.pid" ]]; then
    PG_BIN="${PG_BIN:-$(pg_bin_dir)}"
    as_postgres "$PG_BIN/pg_ctl" stop -D "$base/data" -m fast -w -t 30 >/dev/null ||
      log "pg_ctl stop failed for $base/data"
    log "stopped throwaway PostgreSQL ($base)"
  fi
  [[ "$base" == /tmp/openclaw-pg.* ]] && rm -rf -- "$base"
  rm -f "$PID_DIR/postgres.dir" "$PID_DIR/postgres.port"
}

# Sets PG_PORT and exports OPENCLAW_PG_ADMIN_URL.
ensure_postgres() {
  PG_BIN="$(pg_bin_dir)"
  if [[ "${OPENCLAW_PG_THROWAWAY:-0}" != 1 ]] && pg_answers 5432; then
    PG_PORT=5432
    local max
    max="$("$PG_BIN/psql" -w -h 127.0.0.1 -p 5432 -U postgres -d postgres -Atqc 'show max_connections')"
    log "using the PostgreSQL on 127.0.0.1:5432 (max_connections=$max)"
    ((max >= 300)) || log "note: max_connections=$max is low for load tests; OPENCLAW_PG_THROWAWAY=1 starts one with 300"
  else
    start_throwaway_postgres
  fi
  export OPENCLAW_PG_ADMIN_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
}

# The operator's login: a role shaped like RDS's master user (LOGIN CREATEROLE CREATEDB, NOSUPERUSER,
# no BYPASSRLS). The superuser only creates it and hands it what RDS hands its master user: setting
# temp_file_limit on roles, and seeing and ending other roles' sessions.
OPERATOR_ROLE="${OPENCLAW_OPERATOR_ROLE:-openclaw_operator}"

ensure_operator_role() {
  [[ "$OPERATOR_ROLE" =~ ^[a-z_][a-z0-9_]*$ ]] || die "operator role must match [a-z_][a-z0-9_]*: $OPERATOR_ROLE"
  "$PG_BIN/psql" -w -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atq -v ON_ERROR_STOP=1 <<SQL
DO \$\$ BEGIN
  CREATE ROLE "$OPERATOR_ROLE" LOGIN CREATEROLE CREATEDB NOSUPERUSER NOBYPASSRLS;
EXCEPTION WHEN duplicate_object THEN NULL;
END \$\$;
GRANT SET ON PARAMETER temp_file_limit TO "$OPERATOR_ROLE";
GRANT pg_signal_backend, pg_read_all_stats TO "$OPERATOR_ROLE";
SQL
}

# Makes (or takes over) a database owned by the operator; prints nothing. The caller names what it
# is for: the control store, or the cell's tenant database.
ensure_database() { # NAME
  local name="$1"
  [[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]] || die "database name must match [a-z_][a-z0-9_]*: $name"
  [[ -n "${PG_PORT:-}" ]] || die "ensure_database needs ensure_postgres first"
  ensure_operator_role
  local psql=("$PG_BIN/psql" -w -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atq -v ON_ERROR_STOP=1 -v "db=$name" -v "op=$OPERATOR_ROLE")
  local owner
  owner="$("${psql[@]}" <<<"select pg_get_userbyid(datdba) from pg_database where datname = :'db'")"
  if [[ -z "$owner" ]]; then
    "${psql[@]}" <<<'create database :"db" owner :"op"'
    log "created database $name, owned by $OPERATOR_ROLE"
  elif [[ "$owner" != "$OPERATOR_ROLE" ]]; then
    # A stack from before the operator ran as a non-superuser: hand it the database and what the
    # operator made in it, so nothing stored is lost.
    log "handing database $name and its objects from $owner to $OPERATOR_ROLE"
    "${psql[@]}" <<<'alter database :"db" owner to :"op"'
    "$PG_BIN/psql" -w -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$name" -Atq -v ON_ERROR_STOP=1 -v "op=$OPERATOR_ROLE" <<'SQL'
SELECT set_config('openclaw.operator_role', :'op', false);
DO $$
DECLARE
  op text := current_setting('openclaw.operator_role');
  r record;
BEGIN
  FOR r IN SELECT n.nspname FROM pg_namespace n
           WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname NOT IN ('information_schema', 'public')
             AND pg_get_userbyid(n.nspowner) <> op LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.nspname, op);
  END LOOP;
  FOR r IN SELECT c.oid::regclass AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
             AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
             AND pg_get_userbyid(c.relowner) <> op LOOP
    EXECUTE format('ALTER TABLE %s OWNER TO %I', r.rel, op);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS fn FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
             AND pg_get_userbyid(p.proowner) <> op LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.fn, op);
  END LOOP;
END $$;
SQL
  fi
  # Hardening only a superuser may do (migration 0005 skips it under the operator): a self-managed
  # server's deployer does it once; RDS cannot (SECURITY.md).
  "$PG_BIN/psql" -w -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$name" -Atq -v ON_ERROR_STOP=1 <<'SQL'
REVOKE EXECUTE ON FUNCTION
  lo_create(oid), lo_creat(integer), lo_from_bytea(oid, bytea), lo_put(oid, bigint, bytea),
  lo_open(oid, integer), lo_get(oid), lo_get(oid, bigint, integer), lo_unlink(oid),
  lo_import(text), lo_import(text, oid), lo_export(oid, text)
FROM PUBLIC;
SQL
}

database_url() { # NAME
  printf 'postgres://%s@127.0.0.1:%s/%s\n' "$OPERATOR_ROLE" "$PG_PORT" "$1"
}

# --- moto -------------------------------------------------------------------------------------------
moto_answers() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null; }  # data.json fails once an RDS instance exists (moto 5.2.5)

# Prints the recorded moto PID if that process is alive and is a moto_server.
our_moto_pid() {
  local pid
  pid="$(cat "$PID_DIR/moto.pid" 2>/dev/null || true)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q moto_server &&
    printf '%s\n' "$pid"
}

start_moto() {
  local pid
  pid="$(our_moto_pid || true)"
  if [[ -z "$pid" ]]; then
    rm -f "$PID_DIR/moto.pid"
    moto_answers && die "something else already answers on 127.0.0.1:$MOTO_PORT (not our moto); stop it or set MOTO_PORT"
    log "starting moto on 127.0.0.1:$MOTO_PORT (log: $STATE_DIR/moto.log)"
    # A session of its own: Ctrl-C on the operator (run.sh) must not stop the emulator too.
    setsid nohup "$VENV/bin/python" "$LOCAL_DIR/moto_server.py" -H 127.0.0.1 -p "$MOTO_PORT" >>"$STATE_DIR/moto.log" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$PID_DIR/moto.pid"
  fi
  local deadline=$((SECONDS + 30))
  until moto_answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -20 "$STATE_DIR/moto.log" >&2 || true
      rm -f "$PID_DIR/moto.pid"
      die "moto exited before answering on port $MOTO_PORT (log above: $STATE_DIR/moto.log)"
    elif ((SECONDS >= deadline)); then
      tail -20 "$STATE_DIR/moto.log" >&2 || true
      die "moto (pid $pid) did not answer http://127.0.0.1:$MOTO_PORT/moto-api/ within 30 s (log above); down.sh stops it"
    fi
    sleep 0.2
  done
  export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
}

stop_moto() {
  local pid
  pid="$(our_moto_pid || true)"
  if [[ -n "$pid" ]]; then
    kill -TERM "$pid"
    local deadline=$((SECONDS + 15))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "moto (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped moto (pid $pid)"
  fi
  rm -f "$PID_DIR/moto.pid"
}

stop_all() {
  stop_moto
  stop_throwaway_postgres
  rm -f "$STATE_DIR/stack.env"
}
