//! Where time comes from. Production reads the wall clock; a test holds a
//! manual clock and moves it on, so a lease or deadline passes without the
//! test waiting for it (or racing it on a loaded machine).

use chrono::{DateTime, Duration, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// The wall clock ([`crate::now`]) by default; clones of a manual clock share
/// its reading.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that reads `at` until it is advanced.
    pub fn manual(at: DateTime<Utc>) -> Self {
        Self(Some(Arc::new(AtomicI64::new(at.timestamp_millis()))))
    }

    /// The time, at millisecond precision as every backend stores it.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            None => crate::now(),
            Some(ms) => DateTime::from_timestamp_millis(ms.load(Ordering::SeqCst))
                .expect("a manual clock stays within chrono's range"),
        }
    }

    /// Moves a manual clock on by `by`.
    ///
    /// # Panics
    /// On the system clock, which a test cannot move.
    pub fn advance(&self, by: Duration) {
        let ms = self
            .0
            .as_ref()
            .expect("only a manual clock can be advanced");
        ms.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("Clock::system"),
            Some(_) => write!(f, "Clock::manual({})", self.now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced_and_clones_share_it() {
        let start = DateTime::from_timestamp_millis(1_700_000_000_000).unwrap();
        let clock = Clock::manual(start);
        let shared = clock.clone();
        assert_eq!(clock.now(), start);
        shared.advance(Duration::milliseconds(301));
        assert_eq!(clock.now(), start + Duration::milliseconds(301));
    }

    #[test]
    fn the_system_clock_reads_the_wall_clock() {
        let before = crate::now();
        let read = Clock::system().now();
        assert!(read >= before && read <= crate::now());
    }
}
