#!/usr/bin/env bash
# make demo: on a fresh Debian machine as root, install what is needed,
# build hull, and show a container's life with hullc (the runtime).
# Later stages (hulld/hull image pull and run) are added as they land.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "demo: run as root (containers need namespaces and cgroups)" >&2
    exit 1
fi

need=()
command -v busybox >/dev/null || need+=(busybox-static)
command -v cc >/dev/null || need+=(gcc)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v umoci >/dev/null || need+=(umoci)
command -v skopeo >/dev/null || need+=(skopeo)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

profile=${HULL_DEMO_PROFILE:-release}
say "building hullc, hulld and hull ($profile)"
if [ "$profile" = release ]; then
    cargo build --release -q -p hull-runtime -p hull-manager
else
    cargo build -q -p hull-runtime -p hull-manager
fi
BIN="${CARGO_TARGET_DIR:-$PWD/target}/$profile"
HULLC="$BIN/hullc"

work=$(mktemp -d /tmp/hull-demo.XXXXXX)
root="$work/state"
hulld_pid=""
registry_pid=""
cleanup() {
    "$HULLC" --root "$root" delete --force demo-bg >/dev/null 2>&1 || true
    [ -n "$hulld_pid" ] && kill "$hulld_pid" 2>/dev/null && wait "$hulld_pid" 2>/dev/null
    [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
    # unmount whatever hulld left under the demo dir, deepest first
    awk -v w="$work" '$5 ~ "^"w {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf --one-file-system "$work"
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
"$BIN/hull" image inspect "127.0.0.1:$port/demo:latest" | head -20

say "done"
