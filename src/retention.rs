//! Exponential retention: which snapshots to keep, decided by a pure function of the tiers,
//! the snapshots and the time, so that it can be tested exhaustively and explained snapshot
//! by snapshot (`doppel prune --dry-run`).
//!
//! # The policy
//!
//! Each series (source environment × raw/anonymized × subset spec, if one) is retained on
//! its own. In a series, the *candidates* are the snapshots that are complete and not dated
//! after `now`; the *anchor* is the newest candidate. For every tier `spacing@window`, time is
//! cut into buckets of `spacing` aligned to the UNIX epoch (UTC; no calendar, no DST), and
//! the tier keeps the **oldest** candidate of every bucket from the one holding the snapshot
//! *in force* at `anchor − window` (the newest candidate at or before that instant) up to the
//! anchor's.
//! Kept whatever the tiers say: the anchor, pinned snapshots, snapshots dated in the future
//! (with a warning: some clock is wrong; they are not candidates, so a far-future date cannot
//! drag the windows along and delete the present), incomplete ones, and any whose id is not
//! unique. Everything else is deleted.
//!
//! Windows are measured back from the anchor, not from `now`: when snapshots stop coming (an
//! outage, a paused schedule), nothing more is deleted until a new one arrives.
//!
//! Keeping the *oldest* of each bucket is what makes "restore as of T" lose at most one
//! spacing: the snapshot in force at T is the newest at or before T, and the kept oldest of
//! its bucket is at most one spacing older.
//!
//! # The one change to the rule as first stated, and why
//!
//! As first stated, a tier kept the oldest candidate of every bucket that *overlaps*
//! `[anchor − window, anchor]`. That rule is idempotent and path-independent, but it breaks
//! the coverage promise after a gap. With tiers `1m@15m, 1h@1d` and snapshots at 01:00, 01:30,
//! 01:44 and 02:00, "as of 01:50" lies in the 1m window and is best served by 01:44; but 01:44's
//! 1m bucket ends at 01:45, before the window, so only the 1h tier looks at it, and the 1h
//! tier keeps 01:00: restoring as of 01:50 would lose 44 more minutes than necessary where the
//! promise was less than one. So each tier's range starts at the bucket of the snapshot in
//! force at the window's start, i.e. the range is the buckets overlapping
//! `[min(anchor − window, in_force), anchor]`. This keeps a superset of the first rule, at most
//! one snapshot more per tier, and none in a steady state where a snapshot falls at or shortly
//! before the window's start, in the same bucket.
//!
//! # Properties (each one a proptest in `retention/proptests.rs`)
//!
//! Write `K(S, t)` for the snapshots of `S` that the plan at `t` keeps.
//!
//! - **Kept ⊆ input**, one decision per input snapshot, and the newest snapshot of a series is
//!   always kept (it is the anchor, or future-dated, or incomplete).
//! - **Idempotent:** `K(K(S, t), t) = K(S, t)`. `K` keeps the anchor, so the anchor does not
//!   change; it keeps the oldest of every bucket in range, so the snapshot in force at a
//!   window's start stays in the same bucket (the bucket's oldest is kept and is no newer),
//!   so the ranges do not change, and in each bucket the oldest is the same.
//! - **Path-independent:** for `t1 ≤ t2` and any new snapshots `N` (even older ones, such as a
//!   late derived snapshot), `K(K(S, t1) ∪ N, t2) = K(S ∪ N, t2)`; this also holds when
//!   snapshots incomplete at `t1` are complete at `t2` and pins are removed in between (never
//!   when a snapshot deleted at `t1` is pinned later: it is gone). The reason: windows only
//!   move forward, as the anchor at `t2` is no older than at `t1`. So a bucket in a tier's
//!   range at `t2` that holds a snapshot which was a candidate at `t1` was in range at `t1`
//!   too. For an overlapping bucket: it starts at or before that snapshot, itself at or
//!   before the anchor `a1`, and ends after `a2 − window ≥ a1 − window`. For the in-force
//!   bucket of `t2`, lying wholly before `a1 − window`: the snapshot in force at `a1 − window`
//!   is no older than the old snapshot in it and no newer than the one in force at
//!   `a2 − window`, so it lies in the same bucket. Hence the oldest of such a bucket at `t2`,
//!   if it existed at `t1`, was the oldest then and was kept; a snapshot deleted at `t1` can
//!   never again be the oldest of a bucket in range. The anchors agree (the anchor at `t2`,
//!   if it existed at `t1`, was then the anchor or future-dated, so kept), and so do the
//!   in-force buckets (where `S` has a deleted in-force snapshot, the kept oldest of its
//!   bucket takes its place).
//! - **Coverage:** for every `T` in `[anchor − window, anchor]` of a tier with some candidate
//!   at or before `T`, the newest kept candidate at or before `T` is less than the tier's
//!   spacing older than the newest candidate at or before `T` (the best any policy could
//!   offer). The best snapshot is at or after the one in force at the window's start, so its
//!   bucket is in range, and that bucket's oldest is kept.
//! - **Bounded:** a series keeps at most [`Tiers::max_kept`] snapshots besides pinned,
//!   future-dated and incomplete ones, however many it has: per tier, ⌈window/spacing⌉ + 1
//!   buckets overlap the window, plus the in-force bucket, plus the anchor. With geometric
//!   tiers this is O(log horizon); 183 for the defaults.
//! - **No new snapshots ⇒ nothing deleted:** `K(K(S, t1), t2) = K(S, t1)` for `t2 ≥ t1` when
//!   no snapshot becomes a candidate in between. Stated exactly: "new" includes a
//!   future-dated snapshot whose time arrives (it becomes the anchor, which moves the
//!   windows) and an incomplete one that completes; with neither, the candidates and the
//!   anchor are unchanged and this is idempotence.
//! - **No dependence on input order or time zone:** snapshots are sorted by (series, time, id)
//!   first, ties between equal times are broken by id, and buckets are computed on UNIX time.

pub mod decision;
pub mod duration;
pub mod policy;
pub mod simulate;
pub mod tiers;
pub mod timeline;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use decision::{Decision, Plan, Reason};
pub use duration::{align_up, format_age, format_span, parse_span};
pub use policy::{plan, SnapshotInfo};
pub use simulate::{project, simulate, SimulationReport};
pub use tiers::{RetentionError, Tier, Tiers, DEFAULT_TIERS};
pub use timeline::{render_svg, Timeline};
