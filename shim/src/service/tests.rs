//! The exit/start race of the shim's state, with no runtime behind it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::container::Container;
use super::exec::ExecLifecycle;
use super::init::InitLifecycle;
use super::process::{PState, Process};
use super::Shim;
use crate::events::Publisher;
use crate::reaper::{Exit, Reaper};
use crate::runtime::Runtime;
use crate::stdio::StdioPaths;

/// A shim holding one running container `c` with no runtime behind it
/// (nothing here calls the runtime binary).
fn shim_with_container() -> Arc<Shim> {
    let (tx, _rx) = channel();
    let reaper = Reaper::new();
    let shim = Shim::new(reaper.clone(), Publisher::none(), "test".into(), tx);
    let mut init = Process::new(
        "c",
        StdioPaths::default(),
        Arc::new(InitLifecycle::new("c")),
    );
    init.pid = 1;
    init.state = PState::Running;
    shim.lock().containers.insert(
        "c".into(),
        Container {
            bundle: PathBuf::from("/nonexistent"),
            runtime: Runtime::new(
                PathBuf::from("/nonexistent/runtime"),
                PathBuf::from("/nonexistent/root"),
                PathBuf::from("/nonexistent/log.json"),
                reaper,
            ),
            rootfs_mounted: false,
            paused: false,
            init,
            execs: HashMap::new(),
            oom: None,
        },
    );
    shim
}

fn add_exec(shim: &Shim, exec_id: &str) {
    let lifecycle = Arc::new(ExecLifecycle::new("c", exec_id, b"{}".to_vec()));
    let p = Process::new(exec_id, StdioPaths::default(), lifecycle);
    shim.lock()
        .containers
        .get_mut("c")
        .unwrap()
        .execs
        .insert(exec_id.into(), p);
}

/// A short exec exits (and is reaped) while its start is still learning
/// its pid: whichever side comes first, the exit must reach Wait. The
/// two sides race in threads, many times over, as `true` and
/// `ctr task exec` race in the shim.
#[test]
fn exit_racing_exec_start_is_never_lost() {
    let shim = shim_with_container();
    let go = Arc::new(std::sync::Barrier::new(2));
    for n in 0..20_000u32 {
        let exec_id = format!("x{n}");
        add_exec(&shim, &exec_id);
        // Fake pids far above pid_max: never a real process.
        let pid = 10_000_000 + n;
        let exit = Exit {
            pid: pid as i32,
            code: n % 7,
            at: SystemTime::now(),
        };
        let reaped = {
            let (shim, go) = (shim.clone(), go.clone());
            std::thread::spawn(move || {
                go.wait();
                shim.handle_exit(exit)
            })
        };
        go.wait();
        shim.exec_started("c", &exec_id, pid, None);
        reaped.join().unwrap();
        let got = shim
            .wait_exit("c", &exec_id, Some(Duration::from_secs(2)))
            .unwrap();
        assert_eq!(
            got.map(|e| e.code),
            Some(n % 7),
            "exit of exec {exec_id} (round {n}) was lost"
        );
        shim.delete("c", &exec_id).unwrap();
    }
}

/// The init and an exec differ only through their lifecycles: State names
/// each by its own id and only the init shows the pause; a finished exec
/// cannot be signalled, nor a running one deleted.
#[test]
fn init_and_exec_differ_by_their_lifecycles() {
    use containerd_shim_protos::api;
    use containerd_shim_protos::types::task::Status;
    let shim = shim_with_container();
    add_exec(&shim, "x");
    shim.exec_started("c", "x", 10_000_000, None);
    shim.lock().containers.get_mut("c").unwrap().paused = true;
    let state = |exec_id: &str| {
        let mut req = api::StateRequest::new();
        req.id = "c".into();
        req.exec_id = exec_id.into();
        shim.state(&req).unwrap()
    };
    let (init, exec) = (state(""), state("x"));
    assert_eq!((init.id.as_str(), init.status()), ("c", Status::PAUSED));
    assert_eq!((exec.id.as_str(), exec.status()), ("x", Status::RUNNING));
    assert_eq!(exec.exec_id, "x");

    let err = shim.delete("c", "x").unwrap_err();
    assert!(
        matches!(err, crate::error::Error::FailedPrecondition(_)),
        "{err}"
    );
    shim.handle_exit(Exit {
        pid: 10_000_000,
        code: 3,
        at: SystemTime::now(),
    });
    let mut kill = api::KillRequest::new();
    kill.id = "c".into();
    kill.exec_id = "x".into();
    kill.signal = 15;
    let err = shim.kill(&kill).unwrap_err();
    assert!(err.to_string().contains("exec \"x\" has exited"), "{err}");
    assert_eq!(shim.delete("c", "x").unwrap().exit_status, 3);
    assert!(shim.delete("c", "x").is_err(), "deleted twice");
}
