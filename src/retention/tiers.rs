//! The retention schedule: tiers written `spacing@window` ("keep one snapshot per `spacing`
//! for the last `window`"), validated so that a policy that reads wrong, overlaps badly or
//! is empty never reaches the pruner.

use std::fmt;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use super::duration::{format_span, parse_span};

/// Why a list of tiers was refused. Every message names the offending tier as written and
/// says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    /// No tier at all: such a policy would keep nothing but the newest snapshot.
    #[error(
        "no retention tiers: an empty policy would delete every snapshot but the newest, so it is \
         refused; list at least one tier such as \"1d@30d\", or leave `tiers` out for the defaults"
    )]
    Empty,
    /// A tier is not `spacing@window` with valid spans.
    #[error("tier \"{tier}\": {problem}; write tiers as spacing@window, e.g. \"5m@1h\"")]
    Syntax {
        /// The tier as written.
        tier: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A tier's window is shorter than its spacing: it could never keep two snapshots.
    #[error(
        "tier \"{tier}\": its window ({window}) is shorter than its spacing ({spacing}); make the \
         window at least as long as the spacing"
    )]
    WindowShorterThanSpacing {
        /// The tier as written.
        tier: String,
        /// Its spacing.
        spacing: String,
        /// Its window.
        window: String,
    },
    /// A tier listed after a finer one does not have a larger spacing.
    #[error(
        "tier \"{tier}\": its spacing is not larger than that of \"{previous}\" before it; list \
         tiers from finest to coarsest, each with a larger spacing than the one before"
    )]
    SpacingNotCoarser {
        /// The tier as written.
        tier: String,
        /// The finer tier before it.
        previous: String,
    },
    /// A coarser tier does not reach further back than the finer one before it, so it would
    /// add nothing.
    #[error(
        "tier \"{tier}\": its window is not longer than that of the finer tier \"{previous}\" \
         before it, so it would keep nothing more; give it a longer window or remove it"
    )]
    WindowNotLonger {
        /// The tier as written.
        tier: String,
        /// The finer tier before it.
        previous: String,
    },
}

/// One tier: keep one snapshot per `spacing` (buckets aligned to the UTC epoch) for the last
/// `window` before the newest snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tier {
    /// Width of a bucket; one snapshot is kept per bucket.
    pub spacing: TimeDelta,
    /// How far back from the newest snapshot the tier keeps buckets.
    pub window: TimeDelta,
}

impl Tier {
    /// Parses `spacing@window`, e.g. `5m@1h`. Checks the tier on its own (see [`Tiers::parse`]
    /// for the checks between tiers).
    pub fn parse(text: &str) -> Result<Tier, RetentionError> {
        let syntax = |problem: String| RetentionError::Syntax {
            tier: text.to_string(),
            problem,
        };
        let Some((spacing, window)) = text.split_once('@') else {
            return Err(syntax("there is no '@' between spacing and window".into()));
        };
        let spacing = parse_span(spacing).map_err(|e| syntax(format!("spacing: {e}")))?;
        let window = parse_span(window).map_err(|e| syntax(format!("window: {e}")))?;
        let tier = Tier { spacing, window };
        tier.check(text)?;
        Ok(tier)
    }

    /// The spacing in whole seconds (at least 1 once validated): the unit of bucket arithmetic.
    pub(crate) fn spacing_secs(&self) -> i64 {
        self.spacing.num_seconds()
    }

    /// The most buckets the tier can keep: those overlapping its window (at most
    /// ⌈window/spacing⌉ + 1, as the window need not start on a bucket boundary) and the one
    /// holding the snapshot in force at the window's start.
    pub fn max_buckets(&self) -> usize {
        let (w, s) = (self.window.num_seconds(), self.spacing_secs().max(1));
        (w.div_euclid(s) + i64::from(w % s != 0) + 2) as usize
    }

