//! Which transactions a snapshot saw, from the `xmin:xmax:xip,…` text `pg_current_snapshot()`
//! writes: a replay applies onto a base exactly the transactions its snapshot did not see, so
//! base and changes neither overlap nor leave a gap, whenever the base was exported while the
//! slot existed.

use std::collections::BTreeSet;

/// A snapshot's view of transaction ids (64-bit, with epoch, as `pg_current_snapshot` gives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    xmin: u64,
    xmax: u64,
    in_progress: BTreeSet<u64>,
}

impl Visibility {
    /// Reads `xmin:xmax:xip1,xip2,…`; `None` when the text is not of that form.
    pub fn parse(text: &str) -> Option<Visibility> {
        let mut parts = text.trim().splitn(3, ':');
        let xmin = parts.next()?.parse().ok()?;
        let xmax = parts.next()?.parse().ok()?;
        let list = parts.next()?;
        let in_progress = if list.is_empty() {
            BTreeSet::new()
        } else {
            list.split(',')
                .map(|x| x.parse().ok())
                .collect::<Option<_>>()?
        };
        (xmin <= xmax).then_some(Visibility {
            xmin,
            xmax,
            in_progress,
        })
    }

    /// Whether the snapshot saw the committed top-level transaction `xid` (the 32-bit id a
    /// pgoutput Begin message carries), i.e. its changes are already in the base.
    pub fn sees(&self, xid: u32) -> bool {
        let full = self.widen(xid);
        full < self.xmin || (full < self.xmax && !self.in_progress.contains(&full))
    }

    /// Whether the snapshot saw every committed transaction with an id up to `xid`: all of
    /// them had ended before its oldest running one began.
    pub fn sees_all_through(&self, xid: u32) -> bool {
        self.widen(xid) < self.xmin
    }

    /// The 64-bit id of `xid`: the one of its three possible epochs nearest to `xmax`.
    /// Transactions decoded after a base are within 2^31 of its snapshot, or the server
    /// would have wrapped around and refused to run.
    fn widen(&self, xid: u32) -> u64 {
        let epoch = self.xmax >> 32;
        [epoch.wrapping_sub(1), epoch, epoch + 1]
            .into_iter()
            .map(|e| (e << 32) | u64::from(xid))
            .min_by_key(|full| full.abs_diff(self.xmax))
            .unwrap_or(u64::from(xid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_sees_what_committed_before_it_and_nothing_in_progress() {
        let v = Visibility::parse("100:105:101,103").unwrap();
        assert!(v.sees(99));
        assert!(v.sees(100));
        assert!(!v.sees(101));
        assert!(v.sees(102));
        assert!(!v.sees(103));
        assert!(v.sees(104));
        assert!(!v.sees(105));
        assert!(!v.sees(4000));
        assert!(Visibility::parse("7:7:").unwrap().sees(6));
        assert!(!Visibility::parse("7:7:").unwrap().sees(7));
    }

    #[test]
    fn ids_are_placed_in_the_epoch_nearest_the_snapshot() {
        // xmax just past a wraparound: 2^32 + 5.
        let v = Visibility::parse("4294967290:4294967301:").unwrap();
        assert!(
            v.sees(u32::MAX - 2),
            "the previous epoch's last ids were seen"
        );
        assert!(v.sees(3), "epoch 1, id 3 < xmax");
        assert!(!v.sees(6), "epoch 1, id 6 >= xmax");
    }

    #[test]
    fn every_id_below_the_oldest_running_one_was_seen() {
        let v = Visibility::parse("100:105:101").unwrap();
        assert!(v.sees_all_through(99));
        assert!(
            !v.sees_all_through(100),
            "100 may be one of those it did not see"
        );
        assert!(!v.sees_all_through(104));
    }

    #[test]
    fn malformed_text_is_refused() {
        for bad in ["", "1:2", "a:2:", "5:3:", "1:9:2,x"] {
            assert_eq!(Visibility::parse(bad), None, "{bad}");
        }
    }
}
