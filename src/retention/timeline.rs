//! The retention timeline as a picture: an SVG with time across (from the start of the
//! horizon to the end of the planned period), one row per tier showing the buckets it keeps,
//! and a dot for every snapshot kept at the end.
//!
//! Time runs on a logarithmic scale of age (measured back from the end of the period): on a
//! linear scale the 1-minute tier would be a hair at the edge of a 30-day picture, while with
//! exponential tiers every tier gets about the same width on a log scale.

use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};

use super::decision::{show_time, Decision, Plan, Reason};
use super::duration::format_span;
use super::tiers::Tiers;

const WIDTH: f64 = 1000.0;
/// Room for the row labels.
const LEFT: f64 = 130.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const ROW: f64 = 22.0;

/// What the picture shows.
#[derive(Debug, Clone, Copy)]
pub struct Timeline<'a> {
    /// The tiers, one row each.
    pub tiers: &'a Tiers,
    /// The plan at the end of the period (`until`): its kept snapshots are the dots.
    pub plan: &'a Plan,
    /// Left edge of the picture (usually `now` minus the horizon).
    pub from: DateTime<Utc>,
    /// The present, marked with a line; what lies after it is planned.
    pub now: DateTime<Utc>,
    /// Right edge of the picture: the end of the planned period.
    pub until: DateTime<Utc>,
}

/// Maps times to x on a log scale of the age at `until`.
struct Scale {
    until: DateTime<Utc>,
    /// Ages are counted in this unit (the finest spacing), so that one spacing is visible.
    unit: f64,
    /// ln(1 + span/unit): the width of the whole picture in log units.
    full: f64,
}

impl Scale {
    fn x(&self, t: DateTime<Utc>) -> f64 {
        let age = (self.until - t).num_milliseconds().max(0) as f64 / 1000.0;
        let f = (1.0 + age / self.unit).ln().min(self.full);
        WIDTH - RIGHT - (WIDTH - LEFT - RIGHT) * f / self.full
    }
}

