#!/usr/bin/env bash
# The change archive under load: pgbench at a steady rate against a server with
# `changes = "logical"`, in one run:
#   - a full snapshot (wall time, source CPU, bytes stored), the reference for every ratio;
#   - pgbench's own tps without and with `doppel changes run` running (source overhead), and the
#     most WAL the slot held back;
#   - archive lag: from pgbench's last commit to "complete up to" passing it;
#   - storage of the archive per minute of pgbench, against the full snapshot's;
#   - a snapshot right after pgbench, and an idle one (nothing changed since): wall time
#     and source CPU against the full snapshot's;
#   - storage of a uniform 1% update of pgbench_accounts in the archive, against the full
#     snapshot's;
#   - restore to the last commit (base restore, then replay): replay changes/s;
#   - `schedule run` keeping the archive: a slot between base snapshots, served by the archive
#     (the time the scheduler took to decide, and the source CPU over that slot's minute beside
#     the archive's own backend).
#
#   bash benches/changes.sh [--scale N] [--rate TPS] [--seconds S] [--out FILE]
#
# It starts its own throwaway PostgreSQL 15 cluster (never the one on 5432) with
# wal_level = logical, and removes everything on exit. Environment: DOPPEL_BIN (default
# target/release/doppel, built if missing), PG_BIN (default /usr/lib/postgresql/15/bin).
set -euo pipefail

SCALE=100
RATE=200
SECONDS_RUN=120
OUT=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --scale) SCALE="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --seconds) SECONDS_RUN="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "changes.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
for n in "$SCALE" "$RATE" "$SECONDS_RUN"; do
    [[ "$n" =~ ^[0-9]+$ && "$n" -ge 1 ]] || { echo "changes.sh: '$n' is not a positive number" >&2; exit 2; }
done

REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_USER=doppel-pg
DOPPEL="${DOPPEL_BIN:-$REPO_ROOT/target/release/doppel}"
log() { printf '[changes %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -x "$PG_BIN/initdb" && -x "$PG_BIN/pgbench" ]] || die "no PostgreSQL 15 in $PG_BIN"
[[ "$(id -u)" == 0 ]] || die "run as root: the server runs as $PG_USER"
id "$PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home "$PG_USER"
if [[ ! -x "$DOPPEL" ]]; then
    log "building doppel (release)"
    (cd "$REPO_ROOT" && cargo build --release --quiet)
fi

WORK="$(mktemp -d /tmp/doppel-changes.XXXXXX)"
chmod 755 "$WORK"
PGDATA="$WORK/pgdata"
UP=0
ARCHIVER=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n "$ARCHIVER" ]] && { kill "$ARCHIVER" 2>/dev/null; wait "$ARCHIVER" 2>/dev/null; } || true
    [[ "$UP" == 1 ]] && runuser -u "$PG_USER" -- "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir "$PGDATA" && chown "$PG_USER:" "$PGDATA" && chmod 700 "$PGDATA"
