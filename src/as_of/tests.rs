use chrono::{DateTime, Duration, Utc};

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const NOW: &str = "2026-11-22T10:30:00Z";

#[test]
fn times_as_people_write_them() {
    let now = utc(NOW);
    let paris = Zone::parse("Europe/Paris").unwrap();
    let utc_zone = Zone::parse("UTC").unwrap();
    let cases: &[(&str, Zone, &str)] = &[
        ("now", paris, NOW),
        ("2026-11-21T14:00:00Z", paris, "2026-11-21T14:00:00Z"),
        (
            "2026-11-21T14:00:00+01:00",
            utc_zone,
            "2026-11-21T13:00:00Z",
        ),
        // Local date-times are read in the zone: Paris is UTC+1 in November.
        ("2026-11-21 14:00", paris, "2026-11-21T13:00:00Z"),
        ("2026-11-21T14:00", paris, "2026-11-21T13:00:00Z"),
        ("2026-11-21 14:00:30", utc_zone, "2026-11-21T14:00:30Z"),
        ("2026-07-01 14:00", paris, "2026-07-01T12:00:00Z"),
        ("2026-11-21", utc_zone, "2026-11-21T00:00:00Z"),
        ("-90m", paris, "2026-11-22T09:00:00Z"),
        ("90m ago", paris, "2026-11-22T09:00:00Z"),
        ("1d ago", paris, "2026-11-21T10:30:00Z"),
        ("2 hours ago", paris, "2026-11-22T08:30:00Z"),
        ("1d2h ago", paris, "2026-11-21T08:30:00Z"),
        ("1w ago", paris, "2026-11-15T10:30:00Z"),
        ("-30s", paris, "2026-11-22T10:29:30Z"),
        ("yesterday 14:00", paris, "2026-11-21T13:00:00Z"),
        ("Yesterday 14:00", utc_zone, "2026-11-21T14:00:00Z"),
        ("today 09:30", utc_zone, "2026-11-22T09:30:00Z"),
        ("yesterday", utc_zone, "2026-11-21T00:00:00Z"),
    ];
    for (input, zone, want) in cases {
        assert_eq!(parse(input, now, *zone), Ok(utc(want)), "{input}");
    }
}

#[test]
fn unreadable_times_say_what_is_accepted() {
    let now = utc(NOW);
    for input in [
        "",
        "tomorrow",
        "1x ago",
        "ago",
        "-",
        "2026-13-01 10:00",
        "yesterday 25:00",
        "14:00",
        "-1.5h",
    ] {
        let e = parse(input, now, Zone::Named(chrono_tz::UTC)).unwrap_err();
        assert!(
            e.contains("RFC 3339") && e.contains("1d ago"),
            "{input}: {e}"
        );
    }
    // A wall-clock time that daylight saving skips does not exist.
    let e = parse(
        "2026-03-29 02:30",
        now,
        Zone::parse("Europe/Paris").unwrap(),
    )
    .unwrap_err();
    assert!(e.contains("does not exist"), "{e}");
    // The repeated hour of the autumn change is its first occurrence (summer time, +02:00).
    assert_eq!(
        parse(
            "2026-10-25 02:30",
            now,
            Zone::parse("Europe/Paris").unwrap()
        ),
        Ok(utc("2026-10-25T00:30:00Z"))
    );
    assert!(Zone::parse("Mars/Olympus").unwrap_err().contains("IANA"));
}

fn manifest(id: &str, time: &str, env: &str, kind: &str) -> Manifest {
    crate::repo::manifest::sample(id, time, env, kind)
}

#[test]
fn the_newest_snapshot_at_or_before_t_in_the_series_the_target_may_receive() {
    let all = vec![
        manifest("a", "2026-11-21T12:00:00Z", "production", "raw"),
        manifest("b", "2026-11-21T13:00:00Z", "production", "anonymized"),
        manifest("c", "2026-11-21T14:00:00Z", "production", "raw"),
        manifest("d", "2026-11-21T15:00:00Z", "production", "raw"),
        manifest("e", "2026-11-21T14:30:00Z", "billing", "raw"),
    ];
    let raw_prod =
        |m: &Manifest| m.source.environment == "production" && m.kind.kind == DataKind::Raw;
    let anon_prod =
        |m: &Manifest| m.source.environment == "production" && m.kind.kind == DataKind::Anonymized;
    /// T, the series filter, and the expected id or error fragment.
    type Case<'a> = (
        &'a str,
        &'a dyn Fn(&Manifest) -> bool,
        Result<&'a str, &'a str>,
    );
    let cases: &[Case] = &[
        ("2026-11-21T14:00:00Z", &raw_prod, Ok("c")), // exactly at T counts
        ("2026-11-21T14:59:59Z", &raw_prod, Ok("c")),
        ("2026-11-21T16:00:00Z", &raw_prod, Ok("d")),
        ("2026-11-21T12:30:00Z", &raw_prod, Ok("a")),
        (
            "2026-11-21T11:00:00Z",
            &raw_prod,
            Err("oldest this target may receive"),
        ),
        ("2026-11-21T14:00:00Z", &anon_prod, Ok("b")),
        (
            "2026-11-21T12:30:00Z",
            &anon_prod,
            Err("2026-11-21T13:00:00+00:00"),
        ),
        ("2026-11-21T14:00:00Z", &|_| false, Err("holds no snapshot")),
    ];
    for (t, accept, want) in cases {
        let got = pick(&all, utc(t), *accept).map(|m| m.id.as_str());
        match (got, want) {
            (Ok(id), Ok(w)) => assert_eq!(id, *w, "{t}"),
            (Err(e), Err(w)) => assert!(e.contains(w), "{t}: {e}"),
            (got, want) => panic!("{t}: got {got:?}, want {want:?}"),
        }
    }
}

