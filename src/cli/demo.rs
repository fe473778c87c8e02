//! `doppel demo`: the whole cycle on a throwaway local cluster — load a small shop database,
//! snapshot it twice (the second costs almost nothing), restore the latest into a staging
//! database, verify it by re-reading, and show the two side by side; then take an anonymized
//! snapshot with the demo's rules, restore it into a QA database, and show original and
//! anonymized customers side by side; end with a recovery drill and its report.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::human_bytes;
use super::snapshot::Summary;
use doppel::config::Config;
use doppel::error::{pg, Error, Result};
use doppel::pg::cluster::Cluster;
use doppel::pg::{connect, ConnInfo};
use doppel::repo::Repository;
use doppel::restore::{restore, RestoreOptions, VerifyMode};
use doppel::snapshot::{take, SnapshotOptions};

/// The demo's source database, our own fixture.
const SHOP_SQL: &str = include_str!("../../fixtures/demo.sql");
/// Its anonymization rules, as a user would keep them under `rules/`.
const SHOP_RULES: &str = include_str!("../../rules/demo/shop.toml");

/// Arguments of `doppel demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder for the demo's config and repository (replaced if it holds an earlier demo).
    #[arg(long, default_value = "doppel-demo")]
    pub dir: PathBuf,
}

const CONFIG: &str = r#"# Written by `doppel demo`. The URLs come from the environment, as they should in real use.
[repository]
path = "repo"

[environments.production]
role = "production"
url = "${DOPPEL_DEMO_PRODUCTION_URL}"

[environments.staging]
role = "staging"
url = "${DOPPEL_DEMO_STAGING_URL}"
# The demo's shop holds no real people, so staging takes it raw; a real staging environment
# keeps the default (anonymized) and receives anonymized snapshots only.
data = "raw"

[environments.qa]
role = "qa"
url = "${DOPPEL_DEMO_QA_URL}"
"#;

/// Runs the demo.
pub async fn run(args: Args) -> Result<()> {
    prepare_dir(&args.dir)?;
    crate::say!("1. starting a throwaway PostgreSQL cluster…");
    let cluster = doppel::pg::scratch::start(None, "throwaway cluster").await?;
    crate::say!(
        "   listening on {}:{} (data in {})",
        cluster.host(),
        cluster.port(),
        cluster.data_dir().display()
    );
    let result = cycle(&cluster, &args.dir).await;
    doppel::pg::scratch::stop(cluster).await;
    result?;
    crate::say!(
        "\nthe cluster is gone; the repository stays in {} (try `doppel --config {} list`)",
        args.dir.join("repo").display(),
        args.dir.join("doppel.toml").display()
    );
    Ok(())
}

fn prepare_dir(dir: &Path) -> Result<()> {
    let io = doppel::error::io(format!("cannot prepare {}", dir.display()));
    if dir.exists() {
        let ours = dir.join("doppel.toml").is_file()
            && std::fs::read_to_string(dir.join("doppel.toml"))
                .is_ok_and(|s| s.starts_with("# Written by `doppel demo`"));
        let empty = std::fs::read_dir(dir).map_err(&io)?.next().is_none();
        if !ours && !empty {
            return Err(Error::Config(format!(
                "{} exists and is not an earlier demo: pass --dir with a new folder",
                dir.display()
            )));
        }
        std::fs::remove_dir_all(dir).map_err(&io)?;
    }
    std::fs::create_dir_all(dir).map_err(&io)?;
    std::fs::write(dir.join("doppel.toml"), CONFIG).map_err(&io)
}

