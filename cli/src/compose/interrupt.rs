//! Ctrl-C during a foreground `up`, caught from the start of `up` so the
//! create/start phase answers it as the attached phase does: SIGINT and
//! SIGTERM are counted; the first stops the project gracefully, a second
//! kills what is still stopping. The steps of `up` check it between calls
//! to hulld (a create or start is never cut in half) and drop their waits
//! (dependencies, healthchecks) for it.

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// The signals received so far.
#[derive(Debug, Clone)]
pub struct Interrupt {
    count: watch::Receiver<u32>,
}

/// What a step of `up` returns once interrupted.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

impl Interrupt {
    /// SIGINT and SIGTERM counted from now on (they no longer end `hull`).
    pub fn catch() -> std::io::Result<Interrupt> {
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let (tx, count) = watch::channel(0u32);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(()) = int.recv() => {}
                    Some(()) = term.recv() => {}
                    else => return,
                }
                tx.send_modify(|n| *n += 1);
            }
        });
        Ok(Interrupt { count })
    }

    /// Never interrupted (signals keep their default action).
    pub fn never() -> Interrupt {
        let (_, count) = watch::channel(0u32);
        Interrupt { count }
    }

    /// Whether a signal came.
    pub fn is_set(&self) -> bool {
        *self.count.borrow() > 0
    }

    /// `Err(Interrupted)` once a signal came.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.is_set() {
            return Err(Interrupted.into());
        }
        Ok(())
    }

    /// Resolves once the first signal came.
    pub async fn first(&self) {
        self.reached(1).await;
    }

    /// Resolves once a second signal came.
    pub async fn second(&self) {
        self.reached(2).await;
    }

    async fn reached(&self, n: u32) {
        let mut rx = self.count.clone();
        if rx.wait_for(|c| *c >= n).await.is_err() {
            // Nobody counts (`never`): this never comes.
            std::future::pending::<()>().await;
        }
    }

    /// Run `step` unless a signal comes first (then `Err(Interrupted)`,
    /// `step` dropped): for waits and steps that may be cut short.
    pub async fn or_stop<T>(
        &self,
        step: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        self.check()?;
        tokio::select! {
            r = step => r,
            () = self.first() => Err(Interrupted.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn never_is_never_set_and_lets_steps_finish() {
        let i = Interrupt::never();
        assert!(!i.is_set());
        assert!(i.check().is_ok());
        assert_eq!(i.or_stop(async { Ok(7) }).await.unwrap(), 7);
        let waited = tokio::time::timeout(std::time::Duration::from_millis(50), i.first()).await;
        assert!(waited.is_err(), "first() resolved without a signal");
    }

    #[tokio::test]
    async fn a_count_stops_steps() {
        let (tx, count) = watch::channel(0u32);
        let i = Interrupt { count };
        tx.send_modify(|n| *n += 1);
        assert!(i.is_set());
        let r = i
            .or_stop(std::future::pending::<anyhow::Result<()>>())
            .await;
        assert!(r.unwrap_err().downcast_ref::<Interrupted>().is_some());
        i.first().await;
        let second = tokio::time::timeout(std::time::Duration::from_millis(50), i.second()).await;
        assert!(second.is_err(), "second() resolved after one signal");
        tx.send_modify(|n| *n += 1);
        i.second().await;
    }
}
