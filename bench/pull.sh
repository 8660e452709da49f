# shellcheck shell=bash
# Section "pull": `hull pull` (hulld) against `ctr images pull` (Debian's
# containerd) of the same multi-layer image (>= 200 MiB in 5 layers of
# incompressible data, built here with umoci) from a docker-registry on a
# loopback port. Every run starts from a cold store: a fresh daemon with an
# empty root. Both unpack into overlayfs snapshots. Also the idle resident
# memory of a fresh hulld beside a fresh containerd.
#
# Environment: BENCH_PULL_N (runs per tool, default 5), BENCH_PULL_LAYERS
# (default 5), BENCH_PULL_LAYER_MIB (default 42).

PULL_PIDS=()

pull_stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    timeout 15 bash -c "while kill -0 $pid 2>/dev/null; do sleep 0.05; done" || kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

pull_stop_all() {
    local pid
    for pid in "${PULL_PIDS[@]}"; do pull_stop_pid "$pid"; done
    PULL_PIDS=()
}

# pull_rss PID: VmRSS in KiB.
pull_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# pull_start_hulld DIR: start hulld on DIR, echo its pid.
pull_start_hulld() {
    local d=$1
    mkdir -p "$d"
    : >"$d/config.toml"
    "$HULL_BIN_DIR/hulld" --root "$d/root" --state "$d/state" --address "$d/hull.sock" \
        --config "$d/config.toml" --log-level warn >"$d/hulld.log" 2>&1 </dev/null &
    local pid=$!
    timeout 30 bash -c "until '$HULL_BIN_DIR/hull' -H '$d/hull.sock' version >/dev/null 2>&1; do sleep 0.02; done" ||
        bench_die "hulld did not start (log: $d/hulld.log)"
    echo "$pid"
}

pull_start_containerd() {
    local d=$1
    mkdir -p "$d"
    cat >"$d/config.toml" <<TOML
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/containerd.sock"
TOML
    containerd --config "$d/config.toml" >"$d/containerd.log" 2>&1 </dev/null &
    local pid=$!
    timeout 30 bash -c "until ctr -a '$d/containerd.sock' version >/dev/null 2>&1; do sleep 0.02; done" ||
        bench_die "containerd did not start (log: $d/containerd.log)"
    echo "$pid"
}

pull_clean_dir() {
    local d=$1 m
    { awk '{ print $5 }' /proc/self/mountinfo | grep -F "$d/" || true; } | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$d"
}

bench_pull() {
    local n=${BENCH_PULL_N:-5} layers=${BENCH_PULL_LAYERS:-5} mib=${BENCH_PULL_LAYER_MIB:-42}
    need_tool "$HULL_BIN_DIR/hulld"
    need_tool "$HULL_BIN_DIR/hull"
    need_tool docker-registry
    need_tool skopeo
    need_tool umoci
    need_tool containerd
    need_tool ctr containerd
    trap 'pull_stop_all; bench_cleanup' EXIT

    local dir=$BENCH_TMP/pull
    mkdir -p "$dir/img"
    bench_log "pull: building a ${layers}x${mib} MiB image"
    umoci init --layout "$dir/img/oci" >/dev/null
    umoci new --image "$dir/img/oci:l0" >/dev/null
    local i prev=l0
    for ((i = 1; i <= layers; i++)); do
        umoci unpack --image "$dir/img/oci:$prev" "$dir/img/b" >/dev/null 2>&1
        if ((i == 1)); then make_busybox_rootfs "$dir/img/b/rootfs"; fi
        head -c "$((mib << 20))" /dev/urandom >"$dir/img/b/rootfs/data$i.bin"
        umoci repack --image "$dir/img/oci:l$i" "$dir/img/b" >/dev/null
        rm -rf --one-file-system "$dir/img/b"
        prev=l$i
    done

    # Registry on a free loopback port.
    local port reg_pid=""
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
        reg_pid=$!
        if timeout 10 bash -c "until curl -s -o /dev/null http://127.0.0.1:$port/v2/ 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do kill -0 $reg_pid || exit 1; sleep 0.05; done"; then
            break
        fi
        reg_pid=""
    done
    [[ -n $reg_pid ]] || bench_die "docker-registry did not start"
    PULL_PIDS+=("$reg_pid")
    local ref=127.0.0.1:$port/bench/big:v1
    skopeo copy --quiet --dest-tls-verify=false "oci:$dir/img/oci:$prev" "docker://$ref" ||
        bench_die "skopeo copy to the registry failed"
    local size
    size=$(skopeo inspect --tls-verify=false --raw "docker://$ref" | jq '[.layers[].size] | add')
    bench_log "pull: image $ref, $((size >> 20)) MiB compressed in $layers layers"

    local th=$dir/hull.ms tc=$dir/ctr.ms run t0 t1 pid d
    : >"$th"
    : >"$tc"
    for ((run = 0; run < n; run++)); do
        # hull, cold store.
        d=$dir/h$run
        pid=$(pull_start_hulld "$d")
        PULL_PIDS+=("$pid")
        t0=$(now_us)
        "$HULL_BIN_DIR/hull" -H "$d/hull.sock" pull -q "$ref" >/dev/null || bench_die "hull pull failed (log: $d/hulld.log)"
        t1=$(now_us)
        us_to_ms $((t1 - t0)) >>"$th"
        pull_stop_pid "$pid"
        pull_clean_dir "$d"
        # containerd, cold store.
        d=$dir/c$run
        pid=$(pull_start_containerd "$d")
        PULL_PIDS+=("$pid")
        t0=$(now_us)
        ctr -a "$d/containerd.sock" images pull --plain-http "$ref" >/dev/null || bench_die "ctr pull failed"
        t1=$(now_us)
        us_to_ms $((t1 - t0)) >>"$tc"
        pull_stop_pid "$pid"
        pull_clean_dir "$d"
    done
    local mh mc
    mh=$(median "$th")
    mc=$(median "$tc")
    printf 'pull: %s MiB in %s layers, %s runs each: hull median %s ms (%s), ctr median %s ms (%s); hull is %sx faster\n' \
        "$((size >> 20))" "$layers" "$n" "$mh" "$(minmax "$th")" "$mc" "$(minmax "$tc")" "$(ratio "$mc" "$mh")"
    add_result pull "cold pull ${layers}x${mib}MiB" ms "$mh" "$mc"

    # Idle memory of fresh daemons.
    d=$dir/rss-h
    pid=$(pull_start_hulld "$d")
    PULL_PIDS+=("$pid")
    sleep 1
    local rh rc
    rh=$(pull_rss "$pid")
    "$HULL_BIN_DIR/hull" -H "$d/hull.sock" pull -q "$ref" >/dev/null
    sleep 1
    local rh_after
    rh_after=$(pull_rss "$pid")
    pull_stop_pid "$pid"
    d=$dir/rss-c
    pid=$(pull_start_containerd "$d")
    PULL_PIDS+=("$pid")
    sleep 1
    rc=$(pull_rss "$pid")
    pull_stop_pid "$pid"
    printf 'idle RSS: hulld %s KiB (%s KiB after a pull), containerd %s KiB\n' "$rh" "$rh_after" "$rc"
    add_result pull "idle daemon RSS" KiB "$rh" "$rc"
    pull_stop_all
}
