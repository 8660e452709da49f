use crate::container::store::StateReport;
use crate::container::Store;
use crate::error::{Error, Result};
use clap::Args;
use std::os::unix::fs::MetadataExt;

#[derive(Args, Debug)]
pub struct ListArgs {
    /// table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Only ids.
    #[arg(short, long)]
    pub quiet: bool,
}

/// The user owning a container's state dir, by name ("#UID" if unknown), as runc.
fn owner(store: &Store, id: &str) -> String {
    let Ok(meta) = std::fs::metadata(store.dir(id)) else {
        return String::new();
    };
    let uid = meta.uid();
    // The host's /etc/passwd as text: hullc is linked statically (no NSS).
    hull_linux::passwd::by_uid_in("/etc/passwd", uid).map_or_else(|| format!("#{uid}"), |e| e.name)
}

pub fn run(store: &Store, a: &ListArgs) -> Result<()> {
    let mut rows = Vec::new();
    for id in store.ids()? {
        if let Ok(st) = store.load(&id) {
            let status = store.status(&st);
            rows.push(StateReport::new(&st, status, owner(store, &id)));
        }
    }
    if a.quiet {
        for r in &rows {
            println!("{}", r.id);
        }
        return Ok(());
    }
    match a.format.as_str() {
        "json" => {
            // runc prints `null` for no containers.
            let text = if rows.is_empty() {
                "null".to_string()
            } else {
                serde_json::to_string(&rows).map_err(|source| Error::Encode {
                    what: "list",
                    source,
                })?
            };
            println!("{text}");
        }
        "table" => {
            println!(
                "{:<24} {:<8} {:<10} {:<40} {:<31} OWNER",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED"
            );
            for r in &rows {
                println!(
                    "{:<24} {:<8} {:<10} {:<40} {:<31} {}",
                    r.id,
                    r.pid,
                    r.status,
                    r.bundle.display(),
                    r.created,
                    r.owner
                );
            }
        }
        other => return Err(Error::UnknownFormat(other.to_string())),
    }
    Ok(())
}
