#!/usr/bin/env bash
# End-to-end comparison: doppel snapshot/restore against pg_dump/pg_restore and against the
# raw export limit (COPY TO STDOUT, with and without zstd -3), on the same data, in one run.
#
#   bash benches/e2e.sh [--scale N] [--wide-rows N] [--repeat N] [--jobs N] [--out FILE]
#                       [--high-priority] [--core-only] [--s3] [--subset]
#                       [--wal-level minimal|replica]
#
# It starts its own throwaway PostgreSQL 15 cluster (never the one on 5432), loads
# `pgbench -i -s SCALE` plus a wide table of person-like rows, times every tool, and prints a
# Markdown table. Everything it starts is stopped and removed on exit, failure included.
# --high-priority (root) runs the bench and its server at nice -19, for a machine that other
# work shares: without it, such work takes a fair share of the CPUs in the middle of a step.
# --core-only leaves out the anonymization and reset steps: for the one-big-table runs
# (`--scale 1 --wide-rows 10000000`), where they would double the time and the disk.
# --s3 also snapshots to and restores from a SeaweedFS on loopback (`$DOPPEL_WEED`, `weed` on
# the PATH, or the venv .ci/run installs), and reports the ratio to the local-disk repository,
# the objects each snapshot writes and what an unchanged second snapshot uploads.
# --subset loads pgbench with its foreign keys and also times a referentially complete 1%
# subset of pgbench_accounts (percent = 1, with its closure) against a snapshot of the whole
# database under the same keep-everything rules, and the restore of each: for the 5M-row
# table, `--scale 50 --wide-rows 0 --core-only --subset`.
# --wal-level replica runs the server with PostgreSQL's default WAL level (what a staging or
# prod-copy server has) instead of minimal, under which a table created and loaded in one
# transaction writes no WAL: pg_restore's single stream per table gets that, a table loaded
# in parts by several sessions cannot.
#
# Environment: DOPPEL_BIN (default: target/release/doppel, built with cargo if missing) and
# DOPPEL_REV (the commit it was built from, for the report),
# PG_BIN (default /usr/lib/postgresql/15/bin), KEEP_WORKDIR=1 to leave the data behind.
set -euo pipefail

# ---------------------------------------------------------------------------------------------
# Options

SCALE=20
WIDE_ROWS=1000000
REPEAT=1
JOBS=2
OUT=""
HIGH_PRIORITY=0
CORE_ONLY=0
S3=0
SUBSET=0
WAL_LEVEL=minimal

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit "${1:-2}"
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --scale) SCALE="$2"; shift 2 ;;
        --wide-rows) WIDE_ROWS="$2"; shift 2 ;;
        --repeat) REPEAT="$2"; shift 2 ;;
        --jobs|-j) JOBS="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --high-priority) HIGH_PRIORITY=1; shift ;;
        --core-only) CORE_ONLY=1; shift ;;
        --s3) S3=1; shift ;;
        --subset) SUBSET=1; shift ;;
        --wal-level) WAL_LEVEL="$2"; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "e2e.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
for n in "$SCALE" "$WIDE_ROWS" "$REPEAT" "$JOBS"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "e2e.sh: '$n' is not a number" >&2; exit 2; }
done
[[ "$WAL_LEVEL" == minimal || "$WAL_LEVEL" == replica ]] || { echo "e2e.sh: --wal-level is minimal or replica" >&2; exit 2; }
[[ "$REPEAT" -ge 1 && "$JOBS" -ge 1 ]] || { echo "e2e.sh: --repeat and --jobs must be >= 1" >&2; exit 2; }

REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_USER=doppel-pg          # initdb and postgres refuse to run as root
DB=bench

