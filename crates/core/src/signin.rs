//! Password guessing (issue 13): the per-account lockout rule. After `max_failures` sign-in
//! attempts within `window_secs` without a success, the login is locked for `lockout_secs`;
//! while locked every attempt is refused, even with the right password.
//!
//! An attempt is counted *before* its password is checked and a success clears the count, so
//! that guesses sent in parallel cannot all pass the check before any failure is recorded:
//! at most `max_failures` passwords are ever tried per window, whatever the concurrency.

/// The lockout settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigninPolicy {
    pub max_failures: u32,
    pub window_secs: i64,
    pub lockout_secs: i64,
}

impl Default for SigninPolicy {
    /// 5 failures in 15 minutes lock the login for 15 minutes.
    fn default() -> Self {
        SigninPolicy {
            max_failures: 5,
            window_secs: 15 * 60,
            lockout_secs: 15 * 60,
        }
    }
}

/// What is stored per login (unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub failures: u32,
    pub window_start: i64,
    pub locked_until: Option<i64>,
}

/// The answer to one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Locked until then: refuse without checking the password.
    Locked { until: i64 },
    /// Check the password; `next` is stored first. `locks`: this is the last attempt of the
    /// window, so `next` already carries the lock, which a success lifts and a failure keeps.
    Allowed { next: Throttle, locks: bool },
}

impl SigninPolicy {
    /// Decides an attempt at `now` on the stored state (`None`: no failures on record).
    pub fn attempt(&self, stored: Option<Throttle>, now: i64) -> Attempt {
        if let Some(until) = stored.and_then(|s| s.locked_until).filter(|&u| u > now) {
            return Attempt::Locked { until };
        }
        let fresh = Throttle {
            failures: 0,
            window_start: now,
            locked_until: None,
        };
        // An ended lockout or an old window starts over.
        let current = stored
            .filter(|s| s.locked_until.is_none() && now - s.window_start < self.window_secs)
            .unwrap_or(fresh);
        let failures = current.failures.saturating_add(1);
        let locks = failures >= self.max_failures.max(1);
        Attempt::Allowed {
            next: Throttle {
                failures,
                window_start: current.window_start,
                locked_until: locks.then_some(now + self.lockout_secs),
            },
            locks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: &SigninPolicy, mut state: Option<Throttle>, at: &[i64]) -> Vec<Attempt> {
        at.iter()
            .map(|&now| {
                let a = p.attempt(state, now);
                if let Attempt::Allowed { next, .. } = a {
                    state = Some(next);
                }
                a
            })
            .collect()
    }

    #[test]
    fn x13_the_fifth_failure_locks_and_the_lock_ends_by_time() {
        let p = SigninPolicy::default();
        let answers = run(&p, None, &[0, 1, 2, 3, 4, 5, 904, 905]);
        assert!(matches!(answers[3], Attempt::Allowed { locks: false, .. }));
        assert!(matches!(
            answers[4],
            Attempt::Allowed {
                locks: true,
                next: Throttle {
                    locked_until: Some(904),
                    ..
                }
            }
        ));
        assert_eq!(answers[5], Attempt::Locked { until: 904 });
        // At the end of the lock the count starts over.
        assert!(matches!(
            answers[6],
            Attempt::Allowed {
                locks: false,
                next: Throttle { failures: 1, .. }
            }
        ));
    }

    #[test]
    fn x13_failures_older_than_the_window_are_forgotten() {
        let p = SigninPolicy::default();
        let answers = run(&p, None, &[0, 1, 2, 3, 900, 901]);
        assert!(matches!(
            answers[4],
            Attempt::Allowed {
                locks: false,
                next: Throttle {
                    failures: 1,
                    window_start: 900,
                    ..
                }
            }
        ));
        assert!(matches!(answers[5], Attempt::Allowed { locks: false, .. }));
    }
}
