use crate::cgroups;
use crate::container::Store;
use crate::error::{Error, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct PsArgs {
    /// table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    pub id: String,
    /// Options for ps(1) in table mode (ignored: hullc prints pids).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run(store: &Store, a: &PsArgs) -> Result<()> {
    let st = store.load(&a.id)?;
    let pids = cgroups::open(&st.cgroup)?.pids()?;
    match a.format.as_str() {
        "json" => println!("{}", serde_json::json!(pids)),
        "table" => {
            println!("PID   CMD");
            for p in pids {
                let cmd = std::fs::read(format!("/proc/{p}/cmdline"))
                    .map(|b| {
                        String::from_utf8_lossy(&b)
                            .replace('\0', " ")
                            .trim()
                            .to_string()
                    })
                    .unwrap_or_default();
                println!("{p:<5} {cmd}");
            }
        }
        other => {
            return Err(Error::Other(format!(
                "unknown --format {other:?} (table or json)"
            )))
        }
    }
    Ok(())
}
