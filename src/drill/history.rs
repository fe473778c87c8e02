//! Past drills as a table and as a chart of RTO and RPO over time.

use super::DrillReport;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 300.0;
const MARGIN: f64 = 50.0;

/// A table, one drill per line, oldest first.
pub fn table(drills: &[DrillReport]) -> String {
    let mut out =
        String::from("drill                          result  RTO s    RPO      snapshot\n");
    for d in drills {
        out.push_str(&format!(
            "{:<30} {:<7} {:>7.1}  {:<8} {}\n",
            d.id,
            if d.passed { "passed" } else { "FAILED" },
            d.rto_s,
            crate::as_of::staleness(chrono::Duration::milliseconds((d.rpo_s * 1000.0) as i64)),
            d.snapshot
        ));
    }
    out
}

/// An SVG chart: RTO and RPO (seconds, each on its own scale) against the drill's date;
/// failed drills are marked in red.
pub fn svg(drills: &[DrillReport]) -> String {
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{MARGIN}\" y=\"20\">Recovery drills: RTO (blue) and RPO (orange), seconds</text>\n"
    );
    if drills.is_empty() {
        out.push_str(&format!(
            "<text x=\"{MARGIN}\" y=\"{}\">no drills yet</text>\n</svg>\n",
            HEIGHT / 2.0
        ));
        return out;
    }
    let t0 = drills.first().map(|d| d.started.timestamp()).unwrap_or(0) as f64;
    let t1 = drills.last().map(|d| d.started.timestamp()).unwrap_or(0) as f64;
    let span = (t1 - t0).max(1.0);
    let x = |d: &DrillReport| {
        if drills.len() == 1 {
            WIDTH / 2.0
        } else {
            MARGIN + (d.started.timestamp() as f64 - t0) / span * (WIDTH - 2.0 * MARGIN)
        }
    };
    let plot_h = HEIGHT - 2.0 * MARGIN;
    // A single drill tops both scales at the same spot: set its two dots apart.
    let apart = if drills.len() == 1 { 8.0 } else { 0.0 };
    for (value, color, label_x, shift) in [
        (
            &(|d: &DrillReport| d.rto_s) as &dyn Fn(&DrillReport) -> f64,
            "#1f77b4",
            4.0,
            -apart,
        ),
        (
            &|d: &DrillReport| d.rpo_s,
            "#ff7f0e",
            WIDTH - MARGIN + 4.0,
            apart,
        ),
    ] {
        let x = |d: &DrillReport| x(d) + shift;
        let max = drills.iter().map(value).fold(0.0_f64, f64::max).max(1e-3);
        let y = |v: f64| HEIGHT - MARGIN - v / max * plot_h;
        let points: Vec<String> = drills
            .iter()
            .map(|d| format!("{:.1},{:.1}", x(d), y(value(d))))
            .collect();
        out.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n",
            points.join(" ")
        ));
        for d in drills {
            let fill = if d.passed { color } else { "#d62728" };
            out.push_str(&format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{fill}\"><title>{} {}: {:.1} s</title></circle>\n",
                x(d),
                y(value(d)),
                d.id,
                if d.passed { "passed" } else { "FAILED" },
                value(d)
            ));
        }
        out.push_str(&format!(
            "<text x=\"{label_x}\" y=\"{:.1}\" fill=\"{color}\">{max:.1}</text>\n",
            MARGIN
        ));
    }
    let dates = match drills {
        [one] => vec![(one, "middle")],
        [first, .., last] => vec![(first, "start"), (last, "end")],
        [] => Vec::new(),
    };
    for (d, anchor) in dates {
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>\n",
            x(d),
            HEIGHT - MARGIN / 2.0,
            d.started.format("%Y-%m-%d %H:%M")
        ));
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drill(id: &str, started: &str, rto: f64, rpo: f64, passed: bool) -> DrillReport {
        let t = chrono::DateTime::parse_from_rfc3339(started)
            .unwrap()
            .with_timezone(&chrono::Utc);
        DrillReport {
            id: id.into(),
            started: t,
            at: t,
            snapshot: "s".into(),
            snapshot_time: t,
            target: "scratch".into(),
            target_version: None,
            rto_s: rto,
            rpo_s: rpo,
            replay: None,
            tables: 1,
            rows: 1,
            checks: Vec::new(),
            passed,
        }
    }

    #[test]
    fn the_chart_has_a_point_per_drill_and_marks_failures() {
        let drills = [
            drill("d1", "2026-11-20T10:00:00Z", 12.0, 60.0, true),
            drill("d2", "2026-11-21T10:00:00Z", 15.5, 30.0, false),
            drill("d3", "2026-11-22T10:00:00Z", 11.0, 90.0, true),
        ];
        let s = svg(&drills);
        assert_eq!(s.matches("<circle").count(), 6, "{s}");
        assert_eq!(
            s.matches("#d62728").count(),
            2,
            "the failed drill, in both series"
        );
        assert!(s.contains("2026-11-20 10:00") && s.contains("2026-11-22 10:00"));
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert!(svg(&[]).contains("no drills yet"));
        let t = table(&drills);
        assert_eq!(t.lines().count(), 4);
        assert!(t.contains("FAILED") && t.contains("15.5"));
    }

    #[test]
    fn a_single_drill_shows_its_date_once_and_both_dots() {
        let s = svg(&[drill("d1", "2026-11-20T10:00:00Z", 2.0, 3.0, true)]);
        assert_eq!(s.matches("2026-11-20 10:00").count(), 1, "{s}");
        let xs: Vec<&str> = s
            .split("<circle cx=\"")
            .skip(1)
            .map(|c| c.split('"').next().unwrap())
            .collect();
        assert_eq!(xs.len(), 2, "{s}");
        assert_ne!(xs[0], xs[1], "{s}");
    }
}
