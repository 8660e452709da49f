//! `hulld`: flags, lock file, socket, runtime.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use clap::Parser;

use crate::config::{self, Config};
use crate::error::{Error, IoContext, Result};
use crate::manager::Manager;

#[derive(Debug, Parser)]
#[command(
    name = "hulld",
    version,
    about = "hull's image and container manager daemon"
)]
pub struct Args {
    /// Persistent state (content, snapshots, metadata).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Runtime state.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// gRPC unix socket.
    #[arg(long, short = 'a')]
    pub address: Option<PathBuf>,
    /// Configuration file.
    #[arg(long, short = 'c', default_value = config::DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Log level (error, warn, info, debug, trace).
    #[arg(long, short = 'l')]
    pub log_level: Option<String>,
    /// Free space pulls and loads leave on the root's file system
    /// ("1GiB", "5%", "auto"); overrides the config's `min_free_space`.
    #[arg(long, value_name = "SIZE")]
    pub min_free_space: Option<String>,
    /// Kubernetes CRI v1 unix socket (default: cri.sock beside --address,
    /// /run/hull/cri.sock; "" or "off" serves no CRI); overrides the
    /// config's `[cri] socket`.
    #[arg(long, value_name = "PATH")]
    pub cri_socket: Option<String>,
}

/// Holds `<root>/hulld.lock` (flock) for the daemon's lifetime.
pub struct RootLock {
    _lock: nix::fcntl::Flock<std::fs::File>,
}

pub fn lock_root(root: &std::path::Path) -> Result<RootLock> {
    let p = root.join("hulld.lock");
    let f = crate::private::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&p)
        .ctx(|| format!("open {}", p.display()))?;
    crate::private::fix_open_file(&f, crate::private::FILE_MODE)
        .ctx(|| format!("chmod {}", p.display()))?;
    match nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(l) => {
            use std::io::{Seek, Write};
            let mut fh: &std::fs::File = &l;
            let _ = fh.set_len(0);
            let _ = fh.seek(std::io::SeekFrom::Start(0));
            let _ = writeln!(fh, "{}", std::process::id());
            Ok(RootLock { _lock: l })
        }
        Err((_, errno)) => Err(Error::FailedPrecondition(format!(
            "another hulld holds {} ({})",
            root.display(),
            errno
        ))),
    }
}