/// Renders the picture as a standalone SVG document.
pub fn render_svg(view: &Timeline<'_>) -> String {
    let span = (view.until - view.from).num_seconds().max(1) as f64;
    let unit = view.tiers.finest_spacing().num_seconds().max(1) as f64;
    let scale = Scale {
        until: view.until,
        unit,
        full: (1.0 + span / unit).ln(),
    };
    let series = by_series(&view.plan.decisions);
    let rows: usize = series.len() * (view.tiers.tiers().len() + 2);
    let plot_bottom = TOP + rows as f64 * ROW;
    let height = plot_bottom + 60.0;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">"#
    );
    s.push_str(
        "<style>.window{fill:#e8f0fe}.bucket{stroke:#fff;stroke-width:0.5}.even{fill:#7aa7e8}\
         .odd{fill:#4f86d6}.before{fill:#f0a35e}\
         .future{fill:#f4f4f4}.kept{fill:#1a56b0}.now{stroke:#c62828;stroke-dasharray:4 3}\
         .tick{stroke:#999}.label{fill:#333}.note{fill:#666}</style>\n",
    );
    let (x_now, x_end) = (scale.x(view.now), scale.x(view.until));
    let _ = writeln!(
        s,
        r#"<rect class="future" x="{x_now:.1}" y="{TOP}" width="{:.1}" height="{:.1}"/>"#,
        (x_end - x_now).max(0.0),
        plot_bottom - TOP
    );
    let _ = writeln!(
        s,
        r#"<text class="note" x="{LEFT}" y="16">retention at {} (log scale of age: every tier gets room); grey: still to come; orange: bucket before a window, in force when it starts</text>"#,
        escape(&show_time(view.until))
    );

    let mut y = TOP;
    for (name, decisions) in &series {
        let _ = writeln!(
            s,
            r#"<text class="label" x="6" y="{:.1}" font-weight="bold">{}</text>"#,
            y + ROW * 0.7,
            escape(name)
        );
        y += ROW;
        let anchor = decisions
            .iter()
            .find(|d| d.reasons.contains(&Reason::Anchor))
            .map(|d| d.time);
        for tier in view.tiers.tiers() {
            let _ = writeln!(
                s,
                r#"<text class="label" x="14" y="{:.1}">{tier}</text>"#,
                y + ROW * 0.7
            );
            if let Some(anchor) = anchor {
                let (x0, x1) = (scale.x(anchor - tier.window), scale.x(anchor));
                rect(&mut s, "window", x0, y + 3.0, x1 - x0, ROW - 6.0, None);
            }
            for d in decisions.iter().filter(|d| d.keep) {
                for r in &d.reasons {
                    if let Reason::Tier {
                        spacing,
                        bucket_start,
                        before_window,
                    } = r
                    {
                        if *spacing != tier.spacing {
                            continue;
                        }
                        let (x0, x1) = (scale.x(*bucket_start), scale.x(*bucket_start + *spacing));
                        let title = format!(
                            "{} bucket from {}: keeps {}{}",
                            format_span(*spacing),
                            show_time(*bucket_start),
                            d.id,
                            if *before_window {
                                ", in force when the window starts"
                            } else {
                                ""
                            }
                        );
                        // Alternate shades, so that neighbouring buckets stay apart.
                        let index = bucket_start.timestamp().div_euclid(spacing.num_seconds());
                        let class = match (*before_window, index % 2 == 0) {
                            (true, _) => "bucket before",
                            (false, true) => "bucket even",
                            (false, false) => "bucket odd",
                        };
                        rect(
                            &mut s,
                            class,
                            x0,
                            y + 5.0,
                            x1 - x0,
                            ROW - 10.0,
                            Some(&title),
                        );
                    }
                }
            }
            y += ROW;
        }
        let kept = decisions.iter().filter(|d| d.keep).count();
        let _ = writeln!(
            s,
            r#"<text class="label" x="14" y="{:.1}">kept ({kept})</text>"#,
            y + ROW * 0.7
        );
        for d in decisions.iter().filter(|d| d.keep) {
            let _ = writeln!(
                s,
                r#"<circle class="kept" cx="{:.1}" cy="{:.1}" r="3"><title>{} {}</title></circle>"#,
                scale.x(d.time),
                y + ROW / 2.0,
                escape(&d.id),
                escape(&show_time(d.time))
            );
        }
        y += ROW;
    }

    // The present, and the age of each tier's window at the end of the period.
    let _ = writeln!(
        s,
        r#"<line class="now" x1="{x_now:.1}" y1="{:.1}" x2="{x_now:.1}" y2="{plot_bottom:.1}"/>"#,
        TOP - 6.0
    );
    let _ = writeln!(
        s,
        r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="middle">now</text>"#,
        x_now,
        TOP - 10.0
    );
    let mut ticks: Vec<(DateTime<Utc>, String)> = view
        .tiers
        .tiers()
        .iter()
        .map(|t| (view.until - t.window, format!("−{}", format_span(t.window))))
        .collect();
    ticks.push((view.until, format_span(TimeDelta::zero())));
    for (t, label) in ticks {
        let x = scale.x(t);
        let _ = writeln!(
            s,
            r#"<line class="tick" x1="{x:.1}" y1="{plot_bottom:.1}" x2="{x:.1}" y2="{:.1}"/>"#,
            plot_bottom + 5.0
        );
        let _ = writeln!(
            s,
            r#"<text class="label" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            plot_bottom + 17.0,
            escape(&label)
        );
    }
    let _ = writeln!(
        s,
        r#"<text class="note" x="{LEFT}" y="{:.1}">age at {}; left edge {}</text>"#,
        plot_bottom + 40.0,
        escape(&show_time(view.until)),
        escape(&show_time(view.from))
    );
    s.push_str("</svg>\n");
    s
}

