//! `doppel schedule plan`: when the scheduler will take snapshots, and what retention would
//! keep now and at the end of the coming period, in words and as a timeline picture.

use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

use doppel::error::{Error, Result};
use doppel::retention::decision::Plan;
use doppel::retention::timeline::Timeline;
use doppel::retention::{format_span, project, render_svg, Reason, SnapshotInfo, Tiers};

/// The most snapshot slots planned (horizon plus period, one per finest spacing).
const MAX_SLOTS: i64 = 5_000_000;

/// How many upcoming runs are listed.
const SHOWN_RUNS: i64 = 5;

/// The series name used for the planned snapshots.
const SERIES: &str = "each scheduled environment";

/// Arguments of `doppel schedule plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// How far ahead to plan (units s, m, h, d, w).
    #[arg(long = "for", default_value = "2d", value_parser = super::retention::span_arg, value_name = "SPAN")]
    pub duration: TimeDelta,
    /// Also draw the timeline (SVG) into this file.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

/// Prints the plan and writes the picture if asked.
pub fn run(tiers: &Tiers, args: PlanArgs) -> Result<()> {
    let now = Utc::now().trunc_subsecs(0);
    let (text, svg) = describe(tiers, args.duration, now)?;
    crate::say!("{}", text.trim_end());
    if let Some(path) = &args.svg {
        std::fs::write(path, svg).map_err(|e| {
            Error::Config(format!(
                "cannot write the timeline to {}: {e}",
                path.display()
            ))
        })?;
        crate::say!("wrote the timeline picture to {}", path.display());
    }
    Ok(())
}

/// The text and the SVG for a plan of `ahead` from `now`, assuming the schedule has run (and
/// every snapshot succeeded) for the whole horizon before `now` and keeps doing so.
pub fn describe(tiers: &Tiers, ahead: TimeDelta, now: DateTime<Utc>) -> Result<(String, String)> {
    let every = tiers.finest_spacing();
    let step = every.num_seconds().max(1);
    // Far enough back that the oldest bucket any tier keeps is filled as in a steady state.
    let history = tiers.horizon() + tiers.coarsest_spacing() * 2;
    let slots = (history + ahead).num_seconds() / step;
    if slots > MAX_SLOTS {
        return Err(Error::Config(format!(
            "planning {} ahead with snapshots every {} is {slots} snapshots, more than \
             {MAX_SLOTS}: plan a shorter period with --for",
            format_span(ahead),
            format_span(every)
        )));
    }
    let until = now + ahead;
    let from = now - history;
    let at_now = project(tiers, &[], SERIES, every, from, now);
    let survivors: Vec<SnapshotInfo> = at_now
        .kept()
        .map(|d| SnapshotInfo {
            id: d.id.clone(),
            series: d.series.clone(),
            time: d.time,
            pinned: false,
            complete: true,
        })
        .collect();
    // Path independence: continuing from what is kept now equals planning it all at once.
    let at_end = project(
        tiers,
        &survivors,
        SERIES,
        every,
        now + TimeDelta::seconds(1),
        until,
    );

    let mut out = String::new();
    let first = DateTime::from_timestamp(now.timestamp().div_euclid(step) * step, 0)
        .map(|t| if t < now { t + every } else { t })
        .unwrap_or(now);
    let runs: Vec<String> = (0..SHOWN_RUNS)
        .map(|i| first + every * i as i32)
        .filter(|t| *t <= until)
        .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .collect();
    let total = (until.timestamp() - first.timestamp()).div_euclid(step) + 1;
    let _ = writeln!(
        out,
        "schedule: a snapshot of each scheduled environment every {} (the finest tier), on the \
         clock's {} marks",
        format_span(every),
        format_span(every)
    );
    let _ = writeln!(
        out,
        "next runs: {}{}",
        runs.join(", "),
        if total > runs.len() as i64 {
            format!(", … {total} in the next {}", format_span(ahead))
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "\nretention per environment and kind, if every run succeeds (and did for the whole \
         horizon before now):"
    );
    let later = format!("in {}", format_span(ahead));
    let _ = writeln!(
        out,
        "  {:<10} {:>10} {later:>14}  oldest it keeps {later}",
        "tier", "kept now",
    );
    for tier in tiers.tiers() {
        let oldest = by_tier(&at_end, tier.spacing).first().copied();
        let _ = writeln!(
            out,
            "  {:<10} {:>10} {:>14}  {}",
            tier.to_string(),
            by_tier(&at_now, tier.spacing).len(),
            by_tier(&at_end, tier.spacing).len(),
            oldest.map_or_else(
                || "-".into(),
                |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string()
            )
        );
    }
    let _ = writeln!(
        out,
        "  {:<10} {:>10} {:>14}  (a snapshot can serve several tiers; never more than {})",
        "in all",
        at_now.kept().count(),
        at_end.kept().count(),
        tiers.max_kept()
    );
    let svg = render_svg(&Timeline {
        tiers,
        plan: &at_end,
        from: now - tiers.horizon(),
        now,
        until,
    });
    Ok((out, svg))
}

/// Times of the snapshots a tier keeps, oldest first.
fn by_tier(plan: &Plan, spacing: TimeDelta) -> Vec<DateTime<Utc>> {
    plan.kept()
        .filter(|d| {
            d.reasons
                .iter()
                .any(|r| matches!(r, Reason::Tier { spacing: s, .. } if *s == spacing))
        })
        .map(|d| d.time)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_next_runs_and_what_each_tier_keeps() {
        let now: DateTime<Utc> = "2026-11-22T10:03:20Z".parse().unwrap();
        let (text, svg) = describe(&Tiers::default(), TimeDelta::days(2), now).unwrap();
        assert!(text.contains("every 1m"), "{text}");
        assert!(
            text.contains("next runs: 2026-11-22 10:04:00Z, 2026-11-22 10:05:00Z"),
            "{text}"
        );
        assert!(text.contains("… 2880 in the next 2d"), "{text}");
        // One snapshot per minute of the last 15, one per day of the last 30 (and the one in
        // force 30 days back).
        let row = |tier: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(tier))
                .unwrap()
                .to_string()
        };
        assert!(
            row("1m@15m").split_whitespace().nth(2) == Some("16"),
            "{text}"
        );
        assert!(row("1d@30d").contains("2026-10-25 00:00:00Z"), "{text}");
        assert!(svg.starts_with("<svg") && svg.contains("1d@30d"));
    }

    #[test]
    fn an_absurd_period_is_refused() {
        let tiers = Tiers::parse(&["1s@1m".to_string()]).unwrap();
        let err = describe(&tiers, TimeDelta::weeks(1000), Utc::now()).unwrap_err();
        assert!(err.to_string().contains("--for"), "{err}");
    }

    #[test]
    fn writes_the_picture() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.svg");
        let tiers = Tiers::parse(&["1m@15m".to_string(), "1h@1d".to_string()]).unwrap();
        run(
            &tiers,
            PlanArgs {
                duration: TimeDelta::hours(3),
                svg: Some(path.clone()),
            },
        )
        .unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().starts_with("<svg"));
    }
}