async fn cycle(cluster: &Cluster, dir: &Path) -> Result<()> {
    let (prod_url, staging_url, qa_url) = (
        cluster.url("shop"),
        cluster.url("shop_staging"),
        cluster.url("shop_qa"),
    );
    let lookup = |name: &str| match name {
        "DOPPEL_DEMO_PRODUCTION_URL" => Some(prod_url.clone()),
        "DOPPEL_DEMO_STAGING_URL" => Some(staging_url.clone()),
        "DOPPEL_DEMO_QA_URL" => Some(qa_url.clone()),
        _ => None,
    };
    let config_path = dir.join("doppel.toml");
    let config = Config::parse(&config_path, CONFIG, &lookup)?;
    let prod = ConnInfo::parse(&config.environment("production")?.url)?;
    let staging = ConnInfo::parse(&config.environment("staging")?.url)?;

    crate::say!("2. loading the demo shop (customers, orders, audit log) into database shop…");
    let admin = connect(&prod.with_dbname("postgres")).await?;
    admin
        .batch_execute("CREATE DATABASE shop")
        .await
        .map_err(pg("cannot create the demo database"))?;
    let shop = connect(&prod).await?;
    shop.batch_execute(SHOP_SQL)
        .await
        .map_err(pg("cannot load the demo data"))?;

    let repo = Arc::new(config.repo.open_or_init().await?);
    let opts = SnapshotOptions {
        environment: "production".into(),
        conn: prod.clone(),
        jobs: 2,
        tags: vec!["demo".into()],
        pg_bin: Some(cluster.bin_dir().to_path_buf()),
        progress: Arc::new(AtomicU64::new(0)),
        recorded_time: None,
        anonymize: None,
        part_bytes: doppel::config::DEFAULT_PART_BYTES,
        subset: None,
        origin: None,
        unchanged: None,
    };
    crate::say!("3. snapshot of production:");
    Summary::of(&take(repo, &opts).await?).print();

    crate::say!("4. a few orders arrive, one customer moves; snapshot again (unchanged data is not stored twice):");
    shop.batch_execute(
        "INSERT INTO orders (customer_id, ordered_at, status, shipping_name, shipping_street, shipping_city, shipping_postcode, shipping_country) \
         SELECT customer_id, now(), 'pending', shipping_name, shipping_street, shipping_city, shipping_postcode, shipping_country FROM orders ORDER BY id LIMIT 25; \
         UPDATE customers SET city = 'Lyon', postcode = '69001' WHERE id = 7;",
    )
    .await
    .map_err(pg("cannot change the demo data"))?;
    let repo = Arc::new(config.repo.open().await?);
    let second = take(repo.clone(), &opts).await?;
    Summary::of(&second).print();

    crate::say!("5. restore the latest snapshot into staging, verified by re-reading every table:");
    let ropts = RestoreOptions {
        target: staging.clone(),
        jobs: 2,
        replace: true,
        keep_owners: false,
        verify: VerifyMode::Full,
        pg_bin: Some(cluster.bin_dir().to_path_buf()),
        allow_production: false,
        progress: Arc::new(AtomicU64::new(0)),
        neutralize: true,
        after_restore: Vec::new(),
        seeds: Vec::new(),
        pristine: false,
        scope: doppel::restore::scope::Scope::All,
        create_roles: false,
        replay: None,
    };
    let report = restore(repo.clone(), &second, &ropts).await?;
    record(&repo, &second, &report, "staging").await;
    crate::say!(
        "   {} tables, {} rows ({}) in {:.1}s, verified (full)",
        report.tables,
        report.rows,
        human_bytes(report.bytes),
        report.duration_ms as f64 / 1000.0
    );

    crate::say!("6. production and staging side by side:");
    let staging_client = connect(&staging).await?;
    let q = "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders), \
             (SELECT count(*) FROM order_items), (SELECT city FROM customers WHERE id = 7)";
    for (name, c) in [("production", &shop), ("staging", &staging_client)] {
        let r = c
            .query_one(q, &[])
            .await
            .map_err(pg("cannot compare the databases"))?;
        crate::say!(
            "   {name:<11} customers {:>5}  orders {:>5}  order_items {:>6}  customer 7 lives in {}",
            r.get::<_, i64>(0),
            r.get::<_, i64>(1),
            r.get::<_, i64>(2),
            r.get::<_, String>(3)
        );
    }

    anonymized(&config, repo.clone(), &opts, &ropts, &shop).await?;

    crate::say!("9. recovery drill: production as of now, into a scratch cluster, checked:");
    let drill_opts = doppel::drill::DrillOptions {
        at: chrono::Utc::now(),
        target: doppel::drill::DrillTarget::Scratch,
        jobs: 2,
        pg_bin: Some(cluster.bin_dir().to_path_buf()),
        smoke: vec![
            "SELECT count(*) > 0 FROM orders WHERE status = 'pending'".into(),
            "SELECT bool_and(total_amount >= 0) FROM orders".into(),
        ],
        replay: None,
    };
    let report = doppel::drill::run(repo, &second, &drill_opts).await?;
    for line in report.markdown().lines().filter(|l| !l.is_empty()) {
        crate::say!("   {line}");
    }
    if !report.passed {
        return Err(Error::Verification(format!(
            "the demo's drill {} failed",
            report.id
        )));
    }
    Ok(())
}

