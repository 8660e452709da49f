//! `hull compose config`: the normalized project as YAML or JSON, or only
//! its service or volume names; `-q` only validates.

use std::io::Write;

use clap::{Args, ValueEnum};

use super::ComposeArgs;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: Format,
    /// Print the service names, one per line, in start order.
    #[arg(long)]
    pub services: bool,
    /// Print the volume names, one per line.
    #[arg(long)]
    pub volumes: bool,
    /// Only validate; print nothing.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print each service's config hash.
    #[arg(long)]
    pub hash: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

pub fn run(args: &ComposeArgs, c: &ConfigArgs) -> anyhow::Result<()> {
    let loaded = args.load()?;
    let project = &loaded.project;
    if c.quiet {
        return Ok(());
    }
    let mut out = String::new();
    if c.services {
        for s in project.start_order()? {
            out.push_str(&s);
            out.push('\n');
        }
    } else if c.volumes {
        for v in project.volumes.keys() {
            out.push_str(v);
            out.push('\n');
        }
    } else if let Some(which) = &c.hash {
        let names: Vec<String> = if which == "*" {
            project.services.keys().cloned().collect()
        } else {
            which.split(',').map(str::to_string).collect()
        };
        for s in names {
            out.push_str(&format!("{s} {}\n", project.config_hash(&s)?));
        }
    } else {
        let doc = project.config_document();
        out = match c.format {
            Format::Yaml => serde_norway::to_string(&doc)?,
            Format::Json => serde_json::to_string_pretty(&doc)? + "\n",
        };
    }
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(())
}