log() { printf '[e2e %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Prerequisites

check_tools() {
    [[ -x "$PG_BIN/initdb" ]] || die "no PostgreSQL 15 server in $PG_BIN (apt-get install postgresql-15)"
    command -v zstd >/dev/null || die "zstd is missing (apt-get install zstd)"
    if [[ ! -x /usr/bin/time ]]; then
        # GNU time is what reports peak RSS (%M); the shell keyword cannot.
        log "installing GNU time"
        apt-get install -y -qq time >/dev/null || die "cannot install the 'time' package"
    fi
    if ! id "$PG_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
    fi
    DOPPEL="${DOPPEL_BIN:-$REPO_ROOT/target/release/doppel}"
    if [[ ! -x "$DOPPEL" ]]; then
        log "building doppel (release)"
        (cd "$REPO_ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
    fi
}

# ---------------------------------------------------------------------------------------------
# Throwaway cluster, and cleanup of everything we started

WORK=""
PGDATA=""
PORT=""
CLUSTER_UP=0
WEED_PID=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # Children first (a pipeline of psql/zstd, a pg_dump), so that the server can stop.
    local pids
    pids="$(jobs -p)" || true
    [[ -n "$pids" ]] && kill $pids 2>/dev/null || true
    [[ -n "$WEED_PID" ]] && { kill "$WEED_PID" 2>/dev/null; wait "$WEED_PID" 2>/dev/null; } || true
    if [[ "$CLUSTER_UP" == 1 ]]; then
        runuser -u "$PG_USER" -- "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [[ -n "$WORK" && -d "$WORK" ]]; then
        if [[ "${KEEP_WORKDIR:-0}" == 1 ]]; then
            log "kept $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nobody listens on; 5432 and its neighbours are left alone. The server may still lose
# the race for it, so start_cluster retries with another one.
pick_port() {
    local p
    while :; do
        p=$(( 20000 + RANDOM % 30000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
}

# With autogroup scheduling (the Linux default), nice only ranks processes within their own
# session, and the postmaster starts a session of its own: both groups are raised.
raise_priority() { # raise_priority PID...
    local p
    for p in "$@"; do
        renice -n -19 -p "$p" >/dev/null
        [[ -w "/proc/$p/autogroup" ]] && echo -19 >"/proc/$p/autogroup" 2>/dev/null || true
    done
}

start_cluster() {
    WORK="$(mktemp -d /tmp/doppel-e2e.XXXXXX)"
    chmod 755 "$WORK"                     # the server user must reach its data dir
    PGDATA="$WORK/pgdata"
    mkdir "$PGDATA"
    chown "$PG_USER:" "$PGDATA"
    chmod 700 "$PGDATA"
    log "initdb in $PGDATA"
    runuser -u "$PG_USER" -- "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C.utf8 --no-sync >"$WORK/initdb.log" 2>&1 \
        || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
    # Speed over durability: this data is thrown away, and every tool sees the same settings.
    cat >>"$PGDATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGDATA'
shared_buffers = 1GB
max_wal_size = 4GB
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = $WAL_LEVEL
$( [[ "$WAL_LEVEL" == minimal ]] && echo "max_wal_senders = 0" )
# The loaded data is frozen and analyzed once; autovacuum would otherwise analyze what one
# restore step wrote while the next step is being timed.
autovacuum = off
EOF
    local attempt
    for attempt in 1 2 3 4 5; do
        PORT="$(pick_port)"
        if runuser -u "$PG_USER" -- "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" \
            -o "-p $PORT" -w -t 60 start >/dev/null 2>&1; then
            CLUSTER_UP=1
            log "PostgreSQL up on 127.0.0.1:$PORT"
            if (( HIGH_PRIORITY )); then
                # Backends fork from the postmaster and inherit its priority.
                raise_priority "$(head -n 1 "$PGDATA/postmaster.pid")"
            fi
            return
        fi
        log "start on port $PORT failed (attempt $attempt)"
    done
    tail -n 30 "$PGDATA/server.log" >&2 || true
    die "cannot start PostgreSQL"
}

# Clients run as root over TCP; trust auth, so no password is involved.
export PGHOST=127.0.0.1 PGUSER=postgres PGSSLMODE=disable
psql_db() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -p "$PORT" "$@"; }

# ---------------------------------------------------------------------------------------------
# Data

load_data() {
    log "pgbench -i -s $SCALE"
    "$PG_BIN/createdb" -p "$PORT" "$DB"
    local fks=()
    (( SUBSET )) && fks=(--foreign-keys)
    "$PG_BIN/pgbench" -i -q "${fks[@]}" -s "$SCALE" -p "$PORT" "$DB" >"$WORK/pgbench.log" 2>&1 \
        || { cat "$WORK/pgbench.log" >&2; die "pgbench -i failed"; }

    log "wide table: $WIDE_ROWS person-like rows"
    # Deterministic: every value is a function of the row number. Names, cities and streets
    # come from small arrays (so they repeat, as real ones do); md5 supplies the parts that
    # don't (email local parts, phone digits, bios), so the data neither compresses to nothing
    # nor looks like noise.
    psql_db -d "$DB" <<SQL
CREATE TABLE people (
    id          bigint PRIMARY KEY,
    first_name  text NOT NULL,
    last_name   text NOT NULL,
    email       text NOT NULL,
    street      text,
    city        text,
    postcode    text,
    phone       text,
    profile     jsonb,
    created_at  timestamptz NOT NULL
);
INSERT INTO people
SELECT i,
       f, l,
       lower(f) || '.' || lower(replace(l, '''', '')) || substr(h, 1, 4) || '@'
           || (ARRAY['example.com','mail.example.org','corp.example.net','post.example.de'])[1 + i % 4],
       (1 + (i * 37) % 1999)::text || ' '
           || (ARRAY['Main','Oak','Pine','Maple','Cedar','Elm','Station','Church','Mill','Lake',
                     'Hill','Park','Bridge','Garden','Victoria','King'])[1 + (i * 11) % 16] || ' '
           || (ARRAY['Street','Road','Avenue','Lane','Way','Close'])[1 + (i * 5) % 6],
       (ARRAY['London','Paris','Berlin','Madrid','Rome','Lisbon','Vienna','Prague','Warsaw',
              'Dublin','Oslo','Zürich','Kraków','Göteborg','Porto','Lyon'])[1 + (i * 13) % 16],
       lpad(((i * 7919) % 100000)::text, 5, '0'),
       '+' || (30 + i % 20)::text || ' ' || translate(substr(h, 5, 10), 'abcdef', '123456'),
       jsonb_build_object(
           'bio', f || ' ' || l || ' joined via ' || (ARRAY['web','ios','android','partner'])[1 + i % 4],
           'tags', jsonb_build_array('t' || (i % 50), 't' || (i % 7)),
           'score', (i * 31) % 1000,
           'newsletter', i % 3 = 0,
           'token', substr(md5(h), 1, 16)),
       timestamptz '2020-01-01 00:00:00+00' + i * interval '97 seconds'
FROM (
    SELECT i, md5(i::text) AS h,
           (ARRAY['Ada','Grace','Alan','Edsger','Barbara','Ken','José','Zoë','Margaret','Linus',
                  'Frances','Donald','Radia','Niklaus','Sophie','John','Katherine','Tim',
                  'Hedy','Dennis'])[1 + i % 20] AS f,
           (ARRAY['Lovelace','Hopper','Turing','Dijkstra','Liskov','Thompson','O''Brien',
                  'Hamilton','Torvalds','Allen','Knuth','Perlman','Wirth','Wilson','McCarthy',
                  'Johnson','Berners-Lee','Lamarr','Ritchie','Müller','Nguyen','García',
                  'Kowalski','Svensson','Rossi'])[1 + (i * 7) % 25] AS l
    FROM generate_series(1::bigint, $WIDE_ROWS) AS i
) g;
CREATE INDEX people_email ON people (email);
VACUUM (FREEZE, ANALYZE);
CHECKPOINT;
SQL

    # Largest first, as doppel and pg_dump -j schedule them, so that the two parallel COPY
    # streams of the raw-export baseline finish together.
    mapfile -t TABLES < <(psql_db -d "$DB" -At -c "
        SELECT format('%I.%I', n.nspname, c.relname)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        ORDER BY pg_relation_size(c.oid) DESC, 1")
    ROWS="$(psql_db -d "$DB" -At -c "SELECT sum(n_live_tup) FROM pg_stat_user_tables")"

    (( CORE_ONLY )) && return
    # The wide table alone, for the anonymization cost: raw and anonymized snapshots of the
    # same database, so that the ratio is the rules' cost on that table and nothing else.
    log "people-only database for the anonymization steps"
    "$PG_BIN/createdb" -p "$PORT" people_only
    "$PG_BIN/pg_dump" -p "$PORT" -t public.people "$DB" | psql_db -d people_only >/dev/null
    psql_db -d people_only -c "VACUUM (FREEZE, ANALYZE)" >/dev/null
    PEOPLE_BYTES="$(psql_db -d people_only -c "COPY people TO STDOUT" | wc -c)"
}

# Bytes of COPY text (the unit of every MB/s below) and what zstd -3 makes of them, measured
# untimed, table by table. This also leaves every table in the page cache before any timed
# step, so no tool pays for cold reads that the next one is spared.
measure_volume() {
    log "measuring COPY text volume"
    COPY_BYTES=0
    ZSTD_BYTES=0
    local t n z
    for t in "${TABLES[@]}"; do
        n="$(psql_db -d "$DB" -c "COPY $t TO STDOUT" | wc -c)"
        z="$(psql_db -d "$DB" -c "COPY $t TO STDOUT" | zstd -3 -q -c | wc -c)"
        COPY_BYTES=$(( COPY_BYTES + n ))
        ZSTD_BYTES=$(( ZSTD_BYTES + z ))
    done
}

# ---------------------------------------------------------------------------------------------
# Timing

# Busy jiffies of the whole machine, from /proc/stat: with the client's own CPU time (from
# GNU time) this splits a step's work between the tool and the PostgreSQL backends.
busy_jiffies() {
    local _cpu user nice system idle iowait irq softirq steal _rest
    read -r _cpu user nice system idle iowait irq softirq steal _rest </proc/stat
    echo $(( user + nice + system + irq + softirq + steal ))
}
HZ="$(getconf CLK_TCK)"

# CPU jiffies spent by the cluster: the postmaster's cutime/cstime hold every backend that has
# exited (it reaps them), plus the live children (checkpointer, walwriter, backends still
# running). Fields 14-17 of /proc/PID/stat; the command name "(postgres)" has no spaces.
server_jiffies() {
    local pm c total=0
    pm="$(head -n 1 "$PGDATA/postmaster.pid")"
    total=$(awk '{ print $16 + $17 }' "/proc/$pm/stat")
    for c in $(pgrep -P "$pm"); do
        total=$(( total + $(awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null || echo 0) ))
    done
    echo "$total"
}

# Waits until the backends of the step that just ended have exited, so that their CPU time
# is in the postmaster's cutime when server_jiffies reads it.
wait_backends_gone() {
    local pm i
    pm="$(head -n 1 "$PGDATA/postmaster.pid")"
    for (( i = 0; i < 50; i++ )); do
        [[ "$(pgrep -P "$pm" | wc -l)" -le "$IDLE_CHILDREN" ]] && return
        sleep 0.1
    done
}

# Before every timed run: flush what the previous step left dirty (shared buffers, then the
# kernel's page cache), so that no step pays for the writes of the one before it.
settle() {
    psql_db -d postgres -c CHECKPOINT
    sync
    wait_backends_gone
}

declare -A WALL RSS CPU_CLIENT CPU_SERVER CPU_OTHER SIZE

# run_step NAME PREPARE_FN COMMAND...: runs PREPARE_FN (untimed: remove old output, create a
# target database), then COMMAND under GNU time, once; keeps the fastest run of each step.
# GNU time's %M is the peak RSS of the largest process in the tree (pg_dump -j workers and
# psql|zstd pipelines included, the server's backends not), %U+%S their CPU seconds. The
# machine's busy time minus the client's and the server's is "other": kernel threads and
# whatever else runs on the machine; a large "other" means the step shared the CPUs.
run_step() {
    local name="$1" prepare="$2"
    shift 2
    local t0 t1 j0 j1 s0 s1 wall rss cpu server other
    "$prepare"
    settle
    log "$name (round $ROUND/$REPEAT)"
    j0="$(busy_jiffies)"
    s0="$(server_jiffies)"
    t0="$(date +%s.%N)"
    /usr/bin/time -f '%M %U %S' -o "$WORK/time.out" "$@" >"$WORK/step.log" 2>&1 \
        || { tail -n 30 "$WORK/step.log" >&2; die "$name failed"; }
    t1="$(date +%s.%N)"
    j1="$(busy_jiffies)"
    wait_backends_gone
    s1="$(server_jiffies)"
    wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
    read -r rss cpu < <(awk '{ printf "%.0f %.2f\n", $1 / 1024, $2 + $3 }' "$WORK/time.out")
    server="$(awk -v a="$s0" -v b="$s1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')"
    other="$(awk -v a="$j0" -v b="$j1" -v hz="$HZ" -v c="$cpu" -v s="$server" \
        'BEGIN { o = (b - a) / hz - c - s; printf "%.2f", o < 0 ? 0 : o }')"
    log "$name: ${wall}s, peak RSS ${rss} MB, CPU s: client ${cpu}, server ${server}, other ${other}"
    if [[ -z "${WALL[$name]:-}" ]] || awk -v a="$wall" -v b="${WALL[$name]}" 'BEGIN { exit !(a < b) }'; then
        WALL[$name]="$wall"; RSS[$name]="$rss"; CPU_CLIENT[$name]="$cpu"
        CPU_SERVER[$name]="$server"; CPU_OTHER[$name]="$other"
    fi
}

nothing() { :; }

# The raw-export baseline: JOBS psql processes at a time over the table list (largest first,
# one table per line in tables.txt), which is what a dumper limited only by the server's COPY
# output would achieve. xargs rather than a shell function, so that GNU time can run it.
EXPORT_ONE='
    if [[ "$1" == zstd ]]; then
        "$2/psql" -X -q -v ON_ERROR_STOP=1 -p "$3" -d "$4" -c "COPY $5 TO STDOUT" | zstd -3 -q -c >/dev/null
    else
        "$2/psql" -X -q -v ON_ERROR_STOP=1 -p "$3" -d "$4" -c "COPY $5 TO STDOUT" >/dev/null
    fi'
export_cmd() { # export_cmd raw|zstd: the command line for run_step
    EXPORT=(xargs -a "$WORK/tables.txt" -P "$JOBS" -I{} bash -c "set -o pipefail; $EXPORT_ONE" _ "$1" "$PG_BIN" "$PORT" "$DB" {})
}

quiet_dropdb() { PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/dropdb" -p "$PORT" --if-exists "$1"; }
prep_fc() { rm -f "$WORK/dump.fc"; }
prep_fd() { rm -rf "$WORK/dump.fd"; }
prep_doppel() {
    # A fresh repository every run: a second snapshot into the same one would find every
    # chunk already stored and measure dedup, not a snapshot.
    rm -rf "$WORK/doppel/repo"
}
prep_people() { rm -rf "$WORK/doppel/people-repo"; }
prep_reset() {
    # Untimed: a restore into the pristine environment, which keeps its template copy; the
    # timed step then resets it after a (small) destructive change.
    quiet_dropdb restore_copy_doppel_pristine
    quiet_dropdb restore_copy
    "$DOPPEL" --config "$WORK/doppel/doppel.toml" restore latest --to copy -j "$JOBS" >/dev/null
    psql_db -d restore_copy -c "DELETE FROM pgbench_branches" >/dev/null
}
prep_pg_restore() {
    quiet_dropdb restore_pg
    "$PG_BIN/createdb" -p "$PORT" restore_pg
}
prep_doppel_restore() {
    # doppel restore creates its target itself (and counts that in its time).
    quiet_dropdb restore_doppel
}

write_doppel_config() {
    mkdir -p "$WORK/doppel"
    cat >"$WORK/doppel/doppel.toml" <<EOF
[repository]
path = "repo"
compression_level = 3

[snapshot]
jobs = $JOBS
pg_bin = "$PG_BIN"

[environments.source]
role = "production"
url = "postgresql://postgres@127.0.0.1:$PORT/$DB?sslmode=disable"

[environments.copy]
role = "prod-copy"
url = "postgresql://postgres@127.0.0.1:$PORT/restore_copy?sslmode=disable"
pristine = true
EOF
    # The anonymization steps use a repository of their own: the restore step reads the
    # main one.
    cat >"$WORK/doppel/people.toml" <<EOF
[repository]
path = "people-repo"
compression_level = 3

[snapshot]
jobs = $JOBS
pg_bin = "$PG_BIN"

[environments.people]
role = "production"
url = "postgresql://postgres@127.0.0.1:$PORT/people_only?sslmode=disable"
EOF
    # Rules on 5 of the wide table's 10 columns; the rest kept explicitly (strict coverage).
    mkdir -p "$WORK/doppel/rules"
    cp "$REPO_ROOT/benches/rules/people.toml" "$WORK/doppel/rules/people.toml"
    if (( SUBSET )); then
        # Every table kept as it is (strict coverage), and the same plus a 1% subset.
        mkdir -p "$WORK/doppel/rules-keep" "$WORK/doppel/rules-subset"
        {
            echo "version = 1"
            local t
            for t in "${TABLES[@]}"; do
                printf '[tables."%s"]\ndecision = "keep"\n' "$t"
            done
        } >"$WORK/doppel/rules-keep/keep.toml"
        cp "$WORK/doppel/rules-keep/keep.toml" "$WORK/doppel/rules-subset/keep.toml"
        printf '%s\n' "version = 1" "[subset]" "seed = 1" "[[subset.targets]]" \
            'table = "public.pgbench_accounts"' "percent = 1" >"$WORK/doppel/rules-subset/subset.toml"
    fi
    # A throwaway key for the bench only.
    DOPPEL_ANON_KEY="e2e-bench-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    export DOPPEL_ANON_KEY
}

# SeaweedFS for --s3: every port free, one bucket, ready when a signed PUT succeeds.
start_seaweed() {
    local weed="${DOPPEL_WEED:-}"
    [[ -z "$weed" ]] && weed="$(command -v weed || true)"
    [[ -z "$weed" ]] && weed="${XDG_CACHE_HOME:-$HOME/.cache}/doppel/seaweedfs-4.48/bin/weed"
    [[ -x "$weed" ]] || die "--s3 needs SeaweedFS: set DOPPEL_WEED (bash .ci/run installs it)"
    local ports
    read -r -a ports < <(python3 -c 'import socket
ss=[socket.socket() for _ in range(10)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(*[s.getsockname()[1] for s in ss])')
    S3_PORT="${ports[0]}"
    export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecretvalue AWS_EC2_METADATA_DISABLED=true
    mkdir -p "$WORK/weed/data"
    printf '{"identities":[{"name":"bench","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List"]}]}' \
        "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$WORK/weed/keys.json"
    "$weed" mini -dir="$WORK/weed/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.port="$S3_PORT" \
        -s3.config="$WORK/weed/keys.json" -bucket=doppel-bench -admin.ui=false -webdav=false \
        -s3.port.iceberg=0 -s3.port.lance=0 -volume.max=16 \
        -master.port="${ports[1]}" -master.port.grpc="${ports[2]}" -volume.port="${ports[3]}" \
        -volume.port.grpc="${ports[4]}" -filer.port="${ports[5]}" -filer.port.grpc="${ports[6]}" \
        -s3.port.grpc="${ports[7]}" -admin.port="${ports[8]}" -admin.port.grpc="${ports[9]}" \
        >"$WORK/weed/log" 2>&1 &
    WEED_PID=$!
    (( HIGH_PRIORITY )) && raise_priority "$WEED_PID"
    local i
    for (( i = 0; i < 120; i++ )); do
        # curl signs no payload hash by itself; without this header the signature is refused.
        curl -sf -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
            -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" --data-binary ok "http://127.0.0.1:$S3_PORT/doppel-bench/ready" >/dev/null 2>&1 && return
        sleep 0.5
    done
    tail -n 20 "$WORK/weed/log" >&2
    die "SeaweedFS did not become ready"
}

# A fresh prefix per round, as prep_doppel gives the local step a fresh folder.
prep_s3() {
    S3_ROUND=$(( ${S3_ROUND:-0} + 1 ))
    local cfg url
    # bash 5.2 would read '&' in the replacement below as the matched text.
    shopt -u patsub_replacement 2>/dev/null || true
    cfg="$(<"$WORK/doppel/doppel.toml")"
    url="s3://doppel-bench/run$S3_ROUND?endpoint=http://127.0.0.1:$S3_PORT&region=us-east-1&path_style=true"
    printf '%s\n' "${cfg/path = \"repo\"/url = \"$url\"}" >"$WORK/doppel/s3.toml"
}

# Objects written and bytes stored by a snapshot, from its --json summary.
objects_of() { sed -n 's/.*"objects_written": *\([0-9]*\).*/\1/p' "$1" | head -n 1; }
stored_of() { sed -n 's/.*"bytes_stored_new": *\([0-9]*\).*/\1/p' "$1" | head -n 1; }

# With --repeat N the steps run in N rounds, every step once per round, rather than each
# step N times in a row: a burst of other work on the machine then hits one round of every
# tool instead of all the runs of one tool.
run_all() {
    printf '%s\n' "${TABLES[@]}" >"$WORK/tables.txt"
    for (( ROUND = 1; ROUND <= REPEAT; ROUND++ )); do
        export_cmd raw
        run_step "COPY → /dev/null" nothing "${EXPORT[@]}"
        export_cmd zstd
        run_step "COPY | zstd -3" nothing "${EXPORT[@]}"
        run_step "pg_dump -Fc" prep_fc \
            "$PG_BIN/pg_dump" -p "$PORT" -Fc -f "$WORK/dump.fc" "$DB"
        run_step "pg_dump -Fd -j $JOBS" prep_fd \
            "$PG_BIN/pg_dump" -p "$PORT" -Fd -j "$JOBS" -f "$WORK/dump.fd" "$DB"
        run_step "doppel snapshot -j $JOBS" prep_doppel \
            "$DOPPEL" --config "$WORK/doppel/doppel.toml" snapshot source -j "$JOBS"
        run_step "pg_restore -j $JOBS" prep_pg_restore \
            "$PG_BIN/pg_restore" -p "$PORT" -j "$JOBS" -d restore_pg "$WORK/dump.fd"
        run_step "doppel restore -j $JOBS" prep_doppel_restore \
            "$DOPPEL" --config "$WORK/doppel/doppel.toml" restore latest \
            --target-url "postgresql://postgres@127.0.0.1:$PORT/restore_doppel?sslmode=disable" -j "$JOBS"
        if (( S3 )); then
            run_step "doppel snapshot -j $JOBS → S3" prep_s3 \
                "$DOPPEL" --config "$WORK/doppel/s3.toml" snapshot source -j "$JOBS"
            run_step "doppel restore -j $JOBS ← S3" prep_doppel_restore \
                "$DOPPEL" --config "$WORK/doppel/s3.toml" restore latest \
                --target-url "postgresql://postgres@127.0.0.1:$PORT/restore_doppel?sslmode=disable" -j "$JOBS"
        fi
        if (( SUBSET )); then
            SIZE["doppel snapshot -j $JOBS"]="$(du -sb "$WORK/doppel/repo" | cut -f1)"
            SIZE["doppel restore -j $JOBS"]="$(db_size restore_doppel)"
            run_step "doppel snapshot --rules (whole)" prep_doppel \
                "$DOPPEL" --config "$WORK/doppel/doppel.toml" snapshot source -j "$JOBS" \
                --rules "$WORK/doppel/rules-keep"
            SIZE["doppel snapshot --rules (whole)"]="$(du -sb "$WORK/doppel/repo" | cut -f1)"
            run_step "doppel snapshot --subset 1%" prep_doppel \
                "$DOPPEL" --config "$WORK/doppel/doppel.toml" snapshot source -j "$JOBS" \
                --rules "$WORK/doppel/rules-subset" --subset
            SIZE["doppel snapshot --subset 1%"]="$(du -sb "$WORK/doppel/repo" | cut -f1)"
            run_step "doppel restore --subset 1%" prep_doppel_restore \
                "$DOPPEL" --config "$WORK/doppel/doppel.toml" restore latest \
                --target-url "postgresql://postgres@127.0.0.1:$PORT/restore_doppel?sslmode=disable" -j "$JOBS"
            SUBSET_ROWS="$(psql_db -d restore_doppel -At -c "SELECT string_agg(t || ' ' || n, ', ' ORDER BY t) FROM (
                SELECT 'pgbench_accounts' t, count(*) n FROM pgbench_accounts UNION ALL
                SELECT 'pgbench_branches', count(*) FROM pgbench_branches UNION ALL
                SELECT 'pgbench_tellers', count(*) FROM pgbench_tellers) c")"
        fi
        (( CORE_ONLY )) && continue
        run_step "doppel reset" prep_reset \
            "$DOPPEL" --config "$WORK/doppel/doppel.toml" reset copy
        run_step "doppel snapshot people (raw)" prep_people \
            "$DOPPEL" --config "$WORK/doppel/people.toml" snapshot people -j "$JOBS"
        run_step "doppel snapshot people --rules" prep_people \
            "$DOPPEL" --config "$WORK/doppel/people.toml" snapshot people -j "$JOBS" \
            --rules "$WORK/doppel/rules"
    done

    if (( S3 )); then
        # Untimed: what a snapshot writes, locally and to S3, and what an unchanged second
        # snapshot uploads.
        prep_doppel
        "$DOPPEL" --config "$WORK/doppel/doppel.toml" snapshot source -j "$JOBS" --json >"$WORK/local1.json"
        prep_s3
        "$DOPPEL" --config "$WORK/doppel/s3.toml" snapshot source -j "$JOBS" --json >"$WORK/s3-1.json"
        "$DOPPEL" --config "$WORK/doppel/s3.toml" snapshot source -j "$JOBS" --json >"$WORK/s3-2.json"
    fi
    SIZE["COPY | zstd -3"]="$ZSTD_BYTES"
    SIZE["pg_dump -Fc"]="$(du -sb "$WORK/dump.fc" | cut -f1)"
    SIZE["pg_dump -Fd -j $JOBS"]="$(du -sb "$WORK/dump.fd" | cut -f1)"
    SIZE["pg_restore -j $JOBS"]="$(db_size restore_pg)"
    # The subset steps reuse the repository and the target: sizes of the whole were kept.
    (( SUBSET )) && return
    SIZE["doppel snapshot -j $JOBS"]="$(du -sb "$WORK/doppel/repo" | cut -f1)"
    SIZE["doppel restore -j $JOBS"]="$(db_size restore_doppel)"
}

db_size() { psql_db -d postgres -At -c "SELECT pg_database_size('$1')"; }

# ---------------------------------------------------------------------------------------------
# Report

ratio() { # ratio NAME REF: wall(NAME) / wall(REF), lower is better
    awk -v a="${WALL[$1]}" -v b="${WALL[$2]}" 'BEGIN { printf "%.2f×", a / b }'
}

report() {
    local fc="pg_dump -Fc" fd="pg_dump -Fd -j $JOBS" zs="COPY | zstd -3" pr="pg_restore -j $JOBS"
    local snap="doppel snapshot -j $JOBS" rest="doppel restore -j $JOBS"
    local loadavg
    loadavg="$(cut -d' ' -f1-3 /proc/loadavg)"
    {
        echo "## doppel end-to-end benchmark"
        echo
        echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, load average $LOAD_START before loading, $loadavg at the end, $(uname -sr)"
        echo "- PostgreSQL: $("$PG_BIN/postgres" --version | sed 's/^postgres (PostgreSQL) //'), shared_buffers=1GB, fsync=off, synchronous_commit=off, full_page_writes=off, wal_level=$WAL_LEVEL"
        if [[ -n "${DOPPEL_BIN:-}" ]]; then
            echo "- doppel: $("$DOPPEL" --version) at $DOPPEL${DOPPEL_REV:+ (built from $DOPPEL_REV)}"
        else
            echo "- doppel: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO_ROOT" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes'), $DOPPEL"
        fi
        echo "- data: pgbench -i -s $SCALE + people ($WIDE_ROWS rows); ${#TABLES[@]} tables, $ROWS rows, $(awk -v b="$COPY_BYTES" 'BEGIN { printf "%.1f MB", b / 1e6 }') of COPY text ($(awk -v b="$ZSTD_BYTES" 'BEGIN { printf "%.1f MB", b / 1e6 }') after zstd -3)"
        echo "- jobs: $JOBS; per step the fastest of $REPEAT run(s), in $REPEAT round(s) of all steps$( ((HIGH_PRIORITY)) && echo '; bench and server at high CPU priority (--high-priority)')"
        echo
        echo "| tool | wall s | MB/s | peak RSS MB | CPU s client | CPU s server | CPU s other | ÷ pg_dump -Fc | ÷ pg_dump -Fd -j $JOBS | ÷ COPY\\|zstd | ÷ pg_restore -j $JOBS | size on disk MB |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        local name
        local names=("COPY → /dev/null" "$zs" "$fc" "$fd" "$snap" "$pr" "$rest")
        local s3snap="doppel snapshot -j $JOBS → S3" s3rest="doppel restore -j $JOBS ← S3"
        (( S3 )) && names+=("$s3snap" "$s3rest")
        (( CORE_ONLY )) || names+=("doppel reset")
        for name in "${names[@]}"; do
            local vs_fc="—" vs_fd="—" vs_zs="—" vs_pr="—" size="—"
            case "$name" in
                "$pr"|"$rest"|"$s3rest"|"doppel reset") vs_pr="$(ratio "$name" "$pr")" ;;
                *) vs_fc="$(ratio "$name" "$fc")"; vs_fd="$(ratio "$name" "$fd")"; vs_zs="$(ratio "$name" "$zs")" ;;
            esac
            [[ -n "${SIZE[$name]:-}" ]] && size="$(awk -v b="${SIZE[$name]}" 'BEGIN { printf "%.1f", b / 1e6 }')"
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
                "${name//|/\\|}" "${WALL[$name]}" \
                "$(awk -v b="$COPY_BYTES" -v s="${WALL[$name]}" 'BEGIN { printf "%.0f", b / 1e6 / s }')" \
                "${RSS[$name]}" "${CPU_CLIENT[$name]}" "${CPU_SERVER[$name]}" "${CPU_OTHER[$name]}" \
                "$vs_fc" "$vs_fd" "$vs_zs" "$vs_pr" "$size"
        done
        echo
        echo "Ratios are wall time ÷ the reference's wall time (lower is faster). MB/s is COPY text"
        echo "bytes ÷ wall time for every row, restores included. Peak RSS is the largest client"
        echo "process (pg_dump -j workers, psql and zstd included; PostgreSQL backends not). CPU"
        echo "seconds: client = the tool's processes (user+sys), server = the cluster's processes,"
        echo "other = the rest of the machine's busy time in the step (kernel threads, anything else"
        echo "running: when it is large the step shared the CPUs, unless --high-priority kept it"
        echo "to the idle time). Size on disk: the dump file,"
        echo "folder or repository; for COPY|zstd, the zstd -3 output (measured untimed); for"
        echo "restores, pg_database_size of the restored database."
        echo
        if (( ! CORE_ONLY )); then
        local praw="doppel snapshot people (raw)" panon="doppel snapshot people --rules"
        echo "Anonymization, on the wide table alone ($(awk -v b="$PEOPLE_BYTES" 'BEGIN { printf "%.1f MB", b / 1e6 }') of COPY text, rules on 5 of its 10 columns):"
        echo
        echo "| step | wall s | MB/s | peak RSS MB | CPU s client | CPU s server |"
        echo "|---|---:|---:|---:|---:|---:|"
        for name in "$praw" "$panon"; do
            printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "${WALL[$name]}" \
                "$(awk -v b="$PEOPLE_BYTES" -v s="${WALL[$name]}" 'BEGIN { printf "%.0f", b / 1e6 / s }')" \
                "${RSS[$name]}" "${CPU_CLIENT[$name]}" "${CPU_SERVER[$name]}"
        done
        echo
        fi
        if (( S3 )); then
            echo "S3 (SeaweedFS on loopback) against the local-disk repository, same run:"
            echo
            echo "- snapshot → S3: $(ratio "$s3snap" "$snap") of the local snapshot's time; restore ← S3: $(ratio "$s3rest" "$rest") of the local restore's time"
            echo "- objects written by one snapshot: $(objects_of "$WORK/local1.json") on disk, $(objects_of "$WORK/s3-1.json") on S3 (packs, their indexes, the manifest), for $(awk -v b="$(stored_of "$WORK/s3-1.json")" 'BEGIN { printf "%.1f MB", b / 1e6 }') stored"
            echo "- an unchanged second snapshot to S3 uploaded $(stored_of "$WORK/s3-2.json") bytes of chunks in $(objects_of "$WORK/s3-2.json") objects"
            echo
        fi
        if (( SUBSET )); then
            local whole="doppel snapshot --rules (whole)" sub="doppel snapshot --subset 1%" subr="doppel restore --subset 1%"
            echo "Subset: 1% of pgbench_accounts with its closure, under the same keep-everything rules as the whole:"
            echo
            echo "| step | wall s | peak RSS MB | CPU s client | CPU s server | repository MB |"
            echo "|---|---:|---:|---:|---:|---:|"
            for name in "$whole" "$sub" "$subr"; do
                printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "${WALL[$name]}" "${RSS[$name]}" \
                    "${CPU_CLIENT[$name]}" "${CPU_SERVER[$name]}" \
                    "$( [[ -n "${SIZE[$name]:-}" ]] && awk -v b="${SIZE[$name]}" 'BEGIN { printf "%.1f", b / 1e6 }' || echo —)"
            done
            echo
            echo "- rows restored from the subset: $SUBSET_ROWS"
            echo "- subset snapshot: $(ratio "$sub" "$whole") of the whole snapshot's time; its restore: $(ratio "$subr" "$rest") of the whole restore's time"
            echo
        fi
        echo "Targets:"
        target "doppel snapshot ≥ 2× faster than pg_dump -Fc" "$snap" "$fc" 0.5
        target "doppel snapshot at least as fast as pg_dump -Fd -j $JOBS" "$snap" "$fd" 1.0
        target "doppel snapshot within 1.3× of COPY | zstd -3" "$snap" "$zs" 1.3
        target "doppel restore at least as fast as pg_restore -j $JOBS" "$rest" "$pr" 1.0
        if (( CORE_ONLY )); then
            target "one big table: doppel snapshot ≥ 1.5× faster than pg_dump -Fc" "$snap" "$fc" 0.667
            target "one big table: doppel snapshot ≥ 1.5× faster than pg_dump -Fd -j $JOBS" "$snap" "$fd" 0.667
            target "one big table: doppel restore ≥ 1.5× faster than pg_restore -j $JOBS" "$rest" "$pr" 0.667
        else
            echo "- doppel reset (pristine copy) vs doppel restore -j $JOBS of the same data: $(ratio "doppel reset" "$rest") of its time"
            target "anonymized snapshot ≥ 70% of the raw snapshot's throughput (time ≤ 1.43×)" "$panon" "$praw" 1.43
        fi
        local ok=no
        [[ "${RSS[$snap]}" -lt 300 && "${RSS[$rest]}" -lt 300 ]] && ok=yes
        echo "- peak RSS under 300 MB: snapshot ${RSS[$snap]} MB, restore ${RSS[$rest]} MB → $( [[ $ok == yes ]] && echo met || echo 'NOT met')"
    } | tee ${OUT:+"$OUT"}
}

target() { # target TEXT NAME REF MAX_RATIO
    local r
    r="$(awk -v a="${WALL[$2]}" -v b="${WALL[$3]}" 'BEGIN { printf "%.2f", a / b }')"
    if awk -v r="$r" -v m="$4" 'BEGIN { exit !(r <= m) }'; then
        echo "- $1: ${r}× of its time (needs ≤ $4×) → met"
    else
        echo "- $1: ${r}× of its time (needs ≤ $4×) → NOT met"
    fi
}

# ---------------------------------------------------------------------------------------------

main() {
    LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
    (( HIGH_PRIORITY )) && raise_priority $$
    check_tools
    start_cluster
    load_data
    measure_volume
    write_doppel_config
    (( S3 )) && start_seaweed
    IDLE_CHILDREN="$(pgrep -P "$(head -n 1 "$PGDATA/postmaster.pid")" | wc -l)"
    run_all
    report
}

main
