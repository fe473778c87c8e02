//! The status as a web page: rendered on the server, one self-contained HTML document with
//! inline SVG pictures and no script, so that it works without network access — served by the
//! daemon at `/` and written by `doppel status --html FILE`.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::{time, EnvironmentStatus, Status};

/// What the page shows besides the status: pictures and alerts computed by the caller.
pub struct Extras<'a> {
    /// When the page was made.
    pub now: DateTime<Utc>,
    /// Kept snapshots by tier on a log scale of age (SVG).
    pub timeline: &'a str,
    /// Drills' RTO and RPO over time (SVG).
    pub drills: &'a str,
    /// What needs someone's attention, most urgent first.
    pub alerts: &'a [String],
}

/// Text as HTML: `&`, `<`, `>` and both quotes escaped (HTML takes XML's escapes).
pub use crate::retention::timeline::escape;

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.4em .6em;\
text-align:left;vertical-align:top}th{background:#f2f2f2}.bad{color:#b00020;font-weight:bold}\
.ok{color:#1b7f3b}.muted{color:#777}ul.alerts li{color:#b00020}code{font-size:.95em}";

/// The page.
pub fn render(status: &Status, extras: &Extras<'_>) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>doppel status</title><style>{STYLE}</style></head><body>\n\
         <h1>doppel status</h1>\n<p class=\"muted\">repository <code>{}</code> · {} snapshots · \
         as of {}</p>\n",
        escape(&status.repository),
        status.snapshots,
        time(extras.now)
    );
    out.push_str("<section id=\"alerts\"><h2>Alerts</h2>\n");
    if extras.alerts.is_empty() {
        out.push_str("<p class=\"ok\">none</p>\n");
    } else {
        out.push_str("<ul class=\"alerts\">\n");
        for a in extras.alerts {
            let _ = writeln!(out, "<li>{}</li>", escape(a));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n<section id=\"production\"><h2>Repository and schedule</h2>\n<ul>\n");
    for line in super::production::lines(status) {
        let _ = writeln!(out, "<li>{}</li>", escape(line.trim_start()));
    }
    out.push_str(
        "</ul>\n</section>\n<section id=\"environments\"><h2>Environments</h2>\n<table>\n\
         <tr><th>environment</th><th>role</th><th>data</th><th>holds</th><th>behind newest</th>\
         <th>snapshots</th><th>change archive</th><th>last drill</th></tr>\n",
    );
    for env in &status.environments {
        row(&mut out, env);
    }
    let _ = write!(
        out,
        "</table>\n</section>\n<section id=\"timeline\"><h2>Kept snapshots by tier</h2>\n{}\n\
         </section>\n<section id=\"drills\"><h2>Drills</h2>\n{}\n</section>\n</body></html>\n",
        inline_svg(extras.timeline),
        inline_svg(extras.drills)
    );
    out
}

/// An SVG document without its XML declaration, to sit inside the page.
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

fn row(out: &mut String, env: &EnvironmentStatus) {
    let holds = match &env.holds {
        Some(h) => format!(
            "<code>{}</code> of {}<br>as of {}<br><span class=\"muted\">restored {} by \
             <code>doppel {}</code>, verified {}</span>",
            escape(&h.snapshot),
            escape(&h.series),
            time(h.point()),
            time(h.restored_at),
            escape(&h.command),
            escape(&h.verify)
        ),
        None => "<span class=\"muted\">nothing doppel restored</span>".into(),
    };
    let database: String = env
        .database
        .iter()
        .flat_map(|d| d.lines())
        .map(|l| {
            let class = if l.contains("MODIFIED") || l.contains("not asked") {
                "bad"
            } else {
                "muted"
            };
            format!("<br><span class=\"{class}\">{}</span>", escape(&l))
        })
        .collect();
    let behind = match env.behind_s {
        Some(0) => "<span class=\"ok\">newest</span>".to_string(),
        Some(s) => crate::retention::format_span(chrono::TimeDelta::seconds(s)),
        None => String::new(),
    };
    let series: Vec<String> = env
        .series
        .iter()
        .map(|s| {
            format!(
                "{}: {} (newest <code>{}</code>, {})<br><span class=\"muted\">kept by tier: \
                 {}</span>",
                escape(&s.series),
                s.snapshots,
                escape(&s.newest),
                time(s.newest_time),
                s.kept_by_tier
                    .iter()
                    .filter(|t| t.kept > 0)
                    .map(|t| format!("{} {}", escape(&t.tier), t.kept))
                    .collect::<Vec<_>>()
                    .join(" · ")
            )
        })
        .collect();
    let archive = match &env.archive {
        Some(a) => match (&a.ended, a.caught_up) {
            (Some(e), _) => format!("<span class=\"bad\">ended: {}</span>", escape(&e.reason)),
            (None, Some(c)) => format!("any second up to {}", time(c)),
            (None, None) => "nothing stored yet".into(),
        },
        None => String::new(),
    };
    let drill = match &env.last_drill {
        Some(d) => format!(
            "<span class=\"{}\">{}</span> {}<br>RTO {:.1} s, RPO {:.0} s",
            if d.passed { "ok" } else { "bad" },
            if d.passed { "passed" } else { "FAILED" },
            time(d.started),
            d.rto_s,
            d.rpo_s
        ),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "<tr><td><b>{}</b></td><td>{}</td><td>{}</td><td>{holds}{database}</td><td>{behind}</td>\
         <td>{}</td><td>{archive}</td><td>{drill}</td></tr>",
        escape(&env.name),
        env.role,
        env.data,
        series.join("<br>")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_names_and_errors_cannot_open_markup() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &apos;b&apos;&lt;/script&gt;"
        );
        let status = Status {
            repository: "/r<x>".into(),
            snapshots: 0,
            storage: super::super::production::Storage {
                bytes: None,
                packs: None,
                added_last_day: 0,
                added_last_week: 0,
            },
            last_verify: None,
            schedule: super::super::production::ScheduleStatus {
                every_s: 60,
                daemon: None,
                next_slot: Utc::now(),
                environments: Vec::new(),
            },
            environments: Vec::new(),
        };
        let page = render(
            &status,
            &Extras {
                now: Utc::now(),
                timeline: "<?xml version=\"1.0\"?><svg/>",
                drills: "<svg/>",
                alerts: &["archive of <prod> stopped".to_string()],
            },
        );
        assert!(page.contains("/r&lt;x&gt;") && page.contains("archive of &lt;prod&gt;"));
        assert!(!page.contains("<?xml"), "{page}");
        assert!(!page.contains("<script"), "{page}");
    }
}