    fn check(&self, text: &str) -> Result<(), RetentionError> {
        // Tiers built in code rather than parsed get the same checks as parsed ones.
        for (what, span) in [("spacing", self.spacing), ("window", self.window)] {
            if span <= TimeDelta::zero() || span.subsec_nanos() != 0 {
                return Err(RetentionError::Syntax {
                    tier: text.to_string(),
                    problem: format!("the {what} must be a positive whole number of seconds"),
                });
            }
        }
        if self.window < self.spacing {
            return Err(RetentionError::WindowShorterThanSpacing {
                tier: text.to_string(),
                spacing: format_span(self.spacing),
                window: format_span(self.window),
            });
        }
        Ok(())
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{}",
            format_span(self.spacing),
            format_span(self.window)
        )
    }
}

/// A validated retention policy: at least one tier, finest first, each coarser tier with a
/// larger spacing and a longer window than the one before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Tiers(Vec<Tier>);

/// The default schedule, as in `doppel.toml`'s template.
pub const DEFAULT_TIERS: [&str; 8] = [
    "1m@15m", "2m@30m", "5m@1h", "10m@3h", "1h@1d", "3h@3d", "6h@7d", "1d@30d",
];

impl Default for Tiers {
    /// One snapshot per minute for 15 minutes, then per 2 minutes for 30 minutes, 5 per hour,
    /// 10 minutes for 3 hours, hourly for a day, 3-hourly for 3 days, 6-hourly for a week and
    /// daily for 30 days ([`DEFAULT_TIERS`]).
    fn default() -> Self {
        let list: Vec<String> = DEFAULT_TIERS.iter().map(|s| s.to_string()).collect();
        Tiers::parse(&list).expect("the default tiers are valid")
    }
}

impl Tiers {
    /// Parses and validates tiers written `spacing@window`, finest first.
    pub fn parse(list: &[String]) -> Result<Tiers, RetentionError> {
        let tiers = list
            .iter()
            .map(|t| Tier::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        Tiers::check(tiers, list)
    }

    /// Validates tiers built in code, finest first.
    pub fn new(tiers: Vec<Tier>) -> Result<Tiers, RetentionError> {
        let names: Vec<String> = tiers.iter().map(Tier::to_string).collect();
        for (t, name) in tiers.iter().zip(&names) {
            t.check(name)?;
        }
        Tiers::check(tiers, &names)
    }

    fn check(tiers: Vec<Tier>, names: &[String]) -> Result<Tiers, RetentionError> {
        if tiers.is_empty() {
            return Err(RetentionError::Empty);
        }
        for i in 1..tiers.len() {
            let (finer, coarser) = (tiers[i - 1], tiers[i]);
            if coarser.spacing <= finer.spacing {
                return Err(RetentionError::SpacingNotCoarser {
                    tier: names[i].clone(),
                    previous: names[i - 1].clone(),
                });
            }
            if coarser.window <= finer.window {
                return Err(RetentionError::WindowNotLonger {
                    tier: names[i].clone(),
                    previous: names[i - 1].clone(),
                });
            }
        }
        Ok(Tiers(tiers))
    }

    /// The tiers, finest first.
    pub fn tiers(&self) -> &[Tier] {
        &self.0
    }

    /// The finest spacing: how often the scheduler takes a snapshot.
    pub fn finest_spacing(&self) -> TimeDelta {
        self.0[0].spacing
    }

    /// The coarsest spacing.
    pub fn coarsest_spacing(&self) -> TimeDelta {
        self.0[self.0.len() - 1].spacing
    }

    /// The longest window: how far back from the newest snapshot anything is kept (pinned
    /// snapshots aside).
    pub fn horizon(&self) -> TimeDelta {
        self.0[self.0.len() - 1].window
    }

    /// The most snapshots the policy keeps in one series, however many it is given: the
    /// newest, plus [`Tier::max_buckets`] per tier (pinned, future-dated and incomplete
    /// snapshots come on top). With tiers whose spacings grow geometrically this is
    /// O(log horizon); for the defaults it is 183.
    pub fn max_kept(&self) -> usize {
        1 + self.0.iter().map(Tier::max_buckets).sum::<usize>()
    }

    /// The tiers written `spacing@window`, finest first.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(Tier::to_string).collect()
    }
}

