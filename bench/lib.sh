# shellcheck shell=bash
# Shared helpers for bench/run.sh and its sections. Sourced, not executed.

bench_log() { printf '%s\n' "bench: $*" >&2; }
bench_die() { printf '%s\n' "bench: error: $*" >&2; exit 1; }

# need_tool TOOL [DEBIAN-PACKAGE]: fail clearly when a tool is missing.
need_tool() {
    local tool=$1 pkg=${2:-$1}
    if [[ $tool == */* ]]; then
        [[ -x $tool ]] || bench_die "missing executable $tool"
    else
        command -v "$tool" >/dev/null 2>&1 || bench_die "missing tool '$tool' (apt-get install $pkg)"
    fi
}

# now_us: wall clock in microseconds from bash's EPOCHREALTIME (no fork, so
# nothing but the measured command lands between two readings).
now_us() { local t=${EPOCHREALTIME/[.,]/}; printf '%s' "$((10#$t))"; }

# us_to_ms MICROSECONDS: "12.345".
us_to_ms() { printf '%d.%03d\n' "$(($1 / 1000))" "$(($1 % 1000))"; }

# median FILE: median of one number per line (mean of the two middle values
# for an even count).
median() {
    sort -g "$1" | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]
        else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# minmax FILE: "min max" of one number per line.
minmax() { sort -g "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f %.3f\n", lo, hi }'; }

# bench_timed FILE CMD...: run CMD (stdout discarded), append its wall
# time in ms to FILE; CMD's status.
bench_timed() {
    local out=$1 t0 t1
    shift
    t0=$(now_us)
    "$@" >/dev/null || return
    t1=$(now_us)
    us_to_ms $((t1 - t0)) >>"$out"
}

# ratio A B: A/B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "inf"; else printf "%.2f\n", a / b }'; }

# Summary rows: section, metric, unit, hull value, reference value, ratio.
BENCH_SUMMARY=()
add_result() {
    local section=$1 metric=$2 unit=$3 hull=$4 ref=$5
    BENCH_SUMMARY+=("$section|$metric|$unit|$hull|$ref|$(ratio "$hull" "$ref")")
}

print_summary() {
    printf '\n%-10s %-28s %-6s %12s %12s %8s\n' section metric unit hull reference ratio
    printf '%-10s %-28s %-6s %12s %12s %8s\n' ---------- ---------------------------- ------ ------------ ------------ --------
    local row
    for row in "${BENCH_SUMMARY[@]}"; do
        IFS='|' read -r s m u h r q <<<"$row"
        printf '%-10s %-28s %-6s %12s %12s %8s\n' "$s" "$m" "$u" "$h" "$r" "$q"
    done
}

# make_busybox_rootfs DIR: busybox-static plus one symlink per applet in
# /bin (skipping `busybox` itself, which would replace the binary).
make_busybox_rootfs() {
    local root=$1 applet
    mkdir -p "$root"/{bin,proc,sys,dev,tmp,etc,root}
    cp "$BUSYBOX" "$root/bin/busybox"
    for applet in $("$BUSYBOX" --list); do
        [[ $applet == busybox ]] && continue
        [[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\n' >"$root/etc/group"
    chmod 1777 "$root/tmp"
}

# make_bundle DIR ARGS-JSON: OCI bundle from `runc spec`, terminal off,
# process args replaced (e.g. '["/bin/true"]').
make_bundle() {
    local bundle=$1 args=$2
    mkdir -p "$bundle"
    make_busybox_rootfs "$bundle/rootfs"
    (cd "$bundle" && "$RUNC" spec)
    jq --argjson args "$args" '.process.terminal = false | .process.args = $args' \
        "$bundle/config.json" >"$bundle/config.json.new"
    mv "$bundle/config.json.new" "$bundle/config.json"
    local bin
    bin=$(jq -r '.process.args[0]' "$bundle/config.json")
    [[ -e $bundle/rootfs$bin ]] || bench_die "bundle command $bin missing from rootfs"
}

# Cleanup: everything lives under $BENCH_TMP; runtime roots are recorded so
# leftover containers (after a failure) are force-deleted by id.
BENCH_CONTAINERS=()   # "runtime|root|id"
track_container() { BENCH_CONTAINERS+=("$1|$2|$3"); }

bench_cleanup() {
    local entry rt root id
    bench_stop_all
    for entry in "${BENCH_CONTAINERS[@]}"; do
        IFS='|' read -r rt root id <<<"$entry"
        [[ -d $root/$id ]] && "$rt" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
    done
    if [[ -n ${BENCH_TMP:-} && -d $BENCH_TMP ]]; then
        # Unmount anything left under the tree (deepest first), then delete
        # without crossing into other file systems.
        local m
        { awk '{ print $5 }' /proc/self/mountinfo | grep -F "$BENCH_TMP/" || true; } | sort -r |
            while read -r m; do umount -l "$m" 2>/dev/null || true; done
        rm -rf --one-file-system "$BENCH_TMP" || bench_log "could not remove $BENCH_TMP"
    fi
}

# ---- Daemons shared by the sections that need hulld, containerd or a
# registry (pull, containers). Every pid started here is recorded in
# BENCH_PIDS so bench_cleanup stops it even after a failure.
BENCH_PIDS=()

# bench_stop_pid PID: SIGTERM, wait up to 15 s, then SIGKILL.
bench_stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    timeout 15 bash -c "while kill -0 $pid 2>/dev/null; do sleep 0.05; done" || kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

bench_stop_all() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do bench_stop_pid "$pid"; done
    BENCH_PIDS=()
}

# bench_rss PID: VmRSS in KiB. bench_pss PID: Pss in KiB from smaps_rollup,
# empty when the kernel does not offer it.
bench_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
bench_pss() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || true; }

# bench_idle_cpu PID SECONDS: the CPU time (user + system, all threads) PID
# takes over SECONDS of wall time, in percent of one core, two decimals.
bench_idle_cpu() {
    local pid=$1 secs=$2 hz t0 t1
    hz=$(getconf CLK_TCK)
    # Fields 14 and 15 of /proc/PID/stat, counted after the ")" ending the
    # command name (which may hold spaces).
    t0=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')
    sleep "$secs"
    t1=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')
    awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$secs" 'BEGIN { printf "%.2f\n", 100 * d / hz / s }'
}

# bench_start_hulld DIR [CONFIG]: start $HULL_BIN_DIR/hulld with root,
# state and socket (DIR/hull.sock) under DIR and CONFIG (TOML text) as its
# config file; echo its pid once it answers. BENCH_HULLD_LOG_LEVEL: its
# --log-level (default warn).
bench_start_hulld() {
    local d=$1
    mkdir -p "$d"
    printf '%s\n' "${2:-}" >"$d/config.toml"
    "$HULL_BIN_DIR/hulld" --root "$d/root" --state "$d/state" --address "$d/hull.sock" \
        --config "$d/config.toml" --log-level "${BENCH_HULLD_LOG_LEVEL:-warn}" >"$d/hulld.log" 2>&1 </dev/null &
    local pid=$!
    timeout 30 bash -c "until '$HULL_BIN_DIR/hull' -H '$d/hull.sock' version >/dev/null 2>&1; do kill -0 $pid || exit 1; sleep 0.02; done" ||
        bench_die "hulld did not start (log: $d/hulld.log)"
    echo "$pid"
}

# bench_start_containerd DIR [CRI-TOML]: a private containerd with root,
# state and socket (DIR/containerd.sock) under DIR; echo its pid. Without
# CRI-TOML its CRI plugin is off; with it, on, and CRI-TOML (its plugin
# tables) ends the config.
bench_start_containerd() {
    local d=$1 cri=${2:-}
    mkdir -p "$d"
    cat >"$d/config.toml" <<TOML
version = 2
root = "$d/root"
state = "$d/state"
$([[ -n $cri ]] || echo 'disabled_plugins = ["io.containerd.grpc.v1.cri"]')
[grpc]
  address = "$d/containerd.sock"
$cri
TOML
    containerd --config "$d/config.toml" >"$d/containerd.log" 2>&1 </dev/null &
    local pid=$!
    timeout 30 bash -c "until ctr -a '$d/containerd.sock' version >/dev/null 2>&1; do kill -0 $pid || exit 1; sleep 0.02; done" ||
        bench_die "containerd did not start (log: $d/containerd.log)"
    echo "$pid"
}

# bench_clean_dir DIR: unmount what is under DIR (deepest first), then
# delete it without crossing file systems.
bench_clean_dir() {
    local d=$1 m
    { awk '{ print $5 }' /proc/self/mountinfo | grep -F "$d/" || true; } | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$d"
}

# bench_start_registry DIR: docker-registry on a free loopback port, storage
# under DIR. Sets BENCH_REG_PORT; its pid goes to BENCH_PIDS. Not to be run
# in a subshell.
BENCH_REG_PORT=""
bench_start_registry() {
    local dir=$1 port pid=""
    mkdir -p "$dir"
    for port in $(shuf -i 20000-60000 -n 20); do
        cat >"$dir/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/registry
http:
  addr: 127.0.0.1:$port
YML
        docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 </dev/null &
        pid=$!
        if timeout 10 bash -c "until (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do kill -0 $pid || exit 1; sleep 0.05; done"; then
            break
        fi
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=""
    done
    [[ -n $pid ]] || bench_die "docker-registry did not start (log: $dir/registry.log)"
    BENCH_PIDS+=("$pid")
    BENCH_REG_PORT=$port
}

# bench_busybox_image LAYOUT TAG: a one-layer OCI image LAYOUT:TAG made of
# make_busybox_rootfs, command /bin/sh, PATH=/bin.
bench_busybox_image() {
    local layout=$1 tag=$2
    umoci init --layout "$layout" >/dev/null
    umoci new --image "$layout:$tag" >/dev/null
    umoci unpack --image "$layout:$tag" "$layout.b" >/dev/null 2>&1
    make_busybox_rootfs "$layout.b/rootfs"
    umoci repack --image "$layout:$tag" "$layout.b" >/dev/null
    umoci config --image "$layout:$tag" --clear=config.cmd --config.cmd /bin/sh \
        --config.env PATH=/bin --os linux --architecture "$(dpkg --print-architecture)" >/dev/null
    rm -rf --one-file-system "$layout.b"
}

# bench_containerd_teardown ADDR NS PID: SIGKILL every task in namespace NS
# of the containerd at ADDR (pid PID), delete the tasks and containers by
# id, stop that containerd, then kill the shims it left behind (found by
# ADDR, unique to this run, in their command line).
bench_containerd_teardown() {
    local addr=$1 ns=$2 ctd=$3 pid cmd
    local -a c=(ctr -a "$addr" -n "$ns")
    if [[ -n $ctd ]] && kill -0 "$ctd" 2>/dev/null; then
        "${c[@]}" task ls -q 2>/dev/null | xargs -r -P 8 -I{} "${c[@]}" task kill -s SIGKILL {} >/dev/null 2>&1 || true
        timeout 30 bash -c "while ctr -a '$addr' -n '$ns' task ls 2>/dev/null | awk 'NR > 1 && \$3 != \"STOPPED\"' | grep -q .; do sleep 0.1; done" || true
        "${c[@]}" task ls -q 2>/dev/null | xargs -r -P 8 -I{} "${c[@]}" task delete -f {} >/dev/null 2>&1 || true
        "${c[@]}" containers ls -q 2>/dev/null | xargs -r -n 50 "${c[@]}" containers rm >/dev/null 2>&1 || true
        bench_stop_pid "$ctd"
    fi
    for pid in $(grep -lsF -- "$addr" /proc/[0-9]*/cmdline | cut -d/ -f3); do
        cmd=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null || true)
        if [[ $cmd == containerd-shim-* || $cmd == */containerd-shim-* ]]; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

# ---- hulld and dockerd side by side, each in a network namespace of its
# own (bridges and iptables rules off the host and out of each other's way).

# bench_netns NAME: a new network namespace with lo up.
bench_netns() {
    ip netns add "$1"
    nsenter --net="/run/netns/$1" ip link set lo up
}

# bench_hulld_in_ns DIR NS: hulld with root, state and socket (DIR/hull.sock)
# under DIR, containers on the default bridge, in namespace NS; echo its pid
# once it answers.
bench_hulld_in_ns() {
    local d=$1 ns=$2
    mkdir -p "$d"
    printf 'default_network = "bridge"\n' >"$d/config.toml"
    # nsenter execs hulld, so $! is hulld's pid.
    nsenter --net="/run/netns/$ns" "$HULL_BIN_DIR/hulld" --root "$d/root" --state "$d/state" \
        --address "$d/hull.sock" --config "$d/config.toml" --log-level warn \
        >"$d/hulld.log" 2>&1 </dev/null &
    local pid=$!
    timeout 30 bash -c "until '$HULL_BIN_DIR/hull' -H '$d/hull.sock' version >/dev/null 2>&1; do kill -0 $pid || exit 1; sleep 0.02; done" ||
        bench_die "hulld did not start (log: $d/hulld.log)"
    echo "$pid"
}

# bench_dockerd_in_ns DIR NS TAG: $DOCKERD with data, exec root and socket
# (DIR/docker.sock) under DIR and containerd namespaces named after TAG, in
# namespace NS; echo its pid once it answers.
bench_dockerd_in_ns() {
    local d=$1 ns=$2 tag=$3
    mkdir -p "$d"
    nsenter --net="/run/netns/$ns" "$DOCKERD" --data-root "$d/root" --exec-root "$d/exec" --pidfile "$d/pid" \
        -H "unix://$d/docker.sock" --containerd-namespace "$tag" \
        --containerd-plugins-namespace "$tag-plugins" --userland-proxy=false \
        >"$d/dockerd.log" 2>&1 </dev/null &
    local pid=$!
    timeout 60 bash -c "until '$DOCKER' -H 'unix://$d/docker.sock' version >/dev/null 2>&1; do kill -0 $pid || exit 1; sleep 0.05; done" ||
        bench_die "dockerd did not start (log: $d/dockerd.log)"
    echo "$pid"
}

# bench_daemons_teardown HSOCK HPID DSOCK DPID NS…: remove every container
# of the hulld at HSOCK and of the dockerd at DSOCK, stop both (an empty pid
# is skipped; dockerd stops the containerd it started), delete the NSs.
bench_daemons_teardown() {
    local hs=$1 hp=$2 ds=$3 dp=$4 c ns
    shift 4
    if [[ -n $hp ]] && kill -0 "$hp" 2>/dev/null; then
        for c in $("$HULL_BIN_DIR/hull" -H "$hs" ps -a -q --no-trunc 2>/dev/null); do
            "$HULL_BIN_DIR/hull" -H "$hs" rm -f "$c" >/dev/null 2>&1 || true
        done
        bench_stop_pid "$hp"
    fi
    if [[ -n $dp ]] && kill -0 "$dp" 2>/dev/null; then
        for c in $("$DOCKER" -H "unix://$ds" ps -a -q 2>/dev/null); do
            "$DOCKER" -H "unix://$ds" rm -f "$c" >/dev/null 2>&1 || true
        done
        bench_stop_pid "$dp"
    fi
    for ns in "$@"; do
        [[ -n $ns ]] && ip netns del "$ns" 2>/dev/null || true
    done
}

# bench_procs KEY PATTERN…: pids of the processes whose command line contains
# KEY (a path unique to this run) and, joined with spaces, matches one of
# the glob PATTERNs.
bench_procs() {
    local key=$1 pid cmd pat
    shift
    for pid in $(grep -lsF -- "$key" /proc/[0-9]*/cmdline | cut -d/ -f3); do
        cmd=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null || true)
        for pat in "$@"; do
            # shellcheck disable=SC2053
            if [[ $cmd == $pat ]]; then
                echo "$pid"
                break
            fi
        done
    done
}
