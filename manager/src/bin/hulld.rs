use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = hull_manager::daemon::Args::parse();
    hull_manager::daemon::run(args)?;
    Ok(())
}
