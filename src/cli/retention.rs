//! `doppel retention simulate`: the configured retention policy on a simulated clock, to see
//! what it keeps and how much "restore as of T" can lose before trusting it with production.

use chrono::TimeDelta;

use doppel::error::{Error, Result};
use doppel::retention::{parse_span, simulate as run_simulation, Tiers};

/// The most simulated steps accepted: beyond that a run takes minutes.
const MAX_STEPS: i64 = 5_000_000;

/// Parses a span argument (`90s`, `15m`, `3h`, `2d`, `1w`) for clap.
pub fn span_arg(text: &str) -> std::result::Result<TimeDelta, String> {
    parse_span(text)
}

/// Arguments of `doppel retention simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// How often a snapshot is attempted (units s, m, h, d, w).
    #[arg(long, default_value = "1m", value_parser = span_arg, value_name = "SPAN")]
    pub every: TimeDelta,
    /// How long the simulated clock runs.
    #[arg(long = "for", default_value = "35d", value_parser = span_arg, value_name = "SPAN")]
    pub duration: TimeDelta,
    /// Probability that an attempt fails, from 0 to 1 (0.05: one in twenty).
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub outage_rate: f64,
    /// Seed of the random failures: the same seed gives the same report.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the simulation with the configured tiers and prints the report. Fails (after
/// printing) when a bound was broken, which would be a bug in the policy.
pub fn simulate(config_tiers: &Tiers, args: SimulateArgs) -> Result<()> {
    if !(0.0..=1.0).contains(&args.outage_rate) {
        return Err(Error::Config(format!(
            "--outage-rate {} is not a probability: give a number from 0 to 1, e.g. 0.05",
            args.outage_rate
        )));
    }
    let steps = args.duration.num_seconds() / args.every.num_seconds().max(1);
    if steps > MAX_STEPS {
        return Err(Error::Config(format!(
            "--for {} with --every {} is {steps} steps, more than {MAX_STEPS}: use a larger \
             --every or a shorter --for",
            doppel::retention::format_span(args.duration),
            doppel::retention::format_span(args.every),
        )));
    }
    let report = run_simulation(
        config_tiers,
        args.every,
        args.duration,
        args.outage_rate,
        args.seed,
    );
    if args.json {
        super::print_json(&report);
    } else {
        crate::say!("{}", report.render().trim_end());
    }
    if report.violated {
        return Err(Error::Verification(
            "the simulated policy broke one of its bounds (see the report): that is a bug in \
             doppel's retention; please report it with the tiers and this command line"
                .into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: SimulateArgs,
    }

    #[test]
    fn defaults_are_one_minute_for_35_days() {
        let a = Cli::try_parse_from(["x"]).unwrap().args;
        assert_eq!(
            (a.every, a.duration),
            (TimeDelta::minutes(1), TimeDelta::days(35))
        );
        assert_eq!((a.outage_rate, a.seed, a.json), (0.0, 0, false));
        let a = Cli::try_parse_from(["x", "--every", "5m", "--for", "2w", "--outage-rate", "0.1"])
            .unwrap()
            .args;
        assert_eq!(
            (a.every, a.duration),
            (TimeDelta::minutes(5), TimeDelta::weeks(2))
        );
    }

    #[test]
    fn bad_spans_and_rates_are_refused_with_advice() {
        let err = Cli::try_parse_from(["x", "--every", "5 minutes"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unit") || err.contains("whole number"),
            "{err}"
        );
        let args = Cli::try_parse_from(["x", "--outage-rate", "1.5"])
            .unwrap()
            .args;
        let err = simulate(&Tiers::default(), args).unwrap_err().to_string();
        assert!(err.contains("from 0 to 1"), "{err}");
        let args = Cli::try_parse_from(["x", "--every", "1s", "--for", "1000w"])
            .unwrap()
            .args;
        let err = simulate(&Tiers::default(), args).unwrap_err().to_string();
        assert!(err.contains("larger --every"), "{err}");
    }

    #[test]
    fn a_short_simulation_runs() {
        let args = Cli::try_parse_from(["x", "--every", "10m", "--for", "1d", "--json"])
            .unwrap()
            .args;
        simulate(&Tiers::default(), args).unwrap();
    }
}