/// A subset snapshot: anonymized, with the digest of its `[subset]`.
fn subset_manifest(id: &str, time: &str, digest: &str) -> Manifest {
    let mut m = manifest(id, time, "production", "anonymized");
    m.kind.subset = Some(crate::repo::manifest::SubsetRecord {
        digest: digest.repeat(64 / digest.len()),
        targets: vec!["public.orders 1%".into()],
    });
    m
}

/// An environment section as the config would read it.
fn env(section: &str) -> EnvironmentConfig {
    toml::from_str(&format!("url = \"dbname=x\"\n{section}")).unwrap()
}

#[test]
fn targets_want_the_series_of_their_policy_whole_unless_they_declare_subset() {
    let cases = [
        (None, DataKind::Raw, false),
        (Some(env("role = \"prod-copy\"")), DataKind::Raw, false),
        (Some(env("role = \"staging\"")), DataKind::Anonymized, false),
        (
            Some(env("role = \"qa\"\ndata = \"raw\"")),
            DataKind::Raw,
            false,
        ),
        (
            Some(env("role = \"qa\"\nsubset = true")),
            DataKind::Anonymized,
            true,
        ),
        (
            Some(env("role = \"dev\"\nsubset = false")),
            DataKind::Anonymized,
            false,
        ),
    ];
    for (target, kind, subset) in cases {
        let w = Wanted::for_target("production", target.as_ref());
        assert_eq!((w.kind, w.subset), (kind, subset), "{target:?}");
    }
    let subset = Wanted::for_target("production", Some(&env("role = \"qa\"\nsubset = true")));
    assert_eq!(subset.series(), "production/anonymized/subset-*");
}

#[test]
fn a_subset_is_never_chosen_for_a_whole_target_and_only_subsets_for_a_subset_one() {
    // The subset is the newest: "now" must still give the whole anonymized snapshot.
    let all = vec![
        manifest("full-1", "2026-11-21T12:00:00Z", "production", "anonymized"),
        manifest("raw-1", "2026-11-21T12:30:00Z", "production", "raw"),
        subset_manifest("sub-1", "2026-11-21T13:00:00Z", "a1"),
        subset_manifest("sub-2", "2026-11-21T14:00:00Z", "b2"),
    ];
    let whole = Wanted::for_target("production", Some(&env("role = \"staging\"")));
    let subsets = Wanted::for_target("production", Some(&env("role = \"qa\"\nsubset = true")));
    let now = utc("2026-11-21T15:00:00Z");
    assert_eq!(choose(&all, now, &whole).unwrap().id, "full-1");
    assert_eq!(choose(&all, now, &subsets).unwrap().id, "sub-2");
    assert_eq!(
        choose(&all, utc("2026-11-21T13:30:00Z"), &subsets)
            .unwrap()
            .id,
        "sub-1"
    );
    // Before the first subset: too early, said by series.
    let e = choose(&all, utc("2026-11-21T12:45:00Z"), &subsets).unwrap_err();
    assert!(
        e.contains("production/anonymized/subset-*") && e.contains("2026-11-21T13:00:00+00:00"),
        "{e}"
    );
    // Only subsets stored: a whole target is refused, and told why the subsets are not used.
    let only_subsets = &all[2..];
    let e = choose(only_subsets, now, &whole).unwrap_err();
    assert!(
        e.contains("series production/anonymized holds no snapshot") && e.contains("subset = true"),
        "{e}"
    );
    // Only whole snapshots: a subset target is refused, naming its series and what to do.
    let e = choose(&all[..2], now, &subsets).unwrap_err();
    assert!(
        e.contains("series production/anonymized/subset-* holds no snapshot")
            && e.contains("--subset")
            && e.contains("production/anonymized)"),
        "{e}"
    );
    // A manifest that records no subset (as all did before) is whole.
    let old = manifest("old", "2026-11-21T11:00:00Z", "production", "anonymized");
    assert!(whole.accepts(&old) && !subsets.accepts(&old));
}

#[test]
fn staleness_reads_well() {
    for (secs, want) in [
        (0, "0s"),
        (42, "42s"),
        (192, "3m 12s"),
        (3 * 3600 + 12 * 60 + 5, "3h 12m"),
        (2 * 86_400 + 5 * 3600, "2d 5h"),
    ] {
        assert_eq!(staleness(Duration::seconds(secs)), want);
    }
}
