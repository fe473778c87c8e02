//! The commented file `doppel init` writes.

/// The commented file `doppel init` writes.
pub const TEMPLATE: &str = r#"# doppel configuration. Every string may use ${VAR}: keep secrets in the environment.

# Time zone of local date-times such as `restore --at "2026-11-21 14:00"` (default: the system's).
# timezone = "Europe/Paris"

[repository]
# Where snapshots are stored: a folder, relative to this file...
path = "doppel-repo"
# ...or a bucket (credentials from the standard AWS chain: AWS_ACCESS_KEY_ID, AWS_PROFILE, ...):
# url = "s3://my-bucket/doppel/prod"
# endpoint = "http://127.0.0.1:8333"   # an S3-compatible store
# region = "us-east-1"
# path_style = true
# zstd level for new chunks (1 = fastest, 19 = smallest).
compression_level = 3
# Client-side encryption of everything stored (set when the repository is created):
# encryption = { key_env = "DOPPEL_REPO_KEY" }    # or { key_file = "/etc/doppel/repo.key" }
# Chunks are stored in packs of about this size.
# pack_size = "16MiB"

# Other repositories, for `doppel copy SNAP --to-repo offsite`.
# [repositories.offsite]
# url = "s3://offsite-bucket/doppel"
# encryption = { key_env = "DOPPEL_OFFSITE_KEY" }

[snapshot]
# Parallel connections for snapshot and restore (-j overrides).
jobs = 2
# Folder with pg_dump/pg_restore matching the server's major version (default: found automatically).
# pg_bin = "/usr/lib/postgresql/15/bin"
# A table larger than two parts is read in parts of this size by several workers at once.
# part_size = "64MB"

[retention]
# spacing@window, finest first: keep one snapshot per spacing for the length of the window.
tiers = ["1m@15m", "2m@30m", "5m@1h", "10m@3h", "1h@1d", "3h@3d", "6h@7d", "1d@30d"]

[schedule]
# environments = ["production"]   # default: the environment with role production
listen = "127.0.0.1:9187"          # /healthz and /metrics
healthz_max_missed = 3             # /healthz fails after this many missed spacings

[drill]
# Smoke queries every recovery drill runs; each must return true.
# checks = ["SELECT count(*) > 0 FROM orders"]

[notify]
# A URL that receives a JSON POST for every alert of `doppel schedule run`.
# webhook = "${ALERT_WEBHOOK}"

[anonymization]
key_env = "DOPPEL_ANON_KEY"        # the variable holding the anonymization secret (never the secret)
rules = "rules"                    # rules folder for --rules, relative to this file

# One section per database. role: production, prod-copy, staging, qa, test or dev.
# url: a libpq URL or key=value string; PGHOST, PGUSER, PGPASSWORD, ~/.pgpass … apply as in psql.
[environments.production]
role = "production"
url = "${DATABASE_URL}"
# changes = "logical"              # archive its changes between snapshots (`doppel changes setup`)
# changes_max_lag = "4GiB"         # the most WAL the replication slot may hold back on the server
# changes_base_every = "1h"        # scheduled base snapshots; the archive serves the slots between

[environments.staging]
role = "staging"
url = "${STAGING_DATABASE_URL}"
# data = "anonymized"              # what it may receive: staging, qa, test, dev default to anonymized
# subset = true                    # receive subset snapshots (snapshot --subset), not whole ones
# after_restore = ["sql/staging-neutralize.sql"]   # run after every restore into it
# seeds = ["seeds/qa-accounts.sql", "seeds/public.feature_flags.csv"]   # then these, in one transaction

# [environments.prod-copy]
# role = "prod-copy"               # receives raw snapshots by default
# url = "${PROD_COPY_DATABASE_URL}"
# pristine = true                  # keep a template of each restore: `doppel reset prod-copy`
"#;