/// Steps 7 and 8: an anonymized snapshot restored into QA, and a few customers side by side.
async fn anonymized(
    config: &Config,
    repo: Arc<Repository>,
    opts: &SnapshotOptions,
    ropts: &RestoreOptions,
    shop: &tokio_postgres::Client,
) -> Result<()> {
    crate::say!(
        "7. anonymized snapshot with the demo's rules (rules/demo/shop.toml), restored into qa:"
    );
    let rules = doppel::rules::RuleSet::parse(Path::new("rules/demo/shop.toml"), SHOP_RULES)?;
    // A throwaway key: in real use it comes from the variable anonymization.key_env names.
    let secret = hex::encode(rand::random::<[u8; 32]>());
    let key =
        doppel::anonymize::Key::from_secret(&secret).map_err(|e| Error::Config(e.to_string()))?;
    let opts = SnapshotOptions {
        anonymize: Some(doppel::snapshot::Anonymize {
            rules: Arc::new(rules),
            key: Arc::new(key),
        }),
        ..opts.clone()
    };
    let anon = take(repo.clone(), &opts).await?;
    Summary::of(&anon).print();
    crate::say!(
        "   rules digest {}, key fingerprint {} (the key itself is stored nowhere)",
        anon.kind.rules_digest.as_deref().unwrap_or("-"),
        anon.kind.key_fingerprint.as_deref().unwrap_or("-")
    );
    let qa = ConnInfo::parse(&config.environment("qa")?.url)?;
    let ropts = RestoreOptions {
        target: qa.clone(),
        ..ropts.clone()
    };
    let report = restore(repo.clone(), &anon, &ropts).await?;
    record(&repo, &anon, &report, "qa").await;
    crate::say!(
        "   {} tables, {} rows restored into qa, verified (full)",
        report.tables,
        report.rows
    );

    crate::say!("8. the same customers in production and in qa:");
    let qa_client = connect(&qa).await?;
    let q = "SELECT id, first_name || ' ' || last_name, email, city, coalesce(date_of_birth::text, 'NULL') FROM customers WHERE id IN (1, 2, 3) ORDER BY id";
    let before = shop
        .query(q, &[])
        .await
        .map_err(pg("cannot read production"))?;
    let after = qa_client
        .query(q, &[])
        .await
        .map_err(pg("cannot read qa"))?;
    for (b, a) in before.iter().zip(&after) {
        crate::say!("   customer {}", b.get::<_, i64>(0));
        for (i, what) in [(1, "name"), (2, "email"), (3, "city"), (4, "born")] {
            crate::say!(
                "     {what:<6} {:<34} → {}",
                b.get::<_, String>(i),
                a.get::<_, String>(i)
            );
        }
    }
    Ok(())
}

/// Records a demo restore into `environment`, so that `doppel status` shows what it holds.
async fn record(
    repo: &doppel::repo::Repository,
    m: &doppel::repo::Manifest,
    report: &doppel::restore::RestoreReport,
    environment: &str,
) {
    let record = doppel::status::RestoreRecord::of(m, report, Some(environment), "demo");
    doppel::status::record_or_warn(repo, &record).await;
}
