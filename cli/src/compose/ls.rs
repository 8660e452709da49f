//! `hull compose ls [-a] [-q] [--format table|json] [--filter name=N]`:
//! the projects that have containers on hulld (running ones only, unless
//! `-a`), with their containers' states counted (`exited(1), running(2)`)
//! and config files. `name=` matches as Docker's filters do (see
//! `ps::filters::pattern_match`); several are OR'ed. Needs no Compose file.

use std::collections::BTreeMap;

use clap::Args;

use super::labels;
use super::project::label;
use crate::client::Conn;
use crate::containers::msg;
use crate::ps::filters::pattern_match;

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Also projects with no running container.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only the names.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// table or json.
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Filter by name=NAME (Compose's only filter).
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

/// The `name=` values of `--filter` (any other key is an error).
fn name_filters(v: &[String]) -> anyhow::Result<Vec<String>> {
    v.iter()
        .map(|f| match f.split_once('=') {
            Some((k, n)) if k.trim().eq_ignore_ascii_case("name") => Ok(n.to_string()),
            Some((k, _)) => anyhow::bail!("invalid filter '{}'", k.trim()),
            None => anyhow::bail!("bad format of filter (expected name=value): {f}"),
        })
        .collect()
}

/// One project: its name, states and files.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    states: BTreeMap<String, usize>,
    files: String,
}

impl Summary {
    fn status(&self) -> String {
        self.states
            .iter()
            .map(|(s, n)| format!("{s}({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub async fn run(conn: &Conn, a: &LsArgs) -> anyhow::Result<()> {
    let names = name_filters(&a.filter)?;
    let mut projects: BTreeMap<String, Summary> = BTreeMap::new();
    for c in conn
        .list_containers()
        .await
        .map_err(|e| anyhow::anyhow!("{}", msg(&e)))?
    {
        let name = label(&c, labels::PROJECT);
        if name.is_empty() {
            continue;
        }
        let s = projects.entry(name.to_string()).or_default();
        let state = c
            .status
            .as_ref()
            .map(|s| s.state.clone())
            .unwrap_or_else(|| "unknown".into());
        *s.states.entry(state).or_default() += 1;
        if s.files.is_empty() {
            s.files = label(&c, labels::CONFIG_FILES).to_string();
        }
    }
    projects.retain(|name, s| {
        (a.all || s.states.contains_key("running"))
            && (names.is_empty() || names.iter().any(|n| pattern_match(n, name)))
    });
    if a.quiet {
        for name in projects.keys() {
            println!("{name}");
        }
        return Ok(());
    }
    if a.format == "json" {
        let v: Vec<serde_json::Value> = projects
            .iter()
            .map(|(n, s)| {
                serde_json::json!({"Name": n, "Status": s.status(), "ConfigFiles": s.files})
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    let mut rows = vec![vec![
        "NAME".to_string(),
        "STATUS".to_string(),
        "CONFIG FILES".to_string(),
    ]];
    for (n, s) in &projects {
        rows.push(vec![n.clone(), s.status(), s.files.clone()]);
    }
    crate::containers::print_columns(&rows);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn status_counts_states_in_order() {
        let mut s = super::Summary::default();
        s.states.insert("running".into(), 2);
        s.states.insert("exited".into(), 1);
        assert_eq!(s.status(), "exited(1), running(2)");
    }

    #[test]
    fn only_name_filters() {
        let f = super::name_filters(&["name=web".into(), "NAME=^db$".into()]).unwrap();
        assert_eq!(f, ["web", "^db$"]);
        let e = super::name_filters(&["status=running".into()]).unwrap_err();
        assert_eq!(e.to_string(), "invalid filter 'status'");
        assert!(super::name_filters(&["web".into()]).is_err());
    }
}
