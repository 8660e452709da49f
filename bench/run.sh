#!/usr/bin/env bash
# hull benchmarks. Run as root: `make bench` (builds release binaries and sets
# HULL_BIN_DIR), or directly: `HULL_BIN_DIR=target/release bash bench/run.sh`.
#
# Environment:
#   HULL_BIN_DIR     directory with the hull binaries (hullc, ...)
#   HULLC            runtime under test (default $HULL_BIN_DIR/hullc); set it
#                    to /usr/sbin/runc to check the script itself
#   RUNC             reference runtime (default: runc on PATH)
#   BENCH_N          measured runs per runtime and section (default 30)
#   BENCH_WARMUP     unmeasured runs per runtime first (default 3)
#   BENCH_SECTIONS   space-separated sections to run (default: all)
#   BENCH_TIMEOUT    seconds before one container run counts as hung (default 60)
#
# Each section lives in bench/<file>.sh, defines bench_<name>, and records
# rows with add_result; the summary table is printed at the end.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

# Sections in order: name and the file defining bench_<name>. Later
# benchmarks (exec, shim RSS, pulls) are added here.
ALL_SECTIONS=(run exec shim_rss pull containers net bridge cri build compose)
declare -A SECTION_FILE=([run]=run_start.sh [exec]=exec.sh [shim_rss]=shim_rss.sh [pull]=pull.sh [containers]=containers.sh [net]=net.sh [bridge]=bridge.sh [cri]=cri.sh [build]=build.sh [compose]=compose.sh)

[[ $(id -u) -eq 0 ]] || bench_die "must run as root (containers need namespaces, mounts and cgroups)"

HULL_BIN_DIR=${HULL_BIN_DIR:-$here/../target/release}
# Absolute paths: some are handed to daemons and shims running elsewhere.
[[ -d $HULL_BIN_DIR ]] || bench_die "HULL_BIN_DIR $HULL_BIN_DIR is not a directory"
HULL_BIN_DIR=$(cd "$HULL_BIN_DIR" && pwd)
HULLC=${HULLC:-$HULL_BIN_DIR/hullc}
[[ $HULLC == /* || $HULLC != */* ]] || HULLC=$PWD/$HULLC
RUNC=${RUNC:-$(command -v runc || true)}
BUSYBOX=${BUSYBOX:-/bin/busybox}
[[ -n $RUNC ]] || bench_die "missing tool 'runc' (apt-get install runc)"
need_tool "$HULLC"
need_tool "$RUNC"
need_tool "$BUSYBOX" busybox-static
need_tool jq
need_tool awk gawk
((BASH_VERSINFO[0] >= 5)) || bench_die "bash >= 5 needed (EPOCHREALTIME)"
need_tool timeout coreutils
"$BUSYBOX" --list | grep -qx true || bench_die "$BUSYBOX has no 'true' applet"

BENCH_TMP=$(mktemp -d /tmp/hull-bench.XXXXXX)
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

sections=(${BENCH_SECTIONS:-${ALL_SECTIONS[@]}})
for s in "${sections[@]}"; do
    [[ -n ${SECTION_FILE[$s]:-} ]] || bench_die "unknown section '$s' (have: ${ALL_SECTIONS[*]})"
    # shellcheck source=/dev/null
    source "$here/${SECTION_FILE[$s]}"
done

printf 'hull bench: hullc=%s runc=%s (%s) N=%s  %s\n' "$HULLC" "$RUNC" \
    "$("$RUNC" --version | head -1)" "${BENCH_N:-30}" "$(date -u +%FT%TZ)"
for s in "${sections[@]}"; do
    "bench_$s"
done
print_summary
