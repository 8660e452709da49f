//! What one `up` made, so a failed `up` can take it back: the containers it
//! created (stopped and removed), the stopped ones it started (stopped
//! again), and the networks and volumes it created (removed). What existed
//! before the `up` stays.

use hull_proto::v1 as pb;

use super::project;
use crate::client::Conn;
use crate::containers::lifecycle::stop;

#[derive(Debug, Default)]
pub struct Made {
    /// (id, name), in creation order.
    pub containers: Vec<(String, String)>,
    /// Existing containers this `up` started: (id, name).
    pub started: Vec<(String, String)>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

impl Made {
    /// Take in what parallel steps made; the first error among them.
    pub fn absorb_all(
        &mut self,
        results: Vec<(Made, anyhow::Result<()>)>,
    ) -> Option<anyhow::Error> {
        let mut first = None;
        for (m, r) in results {
            self.containers.extend(m.containers);
            self.started.extend(m.started);
            self.networks.extend(m.networks);
            self.volumes.extend(m.volumes);
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        }
        first
    }

    /// Undo everything recorded, newest first; problems are warnings (the
    /// error that caused the undo is the one the user sees).
    pub async fn undo(&self, conn: &Conn) {
        for (id, name) in self.containers.iter().rev() {
            let _ = stop(conn, id, Some(1)).await;
            let r = conn
                .containers()
                .delete(conn.req(pb::DeleteContainerRequest {
                    id: id.clone(),
                    force: true,
                    volumes: true,
                }))
                .await;
            match r {
                Ok(_) => eprintln!(" Container {name}  Removed"),
                Err(e) => eprintln!("warning: container {name}: {}", e.message()),
            }
        }
        for (id, name) in self.started.iter().rev() {
            match stop(conn, id, Some(1)).await {
                Ok(()) => eprintln!(" Container {name}  Stopped"),
                Err(e) => eprintln!("warning: container {name}: {e}"),
            }
        }
        for name in self.networks.iter().rev() {
            if let Err(e) = project::remove_network(conn, name).await {
                eprintln!("warning: {e}");
            }
        }
        for name in self.volumes.iter().rev() {
            if let Err(e) = project::remove_volume(conn, name).await {
                eprintln!("warning: {e}");
            }
        }
    }
}
