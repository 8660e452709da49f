//! `hull snapshot …`: snapshots, low level (like `ctr snapshots`).

use clap::Subcommand;
use hull_proto::v1 as pb;

use crate::client::Conn;

#[derive(Debug, Subcommand)]
pub enum SnapCmd {
    #[command(alias = "list")]
    Ls,
    Mounts {
        key: String,
    },
    Prepare {
        key: String,
        parent: Option<String>,
    },
    View {
        key: String,
        parent: Option<String>,
    },
    Commit {
        name: String,
        key: String,
    },
    Rm {
        key: String,
    },
    Usage {
        key: String,
    },
}

pub async fn run(conn: &Conn, c: SnapCmd) -> anyhow::Result<()> {
    let mut s = conn.snapshots();
    let print_mounts = |m: pb::MountsResponse| {
        for m in m.mounts {
            println!(
                "mount -t {} {} <target> -o {}",
                m.r#type,
                m.source,
                m.options.join(",")
            );
        }
    };
    match c {
        SnapCmd::Ls => {
            let l = s
                .list(conn.req(pb::ListSnapshotsRequest {}))
                .await?
                .into_inner();
            println!("{:<72} {:<72} KIND", "KEY", "PARENT");
            for i in l.info {
                let kind = match pb::snapshot_info::Kind::try_from(i.kind) {
                    Ok(pb::snapshot_info::Kind::View) => "View",
                    Ok(pb::snapshot_info::Kind::Active) => "Active",
                    Ok(pb::snapshot_info::Kind::Committed) => "Committed",
                    _ => "?",
                };
                println!("{:<72} {:<72} {}", i.name, i.parent, kind);
            }
        }
        SnapCmd::Mounts { key } => print_mounts(
            s.mounts(conn.req(pb::SnapshotKeyRequest { key }))
                .await?
                .into_inner(),
        ),
        SnapCmd::Prepare { key, parent } => print_mounts(
            s.prepare(conn.req(pb::PrepareSnapshotRequest {
                key,
                parent: parent.unwrap_or_default(),
                labels: Default::default(),
            }))
            .await?
            .into_inner(),
        ),
        SnapCmd::View { key, parent } => print_mounts(
            s.view(conn.req(pb::PrepareSnapshotRequest {
                key,
                parent: parent.unwrap_or_default(),
                labels: Default::default(),
            }))
            .await?
            .into_inner(),
        ),
        SnapCmd::Commit { name, key } => {
            s.commit(conn.req(pb::CommitSnapshotRequest {
                name,
                key,
                labels: Default::default(),
            }))
            .await?;
        }
        SnapCmd::Rm { key } => {
            s.remove(conn.req(pb::SnapshotKeyRequest { key })).await?;
        }
        SnapCmd::Usage { key } => {
            let u = s
                .usage(conn.req(pb::SnapshotKeyRequest { key }))
                .await?
                .into_inner();
            println!("{} {}", u.size, u.inodes);
        }
    }
    Ok(())
}