/// The decisions grouped by series (they come sorted by series).
fn by_series(decisions: &[Decision]) -> Vec<(String, &[Decision])> {
    let mut out = Vec::new();
    let mut rest = decisions;
    while let Some(first) = rest.first() {
        let n = rest.iter().take_while(|d| d.series == first.series).count();
        let (head, tail) = rest.split_at(n);
        out.push((first.series.clone(), head));
        rest = tail;
    }
    out
}

/// A rectangle at least a pixel wide, so that a bucket never vanishes.
fn rect(s: &mut String, class: &str, x: f64, y: f64, w: f64, h: f64, title: Option<&str>) {
    let _ = write!(
        s,
        r#"<rect class="{class}" x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}""#,
        w.max(1.0)
    );
    match title {
        Some(t) => {
            let _ = writeln!(s, "><title>{}</title></rect>", escape(t));
        }
        None => s.push_str("/>\n"),
    }
}

/// Escapes text for XML (and HTML) content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::simulate::project;
    use crate::retention::{plan, SnapshotInfo};

    /// Checks that every tag is closed in order (XML-ish: no parser needed for our own output)
    /// and returns the element names in document order.
    fn balanced(svg: &str) -> Vec<String> {
        let mut stack: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut rest = svg;
        while let Some(open) = rest.find('<') {
            let close = rest[open..].find('>').expect("every tag ends") + open;
            let tag = &rest[open + 1..close];
            assert!(!tag.contains('<'), "a '<' inside a tag: {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name), "closing {name}");
            } else {
                let name: String = tag.chars().take_while(|c| c.is_alphanumeric()).collect();
                names.push(name.clone());
                if !tag.ends_with('/') {
                    stack.push(name);
                }
            }
            rest = &rest[close + 1..];
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        names
    }

    #[test]
    fn the_picture_is_well_formed_with_a_dot_per_kept_snapshot() {
        let tiers = Tiers::default();
        let now: DateTime<Utc> = "2026-11-22T10:03:00Z".parse().unwrap();
        let until = now + TimeDelta::days(2);
        let from = now - tiers.horizon();
        let plan = project(
            &tiers,
            &[],
            "production/raw",
            TimeDelta::minutes(1),
            from,
            until,
        );
        let svg = render_svg(&Timeline {
            tiers: &tiers,
            plan: &plan,
            from,
            now,
            until,
        });
        assert!(svg.starts_with("<svg"), "{svg}");
        let names = balanced(&svg);
        assert_eq!(names[0], "svg");
        let kept = plan.kept().count();
        assert!(kept > 50, "{kept}");
        assert_eq!(svg.matches(r#"class="kept""#).count(), kept);
        assert_eq!(names.iter().filter(|n| *n == "circle").count(), kept);
        // Every tier has a row, and every kept bucket a rectangle.
        for t in tiers.tiers() {
            assert!(svg.contains(&format!(">{t}<")), "{t}");
        }
        let buckets = plan
            .kept()
            .flat_map(|d| &d.reasons)
            .filter(|r| matches!(r, Reason::Tier { .. }))
            .count();
        assert_eq!(svg.matches(r#"class="bucket "#).count(), buckets);
    }

    #[test]
    fn names_are_escaped_and_series_get_their_own_rows() {
        let tiers = Tiers::parse(&["1m@5m".to_string()]).unwrap();
        let t: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let snaps: Vec<SnapshotInfo> = ["a<b", "c&d"]
            .iter()
            .enumerate()
            .map(|(i, name)| SnapshotInfo {
                id: format!("id\"{i}"),
                series: name.to_string(),
                time: t,
                pinned: false,
                complete: true,
            })
            .collect();
        let plan = plan(&tiers, &snaps, t);
        let svg = render_svg(&Timeline {
            tiers: &tiers,
            plan: &plan,
            from: t - TimeDelta::hours(1),
            now: t,
            until: t,
        });
        balanced(&svg);
        assert!(svg.contains("a&lt;b") && svg.contains("c&amp;d") && svg.contains("id&quot;1"));
        assert_eq!(svg.matches(r#"class="kept""#).count(), 2);
    }
}
