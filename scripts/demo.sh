#!/usr/bin/env bash
# make demo: on a fresh Debian machine as root, install what is needed,
# build hull, and show a container's life with hullc (the runtime), then
# with hulld and hull (a registry on loopback, pull, run, ps, logs, exec,
# stop, rm). Everything lives in a temporary directory and is cleaned up on
# exit, also after a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "demo: run as root (containers need namespaces and cgroups)" >&2
    exit 1
fi

# the Debian packages the demo uses (scripts/deps.sh installs what is missing)
bash scripts/deps.sh demo

profile=${HULL_DEMO_PROFILE:-release}
# every binary the demo starts: hullc, hulld, hull, and the ones hulld starts
# per container (containerd-shim-hull-v2, hull-log-driver, hull-init for --init,
# hull-pause for CRI pods)
say "building the workspace's binaries ($profile)"
if [ "$profile" = release ]; then
    cargo build --release -q --workspace --bins
else
    cargo build -q --workspace --bins
fi
BIN="${CARGO_TARGET_DIR:-$PWD/target}/$profile"
HULLC="$BIN/hullc"

work=$(mktemp -d /tmp/hull-demo.XXXXXX)
root="$work/state"
hulld_pid=""
registry_pid=""
# hulld makes its default bridge (hull0) and the CNI firewall plugin its
# FORWARD chains on first use, and keeps them, as Docker keeps docker0; the
# demo takes away what was not there before it ran.
had_bridge=$(ip link show hull0 >/dev/null 2>&1 && echo yes || true)
had_cni_chains=$(iptables -S CNI-FORWARD >/dev/null 2>&1 && echo yes || true)
cleanup() {
    rc=$?
    set +e # every step runs, whatever the one before it returned
    "$HULLC" --root "$root" delete --force demo-bg >/dev/null 2>&1
    # hull's containers: removed through hulld while it runs (their shims
    # outlive it); then whatever a failure left: shims and log writers named
    # by this demo's directory, containers still in hullc's state
    if [ -n "$hulld_pid" ] && kill -0 "$hulld_pid" 2>/dev/null; then
        "$BIN/hull" -H "unix://$work/hull.sock" ps -a -q 2>/dev/null |
            xargs -r "$BIN/hull" -H "unix://$work/hull.sock" rm -f >/dev/null 2>&1 || true
    fi
    [ -n "$hulld_pid" ] && kill "$hulld_pid" 2>/dev/null && wait "$hulld_pid" 2>/dev/null
    for p in $(grep -lsF -- "$work/hull" /proc/[0-9]*/cmdline | cut -d/ -f3); do
        case "$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")" in
            */containerd-shim-hull-v2\ * | */hull-log-driver\ *) kill -KILL "$p" 2>/dev/null ;;
        esac
    done
    for rt in "$work"/hull-run/runtime/*; do
        [ -d "$rt" ] || continue
        for id in $(ls "$rt"); do "$HULLC" --root "$rt" delete --force "$id" >/dev/null 2>&1; done
    done
    [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
    # unmount whatever hulld left under the demo dir, deepest first
    awk -v w="$work" '$5 ~ "^"w {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf --one-file-system "$work"
    [ -n "$had_bridge" ] || ip link del hull0 2>/dev/null
    if [ -z "$had_cni_chains" ] && iptables -S CNI-FORWARD >/dev/null 2>&1; then
        iptables -D FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD 2>/dev/null
        iptables -F CNI-FORWARD && iptables -X CNI-FORWARD
        iptables -F CNI-ADMIN 2>/dev/null && iptables -X CNI-ADMIN 2>/dev/null
    fi
    if [ "$rc" -eq 0 ]; then echo "demo: cleaned up $work"; else echo "demo: failed (exit $rc); cleaned up $work" >&2; fi
    exit "$rc"
}
trap cleanup EXIT

say "making a busybox bundle in $work/bundle"
mkdir -p "$work/bundle/rootfs/bin"
cp "$(command -v busybox)" "$work/bundle/rootfs/bin/busybox"
for applet in $(busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$work/bundle/rootfs/bin/$applet"
done
cd "$work/bundle"
"$HULLC" spec
# non-interactive: no terminal, and a command of our own
sed -i 's/"terminal": true/"terminal": false/' config.json
python3 - <<'PY' 2>/dev/null || sed -i 's/"sh"$/"sh", "-c", "echo hello from $(hostname): pid $$, uid $(id -u)"/' config.json
import json
c = json.load(open("config.json"))
c["process"]["args"] = ["sh", "-c", "echo hello from $(hostname): pid $$, uid $(id -u)"]
json.dump(c, open("config.json", "w"), indent=2)
PY

say "hullc run (foreground, exit code passes through)"
"$HULLC" --root "$root" run demo-fg

say "a detached container: run -d, state, exec, ps, kill, delete"
python3 - <<'PY' 2>/dev/null || sed -i 's/"echo hello from[^"]*"/"sleep 300"/' config.json
import json
c = json.load(open("config.json"))
c["process"]["args"] = ["sleep", "300"]
json.dump(c, open("config.json", "w"), indent=2)
PY
"$HULLC" --root "$root" run -d demo-bg
"$HULLC" --root "$root" list
"$HULLC" --root "$root" exec demo-bg sh -c 'echo "exec sees: $(ps | wc -l) lines of ps"'
"$HULLC" --root "$root" ps demo-bg
"$HULLC" --root "$root" kill demo-bg KILL
for _ in $(seq 100); do
    "$HULLC" --root "$root" state demo-bg | grep -q '"stopped"' && break
    sleep 0.05
done
"$HULLC" --root "$root" state demo-bg | grep '"status"'
"$HULLC" --root "$root" delete demo-bg

say "an image: built from busybox-static with umoci, pushed to a registry on loopback"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/registry"
cat > "$work/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 200); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null && break
    sleep 0.05
done
cd "$work"
umoci init --layout oci >/dev/null
umoci new --image oci:demo >/dev/null
umoci unpack --rootless --image oci:demo unpacked >/dev/null 2>&1 || umoci unpack --image oci:demo unpacked >/dev/null
cp -a bundle/rootfs/. unpacked/rootfs/
umoci repack --image oci:demo unpacked >/dev/null
umoci config --image oci:demo --config.cmd /bin/sh --config.cmd -c --config.cmd 'echo hello from the image' >/dev/null
skopeo copy -q --dest-tls-verify=false oci:oci:demo "docker://127.0.0.1:$port/demo:latest"

say "hulld with a temporary root; hull pull and hull images"
"$BIN/hulld" --root "$work/hull" --state "$work/hull-run" --address "$work/hull.sock" >"$work/hulld.log" 2>&1 &
hulld_pid=$!
for _ in $(seq 200); do [ -S "$work/hull.sock" ] && break; sleep 0.05; done
export HULL_HOST="unix://$work/hull.sock"
"$BIN/hull" pull "127.0.0.1:$port/demo:latest"
"$BIN/hull" images
# (captured first: hull panics on a closed pipe, e.g. `| head`)
inspect=$("$BIN/hull" image inspect "127.0.0.1:$port/demo:latest")
printf '%s\n' "$inspect" | head -20

# From here on each hull command is printed before it runs.
hull() {
    printf '\033[2m$ hull %s\033[0m\n' "$*"
    "$BIN/hull" "$@"
}
img="127.0.0.1:$port/demo:latest"

say "containers: hull run --rm (foreground: output and exit code pass through)"
hull run --rm "$img"
hull run --rm "$img" echo "hello from hull run"
set +e
hull run --rm "$img" sh -c 'exit 3'
rc=$?
set -e
echo "exit code: $rc"
[ "$rc" -eq 3 ] || { echo "demo: expected exit code 3, got $rc" >&2; exit 1; }

say "a detached container: run -d --name, ps, logs, exec, stop, rm"
hull run -d --name demo-ticker "$img" sh -c 'i=0; while :; do echo "tick $i"; i=$((i + 1)); sleep 1; done'
hull ps
# wait (up to 10 s) for its first line to reach the log
for _ in $(seq 200); do
    "$BIN/hull" logs demo-ticker 2>/dev/null | grep -q tick && break
    sleep 0.05
done
hull logs demo-ticker
hull exec demo-ticker sh -c 'echo "exec in $(hostname): $(ps | wc -l) lines of ps"; ps'
hull stop -t 1 demo-ticker
hull ps -a
hull inspect --format '{{.Name}}: {{.State.Status}}, exit code {{.State.ExitCode}}' demo-ticker
hull rm demo-ticker
hull ps -a

say "done"
