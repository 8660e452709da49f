//! `ps`: as runc, run ps(1) with the given options (default `-ef`) and
//! print its header plus the lines whose PID is one of the container's;
//! `--format json` prints the pid list.

use crate::cgroups;
use crate::container::Store;
use crate::error::{Error, Result};
use clap::Args;
use std::process::Command;

#[derive(Args, Debug)]
pub struct PsArgs {
    /// table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    pub id: String,
    /// Options for ps(1) in table mode (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// ps's header line and the lines whose PID column is in `pids`.
pub fn filter_table(output: &str, pids: &[i32]) -> Result<Vec<String>> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|t| t == "PID")
        .ok_or(Error::PsNoPidColumn)?;
    let mut out = vec![header.to_string()];
    for line in lines.filter(|l| !l.is_empty()) {
        let field = line.split_whitespace().nth(col).unwrap_or_default();
        let pid: i32 = field
            .parse()
            .map_err(|_| Error::PsBadPid(field.to_string()))?;
        if pids.contains(&pid) {
            out.push(line.to_string());
        }
    }
    Ok(out)
}

pub fn run(store: &Store, a: &PsArgs) -> Result<()> {
    let st = store.load(&a.id)?;
    let pids = cgroups::open(&st.cgroup)?.pids()?;
    match a.format.as_str() {
        "json" => println!("{}", serde_json::json!(pids)),
        "table" => {
            let args = if a.ps_args.is_empty() {
                vec!["-ef".to_string()]
            } else {
                a.ps_args.clone()
            };
            let o = Command::new("ps")
                .args(&args)
                .output()
                .map_err(Error::PsSpawn)?;
            let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
            if !o.status.success() {
                text.push_str(&String::from_utf8_lossy(&o.stderr));
                return Err(Error::PsFailed {
                    args: args.join(" "),
                    status: o.status,
                    output: text.trim().to_string(),
                });
            }
            for line in filter_table(&text, &pids)? {
                println!("{line}");
            }
        }
        other => return Err(Error::UnknownFormat(other.to_string())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_header_and_container_lines() {
        let out = "  PID COMMAND\n    1 init\n   42 sleep\n  43 sh\n";
        let lines = filter_table(out, &[42]).unwrap();
        assert_eq!(lines, vec!["  PID COMMAND", "   42 sleep"]);
        assert!(filter_table("USER COMMAND\nroot x\n", &[1]).is_err());
    }
}