runuser -u "$PG_USER" -- "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C.utf8 --no-sync >"$WORK/initdb.log" 2>&1 || die "initdb failed"
cat >>"$PGDATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGDATA'
shared_buffers = 1GB
max_wal_size = 8GB
fsync = off
full_page_writes = off
wal_level = logical
max_wal_senders = 4
max_replication_slots = 4
autovacuum = off
EOF
PORT=$(( 20000 + RANDOM % 30000 ))
runuser -u "$PG_USER" -- "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -o "-p $PORT" -w -t 60 start >/dev/null
UP=1
PM="$(head -n 1 "$PGDATA/postmaster.pid")"
psql() { "$PG_BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qAtX "$@"; }
psql -d postgres -c "CREATE DATABASE bench"
log "pgbench -i -s $SCALE"
"$PG_BIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -i -s "$SCALE" -q bench >/dev/null 2>&1
psql -d bench -c "VACUUM ANALYZE" >/dev/null

cat >"$WORK/doppel.toml" <<EOF
[repository]
path = "$WORK/repo"

[environments.prod]
role = "production"
url = "postgresql://postgres@127.0.0.1:$PORT/bench"
changes = "logical"
EOF
export DOPPEL_CONFIG="$WORK/doppel.toml" DOPPEL_PG_BIN="$PG_BIN"
doppel() { "$DOPPEL" "$@"; }

# Source CPU in clock ticks: the postmaster, its reaped children and its live ones, except
# the archiver's own backend (ARCH_PID), which is measured apart.
ARCH_PID=""
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
source_cpu() {
    local total child
    total=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$PM/stat")
    for child in $(pgrep -P "$PM"); do
        [[ "$child" == "$ARCH_PID" ]] && continue
        total=$(( total + $(ticks "$child") ))
    done
    echo "$total"
}
now() { date +%s.%N; }
repo_bytes() { du -sb "$WORK/repo" 2>/dev/null | cut -f1; }
# measure LABEL CMD...: wall seconds and source CPU ticks of CMD, into W_LABEL and C_LABEL.
measure() {
    local label="$1"; shift
    local c0 t0
    c0=$(source_cpu); t0=$(now)
    "$@" >/dev/null
    printf -v "W_$label" '%s' "$(echo "$(now) - $t0" | bc -l)"
    printf -v "C_$label" '%s' "$(( $(source_cpu) - c0 ))"
}

doppel changes setup >/dev/null
log "full snapshot"
B0=$(repo_bytes || echo 0)
measure full doppel snapshot
FULL_STORED=$(( $(repo_bytes) - B0 ))

log "pgbench alone, $SECONDS_RUN s at $RATE tps"
TPS_ALONE=$("$PG_BIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -n -c 4 -j 2 -R "$RATE" -T "$SECONDS_RUN" bench 2>/dev/null \
    | awk '/^tps/ { print $3; exit }')

log "starting the archive (slot + base)"
"$DOPPEL" changes run --poll 0.2 >"$WORK/archive.log" 2>&1 &
ARCHIVER=$!
until doppel changes status --json 2>/dev/null | grep -q '"segments"'; do
    kill -0 "$ARCHIVER" 2>/dev/null || { cat "$WORK/archive.log" >&2; die "changes run stopped"; }
    sleep 0.5
done
B1=$(repo_bytes)
ARCH_PID=$(psql -d bench -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'doppel changes run'" | head -n 1)

log "pgbench with the archive running, $SECONDS_RUN s at $RATE tps"
MAX_HELD=0
(
    while sleep 2; do
        psql -d bench -c "SELECT coalesce(max((pg_current_wal_lsn() - restart_lsn)::bigint), 0) FROM pg_replication_slots" 2>/dev/null || true
    done
) >"$WORK/held.txt" &
WATCH=$!
A0=$(ticks "$ARCH_PID"); S0=$(source_cpu)
TPS_WITH=$("$PG_BIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -n -c 4 -j 2 -R "$RATE" -T "$SECONDS_RUN" bench 2>/dev/null \
    | awk '/^tps/ { print $3; exit }')
END_COMMIT=$(psql -d bench -c "SELECT extract(epoch FROM clock_timestamp())")
ARCH_CPU=$(( $(ticks "$ARCH_PID") - A0 )); REST_CPU=$(( $(source_cpu) - S0 ))
kill "$WATCH" 2>/dev/null || true
MAX_HELD=$(sort -n "$WORK/held.txt" | tail -n 1)
CHANGED=$(( $(psql -d bench -c "SELECT count(*) FROM pgbench_history") ))
LAG=""
for _ in $(seq 1 600); do
    CAUGHT=$(doppel changes status --json 2>/dev/null | python3 -c 'import json,sys,datetime as d
a = json.load(sys.stdin).get("archive") or {}
c = a.get("caught_up")
print(d.datetime.fromisoformat(c.replace("Z", "+00:00")).timestamp() if c else 0)')
    if (( $(echo "$CAUGHT >= $END_COMMIT" | bc -l) )); then
        LAG=$(echo "$(now) - $END_COMMIT" | bc -l)
        break
    fi
    sleep 0.1
done
ARCHIVE_STORED=$(( $(repo_bytes) - B1 ))

# caught_up_to EPOCH: waits until the archive is complete up to EPOCH.
caught_up_to() {
    for _ in $(seq 1 1200); do
        CAUGHT=$(doppel changes status --json 2>/dev/null | python3 -c 'import json,sys,datetime as d
a = json.load(sys.stdin).get("archive") or {}
c = a.get("caught_up")
print(d.datetime.fromisoformat(c.replace("Z", "+00:00")).timestamp() if c else 0)')
        (( $(echo "$CAUGHT >= $1" | bc -l) )) && return 0
        sleep 0.1
    done
    die "the archive did not catch up"
}
log "a uniform 1% update of pgbench_accounts"
B2=$(repo_bytes)
UPDATED=$(psql -d bench -c "WITH u AS (UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 100 = 0 RETURNING 1) SELECT count(*) FROM u")
END_COMMIT=$(psql -d bench -c "SELECT extract(epoch FROM clock_timestamp())")
caught_up_to "$END_COMMIT"
UPDATE_STORED=$(( $(repo_bytes) - B2 ))

log "a snapshot after pgbench, then an idle one"
measure point doppel snapshot
measure idle doppel snapshot
kill "$ARCHIVER"; wait "$ARCHIVER" 2>/dev/null || true; ARCHIVER=""

log "restore to the last commit"
AT=$(date -u -d "@$END_COMMIT" +%Y-%m-%dT%H:%M:%S.%NZ)
# The newest base at or before the last commit is the archive's first one: restore --at T
# replays everything pgbench did.
doppel list --json >"$WORK/list.json"
REPORT=$(doppel restore --at "$AT" --target-url "postgresql://postgres@127.0.0.1:$PORT/at_t" --json)
REPLAY=$(echo "$REPORT" | python3 -c 'import json,sys
r = json.load(sys.stdin); p = r.get("replay") or {}
ms = max(p.get("duration_ms", 0), 1)
print(r["duration_ms"], p.get("changes", 0), ms, round(p.get("changes", 0) * 1000 / ms))')
read -r RESTORE_MS REPLAY_CHANGES REPLAY_MS REPLAY_RATE <<<"$REPLAY"

log "schedule run keeping the archive: waiting for slots it serves"
DAEMON_PORT=$(( 20000 + RANDOM % 30000 ))
printf '%s\n' 'changes_base_every = "1h"' '' '[retention]' 'tiers = ["1m@1h", "1h@1d"]' '' \
    '[schedule]' "listen = \"127.0.0.1:$DAEMON_PORT\"" >>"$WORK/doppel.toml"
"$DOPPEL" -v schedule run >"$WORK/daemon.log" 2>&1 &
ARCHIVER=$!
served() { grep -c "slot served by the change archive" "$WORK/daemon.log" || true; }
SERVED=""
for _ in $(seq 1 1800); do
    kill -0 "$ARCHIVER" 2>/dev/null || { cat "$WORK/daemon.log" >&2; die "schedule run stopped"; }
    if [[ -z "$SERVED" ]] && (( $(served) > 0 )); then
        # From one served slot to the next: the source's CPU over a whole slot.
        SERVED=$(served)
        ARCH_PID=$(psql -d bench -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'doppel changes run'" | head -n 1)
        A0=$(ticks "$ARCH_PID"); S0=$(source_cpu)
    fi
    if [[ -n "$SERVED" ]] && (( $(served) > SERVED )); then
        SLOT_ARCH_CPU=$(( $(ticks "$ARCH_PID") - A0 )); SLOT_CPU=$(( $(source_cpu) - S0 ))
        break
    fi
    sleep 0.1
done
[[ -n "${SLOT_CPU:-}" ]] || { tail -n 20 "$WORK/daemon.log" >&2; die "no two slots served by the archive in 3 minutes"; }
SERVED_MS=$(grep "slot served by the change archive" "$WORK/daemon.log" | tail -n 1 | sed -n 's/.*took_ms=\([0-9]*\).*/\1/p')
SNAPSHOTS_BY_DAEMON=$(grep -c "snapshot taken" "$WORK/daemon.log" || true)
kill "$ARCHIVER"; wait "$ARCHIVER" 2>/dev/null || true; ARCHIVER=""

ratio() { echo "scale=1; 100 * $1 / $2" | bc -l; }
{
    echo "| measure | value | against the full snapshot |"
    echo "|---|---|---|"
    echo "| full snapshot (pgbench -s $SCALE) | $(printf %.2f "$W_full") s wall, $C_full CPU ticks on the source, $FULL_STORED B stored | 100% |"
    echo "| snapshot after $SECONDS_RUN s of pgbench (unchanged tables reused) | $(printf %.2f "$W_point") s, $C_point ticks | $(ratio "$W_point" "$W_full")% wall, $(ratio "$C_point" "$C_full")% source CPU |"
    echo "| snapshot with nothing changed since | $(printf %.2f "$W_idle") s, $C_idle ticks | $(ratio "$W_idle" "$W_full")% wall, $(ratio "$C_idle" "$C_full")% source CPU |"
    echo "| archive storage for $SECONDS_RUN s of pgbench ($CHANGED transactions) | $ARCHIVE_STORED B | $(ratio "$ARCHIVE_STORED" "$FULL_STORED")% of the full snapshot's storage |"
    echo "| uniform 1% update of pgbench_accounts ($UPDATED rows) in the archive | $UPDATE_STORED B | $(ratio "$UPDATE_STORED" "$FULL_STORED")% of the full snapshot's storage |"
    echo "| scheduled slot served by the archive (schedule run, changes_base_every = 1h; the daemon took $SNAPSHOTS_BY_DAEMON snapshots before) | decided in ${SERVED_MS:-?} ms; $SLOT_CPU CPU ticks on the source over one slot besides the archive's backend ($SLOT_ARCH_CPU) | $(ratio "${SERVED_MS:-0}" "$(echo "$W_full * 1000" | bc -l)")% wall, $(ratio "$SLOT_CPU" "$C_full")% source CPU |"
    echo "| archive lag, last commit → stored | ${LAG:-not caught up in 60 s} s | |"
    echo "| pgbench tps (rate $RATE) alone / with the archive | $TPS_ALONE / $TPS_WITH | |"
    echo "| the archive's backend on the source during pgbench | $ARCH_CPU CPU ticks, beside $REST_CPU for the rest of the server (pgbench's sessions) | $(ratio "$ARCH_CPU" "$REST_CPU")% of the server's other CPU |"
    echo "| most WAL the slot held back | $MAX_HELD B | |"
    echo "| restore --at the last commit | $RESTORE_MS ms in all; replay $REPLAY_CHANGES changes in $REPLAY_MS ms = $REPLAY_RATE changes/s | |"
} | tee ${OUT:+"$OUT"}