impl TryFrom<Vec<String>> for Tiers {
    type Error = RetentionError;

    fn try_from(list: Vec<String>) -> Result<Self, Self::Error> {
        Tiers::parse(&list)
    }
}

impl From<Tiers> for Vec<String> {
    fn from(tiers: Tiers) -> Self {
        tiers.to_strings()
    }
}

impl fmt::Display for Tiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_strings().join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(list: &[&str]) -> Result<Tiers, RetentionError> {
        Tiers::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_are_the_documented_list() {
        let d = Tiers::default();
        assert_eq!(d.to_strings(), DEFAULT_TIERS);
        assert_eq!(d.finest_spacing(), TimeDelta::minutes(1));
        assert_eq!(d.horizon(), TimeDelta::days(30));
        assert_eq!(d.max_kept(), 183);
        assert_eq!(d.to_string(), DEFAULT_TIERS.join(" "));
    }

    #[test]
    fn tiers_print_in_canonical_units() {
        let t = parse(&["60s@900s", "120m@2d"]).unwrap();
        assert_eq!(t.to_strings(), ["1m@15m", "2h@2d"]);
    }

    #[test]
    fn every_refusal_names_the_tier_and_says_what_to_do() {
        let cases: &[(&[&str], &str, &str)] = &[
            (&[], "", "at least one tier"),
            (&["1m"], "\"1m\"", "no '@'"),
            (
                &["1m@15m", "5x@1h"],
                "\"5x@1h\"",
                "end it with s, m, h, d or w",
            ),
            (&["@1h"], "\"@1h\"", "spacing: empty"),
            (&["1m@"], "\"1m@\"", "window: empty"),
            (&["0m@1h"], "\"0m@1h\"", "zero"),
            (&["1h@30m"], "\"1h@30m\"", "at least as long as the spacing"),
            (&["5m@1h", "1m@1d"], "\"1m@1d\"", "finest to coarsest"),
            (&["5m@1h", "5m@2h"], "\"5m@2h\"", "larger spacing"),
            (
                &["5m@1h", "10m@1h"],
                "\"10m@1h\"",
                "longer window or remove it",
            ),
            (&["5m@2h", "10m@1h"], "\"5m@2h\"", "longer window"),
        ];
        for (list, names, advice) in cases {
            let err = parse(list).unwrap_err().to_string();
            assert!(err.contains(names), "{list:?}: {err}");
            assert!(err.contains(advice), "{list:?}: {err}");
        }
    }

    #[test]
    fn tiers_built_in_code_are_checked_too() {
        let bad = Tier {
            spacing: TimeDelta::milliseconds(1_500),
            window: TimeDelta::minutes(1),
        };
        assert!(Tiers::new(vec![bad]).is_err());
        assert_eq!(Tiers::new(vec![]), Err(RetentionError::Empty));
        let ok = Tier {
            spacing: TimeDelta::minutes(1),
            window: TimeDelta::hours(1),
        };
        assert_eq!(Tiers::new(vec![ok]).unwrap().to_strings(), ["1m@1h"]);
    }

    #[test]
    fn serde_uses_the_written_form() {
        let t: Tiers = serde_json::from_str(r#"["1m@15m","1h@1d"]"#).unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), r#"["1m@15m","1h@1d"]"#);
        assert!(serde_json::from_str::<Tiers>("[]").is_err());
    }

    #[test]
    fn max_buckets_counts_a_misaligned_window_and_the_one_in_force() {
        let t = Tier::parse("1m@15m").unwrap();
        assert_eq!(t.max_buckets(), 17);
        let t = Tier::parse("2m@5m").unwrap();
        assert_eq!(t.max_buckets(), 5);
    }
}
