//! Config parsing: every section, substitution, and errors at the right line.

use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "PROD" => Some("postgresql://u:secret@db/prod".into()),
        "EMPTY" => Some(String::new()),
        "HOOK" => Some("https://hooks.example.org/T000/secret-token".into()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<Config> {
    Config::parse(Path::new("/etc/doppel/doppel.toml"), text, &env)
}

#[test]
fn substitution_cases() {
    let cases: &[(&str, std::result::Result<&str, &str>)] = &[
        ("plain", Ok("plain")),
        ("${PROD}", Ok("postgresql://u:secret@db/prod")),
        ("a${EMPTY}b", Ok("ab")),
        ("cost $$5", Ok("cost $5")),
        ("lone $ sign", Ok("lone $ sign")),
        ("${NOPE}", Err("NOPE")),
        ("x${UNCLOSED", Err("UNCLOSED")),
    ];
    for (input, want) in cases {
        let got = substitute(input, &env);
        assert_eq!(
            got.as_deref().map_err(|e| e.as_str()),
            *want,
            "input {input}"
        );
    }
}

#[test]
fn reference_config_sets_every_option() {
    let text = r#"
timezone = "Europe/Paris"
[repository]
path = "repo"
compression_level = 5
encryption = { key_file = "repo.key" }
pack_size = "8MiB"
[repositories.offsite]
url = "s3://backups/doppel/prod"
endpoint = "http://127.0.0.1:8333"
region = "us-east-1"
path_style = true
compression_level = 3
encryption = { key_env = "OFFSITE_KEY" }
pack_size = "32MiB"
[snapshot]
jobs = 4
pg_bin = "/usr/lib/postgresql/15/bin"
part_size = "16MB"
[retention]
tiers = ["1m@10m", "1h@1d"]
[schedule]
environments = ["prod"]
listen = "127.0.0.1:9999"
healthz_max_missed = 5
[anonymization]
key_env = "SHOP_ANON_KEY"
rules = "anon-rules"
[drill]
checks = ["SELECT count(*) > 0 FROM orders"]
[notify]
webhook = "${HOOK}"
[environments.prod]
role = "production"
url = "${PROD}"
changes = "logical"
changes_max_lag = "2GiB"
changes_base_every = "30m"
[environments.copy]
role = "prod-copy"
url = "host=localhost dbname=copy"
pristine = true
after_restore = ["sql/neutralize.sql"]
seeds = ["seeds/accounts.sql", "seeds/public.flags.csv"]
[environments.qa]
role = "qa"
url = "host=localhost dbname=qa"
data = "raw"
subset = true
"#;
    let c = parse(text).unwrap();
    assert_eq!(
        c.repo.location,
        crate::store::RepoLocation::Local("/etc/doppel/repo".into())
    );
    assert_eq!(
        c.repositories["offsite"].location.to_string(),
        "s3://backups/doppel/prod at http://127.0.0.1:8333"
    );
    assert_eq!(
        c.repositories["offsite"].options.key,
        Some(crate::repo::crypto::KeySource::Env("OFFSITE_KEY".into()))
    );
    assert_eq!(c.repositories["offsite"].options.pack_size, Some(32 << 20));
    assert_eq!(c.repository.compression_level, 5);
    assert_eq!(c.snapshot.jobs, Some(4));
    assert_eq!(c.snapshot.part_bytes(), 16 << 20);
    assert_eq!(c.environments["prod"].url, "postgresql://u:secret@db/prod");
    assert_eq!(c.environments["copy"].role, Role::ProdCopy);
    assert_eq!(c.production().unwrap().0, "prod");
    assert_eq!(
        c.retention,
        Tiers::parse(&["1m@10m".into(), "1h@1d".into()]).unwrap()
    );
    assert_eq!(c.schedule.environments, vec!["prod"]);
    assert_eq!(
        (c.schedule.listen.as_str(), c.schedule.healthz_max_missed),
        ("127.0.0.1:9999", 5)
    );
    assert_eq!(c.anonymization.key_env, "SHOP_ANON_KEY");
    assert_eq!(c.drill.checks, ["SELECT count(*) > 0 FROM orders"]);
    assert_eq!(
        c.notify.webhook.as_deref(),
        Some("https://hooks.example.org/T000/secret-token")
    );
    // The webhook's token never shows in a debug print of the config.
    assert!(!format!("{c:?}").contains("secret-token"));
    assert_eq!(c.zone, crate::config::Zone::Named(chrono_tz::Europe::Paris));
    let copy = &c.environments["copy"];
    assert!(copy.pristine);
    assert_eq!(
        copy.seeds,
        vec![
            PathBuf::from("/etc/doppel/seeds/accounts.sql"),
            PathBuf::from("/etc/doppel/seeds/public.flags.csv")
        ]
    );
    assert_eq!(
        copy.after_restore,
        [Path::new("/etc/doppel/sql/neutralize.sql")]
    );
    assert_eq!(copy.data(), DataKind::Raw);
    assert_eq!(c.environments["qa"].data(), DataKind::Raw);
    assert_eq!(c.environments["prod"].data(), DataKind::Raw);
    assert!(c.environments["qa"].subset && !copy.subset && !c.environments["prod"].subset);
    assert_eq!(c.rules_path, Path::new("/etc/doppel/anon-rules"));
    let prod = &c.environments["prod"];
    assert_eq!(
        (prod.changes, prod.max_lag_bytes(), prod.base_every()),
        (
            ChangesMode::Logical,
            2 << 30,
            chrono::TimeDelta::minutes(30)
        )
    );
    assert_eq!(
        (copy.changes, copy.max_lag_bytes(), copy.base_every()),
        (ChangesMode::None, DEFAULT_MAX_LAG, DEFAULT_BASE_EVERY)
    );
}

#[test]
fn a_key_value_in_place_of_its_variable_name_is_refused() {
    for value in ["${PROD}", "0f3a9c 77be12d4e5"] {
        let text = format!("[repository]\npath = \"r\"\n[anonymization]\nkey_env = \"{value}\"\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("doppel.toml:4:"), "{err}");
        assert!(
            !err.contains("77be12d4e5") && !err.contains("u:secret"),
            "the value must not be echoed: {err}"
        );
    }
}

#[test]
fn sizes() {
    for (text, want) in [
        ("64MB", Ok(64 << 20)),
        ("512 kB", Ok(512 << 10)),
        ("1GiB", Ok(1 << 30)),
        ("4096", Ok(4096)),
        ("0MB", Err(())),
        ("MB", Err(())),
        ("12 parsecs", Err(())),
    ] {
        assert_eq!(parse_size(text).map_err(|_| ()), want, "{text}");
    }
    let text = "[repository]\npath = \"r\"\n[snapshot]\npart_size = \"big\"\n";
    let err = parse(text).unwrap_err().to_string();
    assert!(
        err.contains("doppel.toml:4:") && err.contains("part_size"),
        "{err}"
    );
}

#[test]
fn bad_tiers_name_the_line_and_the_tier() {
    let text = "[repository]\npath = \"r\"\n[retention]\ntiers = [\"1m@15m\", \"5x@1h\"]\n";
    let err = parse(text).unwrap_err().to_string();
    assert!(
        err.contains("doppel.toml:4:") && err.contains("5x@1h"),
        "{err}"
    );
    let text = "[repository]\npath = \"r\"\n[retention]\ntiers = []\n";
    assert!(parse(text).is_err(), "an empty policy must be refused");
}

#[test]
fn template_parses_with_its_variables_set() {
    let c = Config::parse(Path::new("doppel.toml"), TEMPLATE, &|_| Some("x".into())).unwrap();
    assert_eq!(c.production().unwrap().0, "production");
}

#[test]
fn unknown_key_names_file_line_and_column() {
    let text = "[repository]\npath = \"r\"\ncompresion = 3\n";
    let err = parse(text).unwrap_err().to_string();
    assert!(err.starts_with("/etc/doppel/doppel.toml:3:1:"), "{err}");
    assert!(err.contains("compresion"), "{err}");
}

#[test]
fn missing_variable_is_named_with_its_line_and_no_value_leaks() {
    let text = "[repository]\npath = \"r\"\n[environments.s]\nrole = \"staging\"\nurl = \"${STAGING_URL}\"\n[environments.p]\nrole = \"production\"\nurl = \"${PROD}\"\n";
    let config = parse(text).unwrap();
    assert!(
        config.environment("p").is_ok(),
        "an environment with its variables set is usable"
    );
    let err = config.environment("s").unwrap_err().to_string();
    assert!(err.contains("doppel.toml:5:"), "{err}");
    assert!(err.contains("STAGING_URL"), "{err}");
    assert!(!err.contains("secret"), "{err}");
}

#[test]
fn bad_role_and_unknown_environment() {
    let text = "[repository]\npath = \"r\"\n[environments.s]\nrole = \"prod\"\nurl = \"x\"\n";
    let err = parse(text).unwrap_err().to_string();
    assert!(err.contains(":4:"), "{err}");
    let ok = parse("[repository]\npath = \"r\"\n").unwrap();
    let err = ok.environment("staging").unwrap_err().to_string();
    assert!(err.contains("unknown environment 'staging'"), "{err}");
    assert!(ok.production().is_err());
}

/// Parses `marked` without its `‸` and checks that the error starts with the file, line
/// and column where the `‸` stood, and says `says`.
fn error_at(marked: &str, says: &str) {
    let at = marked.find('‸').expect("a ‸ marks where the error is");
    let text = marked.replacen('‸', "", 1);
    let (line, col) = line_col(&text, at);
    let err = match parse(&text) {
        Err(e) => e.to_string(),
        // A missing variable in an environment's URL is reported when it is used.
        Ok(c) => c
            .environments
            .keys()
            .find_map(|name| c.environment(name).err())
            .unwrap_or_else(|| panic!("no error in:\n{text}"))
            .to_string(),
    };
    let want = format!("/etc/doppel/doppel.toml:{line}:{col}: ");
    assert!(err.starts_with(&want), "want {want}…, got: {err}\n{text}");
    assert!(err.contains(says), "want `{says}` in: {err}");
    assert!(
        !err.contains("u:secret") && !err.contains("s3cr3t"),
        "{err}"
    );
}

#[test]
fn repository_errors_point_at_the_key_not_at_a_comment_mentioning_it() {
    let head = "# compression_level = 3\n# url = \"s3://bucket/prefix\"\n# endpoint = \"http://x\"\n\
                # pack_size = \"16MiB\"\n# encryption = { key_env = \"DOPPEL_REPO_KEY\" }\n[repository]\n";
    for (body, says) in [
        ("path = \"r\"\ncompression_level = ‸40\n", "out of range"),
        (
            "path = \"r\"\n‸compresion_level = 3\n",
            "unknown field `compresion_level`",
        ),
        (
            "path = \"r\"\ncompression_level = ‸\"high\"\n",
            "invalid type",
        ),
        (
            "path = \"r\"\nurl = ‸\"s3://b/p\"\n",
            "sets both `path` and `url`",
        ),
        (
            "path = \"r\"\nendpoint = ‸\"http://x\"\n",
            "applies only to an s3://",
        ),
        ("url = ‸\"s3://b?colour=red\"\n", "unknown option 'colour'"),
        (
            "path = \"r\"\npack_size = ‸\"huge\"\n",
            "repository.pack_size",
        ),
        (
            "path = \"r\"\nencryption = { key_env = ‸\"s3cr3t value\" }\n",
            "must be the NAME",
        ),
        (
            "path = \"r\"\n‸encryption = {}\n",
            "exactly one of key_env or key_file",
        ),
        (
            "path = \"r\"\nencryption = { ‸key_envv = \"K\" }\n",
            "unknown field `key_envv`",
        ),
        ("path = \"r/‸${NOPE}\"\n", "NOPE is not set"),
    ] {
        error_at(&format!("{head}{body}"), says);
    }
    // A section without a location is named at its header.
    error_at(
        "# path = \"doppel-repo\"\n[‸repository]\ncompression_level = 3\n",
        "needs `path",
    );
}

#[test]
fn other_repositories_are_located_in_their_own_section() {
    let head =
        "[repository]\nurl = \"s3://main/${PROD_BUCKET_SUFFIX_NOPE}\"\npack_size = \"8MiB\"\n\
                region = \"eu-west-3\"\n";
    // The first repository has the same keys, and the same missing variable: the error is
    // about the second one, so it must be located there.
    let text = head.replace("${PROD_BUCKET_SUFFIX_NOPE}", "p");
    for (body, says) in [
        (
            "url = \"s3://b\"\npack_size = ‸\"huge\"\n",
            "repositories.off.pack_size",
        ),
        (
            "path = \"x\"\nregion = ‸\"eu\"\n",
            "repositories.off.region applies only",
        ),
        (
            "url = \"s3://b/‸${PROD_BUCKET_SUFFIX_NOPE}\"\n",
            "PROD_BUCKET_SUFFIX_NOPE",
        ),
        (
            "url = \"s3://b\"\n‸colour = \"red\"\n",
            "unknown field `colour`",
        ),
        (
            "url = \"s3://b\"\ncompression_level = ‸0\n",
            "repositories.off.compression_level",
        ),
    ] {
        error_at(&format!("{text}[repositories.off]\n{body}"), says);
    }
}

#[test]
fn snapshot_errors_are_located() {
    let head = "[repository]\npath = \"r\"\n# [snapshot]\n# jobs = 2\n# part_size = \"64MB\"\n\
                # pg_bin = \"${PG_BIN}\"\n[snapshot]\n";
    for (body, says) in [
        ("jobs = ‸0\n", "snapshot.jobs must be at least 1"),
        ("jobs = ‸\"two\"\n", "invalid type"),
        ("part_size = ‸\"big\"\n", "snapshot.part_size"),
        ("pg_bin = \"‸${PG_BIN}\"\n", "PG_BIN is not set"),
        ("‸job = 2\n", "unknown field `job`"),
    ] {
        error_at(&format!("{head}{body}"), says);
    }
}

#[test]
fn retention_errors_point_at_the_tier() {
    let head = "[repository]\npath = \"r\"\n# tiers = [\"1m@15m\", \"5x@1h\"]\n[retention]\n";
    for (body, says) in [
        ("tiers = [\"1m@15m\", ‸\"5x@1h\"]\n", "5x@1h"),
        (
            "tiers = [\"1m@15m\",\n  \"2m@30m\",\n  ‸\"1h@5m\"]\n",
            "1h@5m",
        ),
        ("tiers = ‸[\"1h@1d\", \"1m@15m\"]\n", "retention.tiers"),
        ("tiers = ‸\"1m@15m\"\n", "invalid type"),
        ("‸tier = [\"1m@15m\"]\n", "unknown field `tier`"),
    ] {
        error_at(&format!("{head}{body}"), says);
    }
    assert!(
        parse(&format!("{head}tiers = []\n")).is_err(),
        "an empty policy"
    );
}

#[test]
fn schedule_errors_point_at_the_environment_named() {
    let head = "[repository]\npath = \"r\"\n[environments.prod]\nrole = \"production\"\n\
                url = \"x\"\n# environments = [\"stagin\"]\n[schedule]\n";
    for (body, says) in [
        (
            "environments = [\"prod\", ‸\"stagin\"]\n",
            "names 'stagin', which is not an environment",
        ),
        ("healthz_max_missed = ‸-1\n", "expected u32"),
        (
            "‸listen_on = \"127.0.0.1:1\"\n",
            "unknown field `listen_on`",
        ),
    ] {
        error_at(&format!("{head}{body}"), says);
    }
}

#[test]
fn anonymization_errors_are_not_located_at_another_section_s_key() {
    // [repository] has a key_env too, valid; the anonymization one is wrong.
    let head = "[repository]\npath = \"r\"\nencryption = { key_env = \"REPO_KEY\" }\n\
                # rules = \"${RULES_DIR}\"\n[anonymization]\n";
    for (body, says) in [
        (
            "key_env = ‸\"${PROD}\"\n",
            "anonymization.key_env must be the NAME",
        ),
        ("rules = \"‸${RULES_DIR}/x\"\n", "RULES_DIR is not set"),
        ("key_env = ‸7\n", "invalid type"),
        ("‸key = \"K\"\n", "unknown field `key`"),
    ] {
        error_at(&format!("{head}{body}"), says);
    }
}

#[test]
fn notify_errors_are_located() {
    let head = "[repository]\npath = \"r\"\n# webhook = \"x\"\n[notify]\n";
    for (body, says) in [
        ("‸hook = \"https://x\"\n", "unknown field `hook`"),
        (
            "webhook = ‸\"mailto:ops@example.org\"\n",
            "http:// or https:// URL",
        ),
        ("webhook = \"‸${ALERT_HOOK}\"\n", "ALERT_HOOK is not set"),
    ] {
        error_at(&format!("{head}{body}"), says);
    }
}

#[test]
fn drill_errors_are_located() {
    let head = "[repository]\npath = \"r\"\n# [drill]\n# check = [\"SELECT true\"]\n[drill]\n";
    for (body, says) in [
        ("‸check = [\"SELECT true\"]\n", "unknown field `check`"),
        ("checks = ‸\"SELECT true\"\n", "invalid type"),
    ] {
        error_at(&format!("{head}{body}"), says);
    }
}

#[test]
fn environment_errors_are_located_in_the_environment_at_fault() {
    let head = "[repository]\npath = \"r\"\n# url = \"${STAGING_URL}\"\n\
                [environments.prod]\nrole = \"production\"\nurl = \"${PROD}\"\ndata = \"raw\"\n\
                pristine = true\n[environments.staging]\n";
    for (body, says) in [
        ("role = ‸\"prod\"\nurl = \"x\"\n", "unknown variant `prod`"),
        (
            "role = \"staging\"\nurl = \"‸${STAGING_URL}\"\n",
            "STAGING_URL is not set",
        ),
        (
            "role = \"staging\"\nurl = \"host=h password=${PROD} user=‸${STAGING_URL}\"\n",
            "STAGING_URL is not set",
        ),
        (
            "role = \"staging\"\nurl = \"x\"\ndata = ‸\"rough\"\n",
            "unknown variant `rough`",
        ),
        (
            "role = \"staging\"\nurl = \"x\"\n‸pristin = true\n",
            "unknown field `pristin`",
        ),
        (
            "role = \"staging\"\nurl = \"x\"\npristine = ‸\"yes\"\n",
            "invalid type",
        ),
        (
            "role = \"staging\"\nurl = \"x\"\nseeds = ‸\"a.sql\"\n",
            "invalid type",
        ),
    ] {
        error_at(&format!("{head}{body}"), says);
    }
    // A key left out is located at the header of its section.
    let head = head.replace("[environments.staging]", "‸[environments.staging]");
    error_at(&format!("{head}url = \"x\"\n"), "missing field `role`");
}

#[test]
fn timezone_errors_point_at_the_setting_not_its_comment() {
    error_at(
        "# timezone = \"Europe/Paris\"\ntimezone = ‸\"Mars/Olympus\"\n[repository]\npath = \"r\"\n",
        "unknown time zone 'Mars/Olympus'",
    );
    error_at(
        "# timezone = \"UTC\"\ntimezone = ‸3\n[repository]\npath = \"r\"\n",
        "invalid type",
    );
    error_at(
        "# timezone = \"UTC\"\n‸time_zone = \"UTC\"\n[repository]\npath = \"r\"\n",
        "unknown field `time_zone`",
    );
}

#[test]
fn errors_in_the_template_are_located_below_its_commented_lines() {
    // `doppel init`'s file comments out most keys: uncommenting one and getting it wrong
    // must point at the line written, not at the comment above it.
    let text = TEMPLATE.replace(
        "# part_size = \"64MB\"",
        "# part_size = \"64MB\"\npart_size = ‸\"64 parsecs\"",
    );
    let text = text
        .replace("${DATABASE_URL}", "x")
        .replace("${STAGING_DATABASE_URL}", "y");
    error_at(&text, "snapshot.part_size");
}

#[test]
fn changes_errors_are_located_in_the_environment_at_fault() {
    let head =
        "[repository]\npath = \"r\"\n# changes = \"logical\"\n# changes_max_lag = \"1GiB\"\n\
                [environments.prod]\nrole = \"production\"\nurl = \"x\"\n";
    for (body, says) in [
        ("changes = ‸\"logicial\"\n", "unknown variant `logicial`"),
        ("changes = ‸true\n", "wanted string"),
        (
            "changes = \"logical\"\nchanges_max_lag = ‸\"lots\"\n",
            "environments.prod.changes_max_lag",
        ),
        (
            "changes_max_lag = ‸\"1GiB\"\n",
            "applies only with changes = \"logical\"",
        ),
        (
            "changes = \"logical\"\nchanges_base_every = ‸\"hourly\"\n",
            "environments.prod.changes_base_every",
        ),
        (
            "changes_base_every = ‸\"1h\"\n",
            "applies only with changes = \"logical\"",
        ),
        ("‸change = \"logical\"\n", "unknown field `change`"),
    ] {
        error_at(&format!("{head}{body}"), says);
    }
    // Another role receives restores, which a slot in its database would block.
    error_at(
        "[repository]\npath = \"r\"\n[environments.qa]\nrole = \"qa\"\nurl = \"x\"\n\
         changes = ‸\"logical\"\n",
        "only for an environment with role production",
    );
    let c = parse(&format!("{head}changes = \"none\"\n")).unwrap();
    assert_eq!(c.environments["prod"].changes, ChangesMode::None);
}
