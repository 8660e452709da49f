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
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

say "building (cargo build --release -p hull-runtime)"
cargo build --release -q -p hull-runtime
HULLC="${CARGO_TARGET_DIR:-$PWD/target}/release/hullc"

work=$(mktemp -d /tmp/hull-demo.XXXXXX)
root="$work/state"
cleanup() {
    "$HULLC" --root "$root" delete --force demo-bg >/dev/null 2>&1 || true
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

say "done"