pub fn run(args: Args) -> Result<()> {
    crate::memory::tune_allocator();
    let mut cfg = Config::load(&args.config)?;
    if let Some(v) = &args.min_free_space {
        cfg.min_free_space = Some(v.clone());
        cfg.space_limit()?;
    }
    let level = args
        .log_level
        .clone()
        .or_else(|| cfg.log_level.clone())
        .unwrap_or_else(|| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(format!(
                "warn,hull_manager={level},hulld={level}"
            ))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let root = args
        .root
        .clone()
        .or_else(|| cfg.root.clone())
        .unwrap_or_else(|| config::DEFAULT_ROOT.into());
    let state = args
        .state
        .clone()
        .or_else(|| cfg.state.clone())
        .unwrap_or_else(|| config::DEFAULT_STATE.into());
    let address = args
        .address
        .clone()
        .or_else(|| cfg.address.clone())
        .unwrap_or_else(|| config::DEFAULT_ADDRESS.into());
    // Everything hulld makes is root's alone (see `private`).
    crate::private::restrict_umask();
    crate::private::dir(&root).ctx(|| format!("create {}", root.display()))?;
    let _lock = lock_root(&root)?;
    let cri_socket = cfg.cri.socket_path(args.cri_socket.as_deref(), &address);
    crate::network::cni::set_plugin_dirs(&cfg.cri.cni_bin_dirs());
    let m = Manager::open(&root, &state, &address, cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .thread_keep_alive(std::time::Duration::from_secs(10))
        .enable_all()
        .build()
        .ctx(|| "tokio runtime".into())?;
    // The shim clients (and the Wait of every task) live on the runtime.
    crate::containers::shim::set_runtime(rt.handle().clone());
    // Containers whose shims outlived a previous hulld.
    crate::containers::recover::recover(&m);
    // Containers of builds the previous hulld did not finish.
    crate::build::remove_leftover_containers(&m, rt.handle());
    // Networks find containers (by name or ID) through the containers floor.
    crate::network::set_container_finder(|m, ns, what| {
        crate::containers::find(m, ns, what).map(|c| crate::network::ContainerRef {
            id: c.id,
            name: c.name,
        })
    });
    // Networking of containers whose task is gone.
    crate::network::reconcile(&m);

    rt.block_on(async move {
        let listener = bind_private_socket(&address)?;
        let cri_listener = match &cri_socket {
            Some(p) => Some(bind_private_socket(p)?),
            None => None,
        };
        // containerd's ttrpc Events service, for the shims' events. Without
        // it shims fall back to `hull publish`, so a failure here is no
        // reason to stop.
        let ttrpc_sock = crate::events::forward::socket_path(&address);
        let _ = std::fs::remove_file(&ttrpc_sock);
        match tokio::net::UnixListener::bind(&ttrpc_sock).and_then(|l| {
            std::fs::set_permissions(&ttrpc_sock, std::fs::Permissions::from_mode(0o600))?;
            Ok(l)
        }) {
            Ok(l) => {
                let _ = m.events_ttrpc.set(ttrpc_sock.clone());
                tokio::spawn(crate::events::forward::serve(m.clone(), l));
            }
            Err(e) => {
                let _ = std::fs::remove_file(&ttrpc_sock);
                tracing::warn!(
                    "ttrpc events socket {}: {e}; shims publish through the hull binary",
                    ttrpc_sock.display()
                );
            }
        }
        tracing::info!(
            root = %root.display(),
            address = %address.display(),
            snapshotter = m.snapshots.driver().name(),
            cri = %cri_socket.as_deref().map(|p| p.display().to_string()).unwrap_or_else(|| "off".into()),
            "hulld serving"
        );
        // Both servers stop on the same signal.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let cri_server = cri_listener.map(|l| {
            let mut rx = stop_rx.clone();
            tokio::spawn(crate::api::cri::serve(m.clone(), l, async move {
                let _ = rx.wait_for(|stop| *stop).await;
            }))
        });
        let shutdown = async {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                std::future::pending::<()>().await;
                return;
            };
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            tracing::info!("shutting down");
            let _ = stop_tx.send(true);
            // Streams still open (a follower of events, a slow client) must
            // not keep the daemon alive for long.
            let sock = address.clone();
            let ttrpc_sock = crate::events::forward::socket_path(&address);
            let cri_sock = cri_socket.clone();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                tracing::warn!("connections still open after 5 s; exiting");
                let _ = std::fs::remove_file(&sock);
                let _ = std::fs::remove_file(&ttrpc_sock);
                if let Some(c) = &cri_sock {
                    let _ = std::fs::remove_file(c);
                }
                std::process::exit(0);
            });
        };
        // Idle housekeeping: drop unused registry clients, trim the heap.
        let m2 = m.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(15));
            loop {
                tick.tick().await;
                if m2.registries.sweep(std::time::Duration::from_secs(30)) > 0 {
                    crate::memory::release_memory();
                }
            }
        });
        let r = crate::api::serve(m, listener, shutdown).await;
        if let Some(h) = cri_server {
            match h.await {
                Ok(Err(e)) => tracing::warn!("CRI server: {e}"),
                Err(e) => tracing::warn!("CRI server: {e}"),
                Ok(Ok(())) => {}
            }
        }
        if let Some(c) = &cri_socket {
            let _ = std::fs::remove_file(c);
        }
        let _ = std::fs::remove_file(&address);
        let _ = std::fs::remove_file(crate::events::forward::socket_path(&address));
        r.map_err(|e| Error::Registry(format!("grpc server: {e}")))
    })
}

/// Bind a unix socket at `p`, mode 0600, making its directory (root's
/// only) when missing. We hold the root lock, so a socket left there is
/// stale.
fn bind_private_socket(p: &std::path::Path) -> Result<tokio::net::UnixListener> {
    if let Some(dir) = p.parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            crate::private::dir(dir).ctx(|| format!("create {}", dir.display()))?;
        }
    }
    let _ = std::fs::remove_file(p);
    let l = tokio::net::UnixListener::bind(p).ctx(|| format!("bind {}", p.display()))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))
        .ctx(|| format!("chmod {}", p.display()))?;
    Ok(l)
}
