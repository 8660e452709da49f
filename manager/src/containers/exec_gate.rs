//! The execs in flight in each task, so that the clean-up after the
//! task's init exits deletes the task in the shim only once every exec's
//! exit was collected: an exec waited for after that delete would find no
//! task ("exec wait: container … not found") instead of its exit status.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

struct Gate {
    counts: Mutex<HashMap<String, usize>>,
    drained: Condvar,
}

fn gate() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| Gate {
        counts: Mutex::new(HashMap::new()),
        drained: Condvar::new(),
    })
}

fn counts(g: &Gate) -> MutexGuard<'_, HashMap<String, usize>> {
    g.counts.lock().unwrap_or_else(|e| e.into_inner())
}

/// An exec of task `key` begins (before its Exec call).
pub fn enter(key: &str) {
    *counts(gate()).entry(key.to_string()).or_insert(0) += 1;
}

/// An exec of task `key` is over: its exit collected, or it never started.
pub fn leave(key: &str) {
    let g = gate();
    let mut c = counts(g);
    if let Some(n) = c.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            c.remove(key);
            g.drained.notify_all();
        }
    }
}

/// Whether task `key` has execs in flight.
pub fn busy(key: &str) -> bool {
    counts(gate()).contains_key(key)
}

/// Wait until task `key` has no exec in flight, at most `limit`; whether
/// it got there.
pub fn wait_drained(key: &str, limit: Duration) -> bool {
    let g = gate();
    let end = Instant::now() + limit;
    let mut c = counts(g);
    while c.contains_key(key) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        c = match g.drained.wait_timeout(c, left) {
            Ok((c, _)) => c,
            Err(e) => e.into_inner().0,
        };
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_when_every_exec_left() {
        let key = "test-ns/exec-gate-a";
        enter(key);
        enter(key);
        assert!(busy(key));
        leave(key);
        assert!(!wait_drained(key, Duration::from_millis(20)));
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            leave(key);
        });
        assert!(wait_drained(key, Duration::from_secs(5)));
        assert!(!busy(key));
        t.join().unwrap();
    }

    #[test]
    fn leave_without_enter_is_harmless() {
        let key = "test-ns/exec-gate-b";
        leave(key);
        assert!(!busy(key));
        assert!(wait_drained(key, Duration::ZERO));
    }
}
