//! Time for the daemon: the system clock, or a simulated one that jumps instead of sleeping.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

/// Where the daemon gets its time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
    /// Resolves at `t` (at once when `t` has passed).
    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, ()>;
    /// The time to record in a snapshot instead of the server's clock: `None` for real time,
    /// where the server's clock inside the snapshot transaction is the truth.
    fn recorded_time(&self) -> Option<DateTime<Utc>>;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let wait = (t - Utc::now()).to_std().unwrap_or_default();
            tokio::time::sleep(wait).await;
        })
    }

    fn recorded_time(&self) -> Option<DateTime<Utc>> {
        None
    }
}

/// A clock that only moves when asked to: sleeping jumps straight to the wake-up time.
#[derive(Debug)]
pub struct SimulatedClock {
    now: Mutex<DateTime<Utc>>,
}

impl SimulatedClock {
    /// A clock showing `start`.
    pub fn new(start: DateTime<Utc>) -> SimulatedClock {
        SimulatedClock {
            now: Mutex::new(start),
        }
    }

    fn get(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.get()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, ()> {
        let mut now = self.get();
        if t > *now {
            *now = t;
        }
        Box::pin(async {})
    }

    fn recorded_time(&self) -> Option<DateTime<Utc>> {
        Some(self.now())
    }
}
