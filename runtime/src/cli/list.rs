use crate::container::store::oci_state;
use crate::container::Store;
use crate::error::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct ListArgs {
    /// table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Only ids.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(store: &Store, a: &ListArgs) -> Result<()> {
    let mut rows = Vec::new();
    for id in store.ids()? {
        if let Ok(st) = store.load(&id) {
            let status = store.status(&st);
            rows.push(oci_state(&st, status));
        }
    }
    if a.quiet {
        for r in &rows {
            println!("{}", r["id"].as_str().unwrap_or_default());
        }
        return Ok(());
    }
    match a.format.as_str() {
        "json" => println!("{}", serde_json::Value::Array(rows)),
        "table" => {
            println!(
                "{:<24} {:<8} {:<10} {:<40} {:<31} OWNER",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED"
            );
            for r in &rows {
                let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
                println!(
                    "{:<24} {:<8} {:<10} {:<40} {:<31} {}",
                    s("id"),
                    r["pid"].to_string(),
                    s("status"),
                    s("bundle"),
                    s("created"),
                    s("owner")
                );
            }
        }
        other => {
            return Err(crate::error::Error::Other(format!(
                "unknown --format {other:?} (table or json)"
            )))
        }
    }
    Ok(())
}
