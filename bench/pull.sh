# shellcheck shell=bash
# Section "pull": `hull pull` (hulld) against `ctr images pull` (Debian's
# containerd) of the same multi-layer image (>= 200 MiB in 5 layers of
# incompressible data, built here with umoci) from a docker-registry on a
# loopback port. Every run starts from a cold store: a fresh daemon with an
# empty root. Both unpack into overlayfs snapshots. Also the idle resident
# memory of a fresh hulld beside a fresh containerd, and hulld's after one
# pull (goal <= 15 MiB: the memory of a transfer goes back to the system).
#
# Environment: BENCH_PULL_N (runs per tool, default 5), BENCH_PULL_LAYERS
# (default 5), BENCH_PULL_LAYER_MIB (default 42).

bench_pull() {
    local n=${BENCH_PULL_N:-5} layers=${BENCH_PULL_LAYERS:-5} mib=${BENCH_PULL_LAYER_MIB:-42}
    need_tool "$HULL_BIN_DIR/hulld"
    need_tool "$HULL_BIN_DIR/hull"
    need_tool docker-registry
    need_tool skopeo
    need_tool umoci
    need_tool containerd
    need_tool ctr containerd

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

    bench_start_registry "$dir/reg"
    local ref=127.0.0.1:$BENCH_REG_PORT/bench/big:v1
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
        pid=$(bench_start_hulld "$d")
        BENCH_PIDS+=("$pid")
        t0=$(now_us)
        "$HULL_BIN_DIR/hull" -H "$d/hull.sock" pull -q "$ref" >/dev/null || bench_die "hull pull failed (log: $d/hulld.log)"
        t1=$(now_us)
        us_to_ms $((t1 - t0)) >>"$th"
        bench_stop_pid "$pid"
        bench_clean_dir "$d"
        # containerd, cold store.
        d=$dir/c$run
        pid=$(bench_start_containerd "$d")
        BENCH_PIDS+=("$pid")
        t0=$(now_us)
        ctr -a "$d/containerd.sock" images pull --plain-http "$ref" >/dev/null || bench_die "ctr pull failed"
        t1=$(now_us)
        us_to_ms $((t1 - t0)) >>"$tc"
        bench_stop_pid "$pid"
        bench_clean_dir "$d"
    done
    local mh mc
    mh=$(median "$th")
    mc=$(median "$tc")
    printf 'pull: %s MiB in %s layers, %s runs each: hull median %s ms (%s), ctr median %s ms (%s); hull is %sx faster\n' \
        "$((size >> 20))" "$layers" "$n" "$mh" "$(minmax "$th")" "$mc" "$(minmax "$tc")" "$(ratio "$mc" "$mh")"
    add_result pull "cold pull ${layers}x${mib}MiB" ms "$mh" "$mc"

    # Idle memory of fresh daemons.
    d=$dir/rss-h
    pid=$(bench_start_hulld "$d")
    BENCH_PIDS+=("$pid")
    sleep 1
    local rh rc
    rh=$(bench_rss "$pid")
    "$HULL_BIN_DIR/hull" -H "$d/hull.sock" pull -q "$ref" >/dev/null
    sleep 1
    local rh_after
    rh_after=$(bench_rss "$pid")
    bench_stop_pid "$pid"
    d=$dir/rss-c
    pid=$(bench_start_containerd "$d")
    BENCH_PIDS+=("$pid")
    sleep 1
    rc=$(bench_rss "$pid")
    bench_stop_pid "$pid"
    printf 'idle RSS: hulld %s KiB (%s KiB after a pull), containerd %s KiB\n' "$rh" "$rh_after" "$rc"
    add_result pull "idle daemon RSS" KiB "$rh" "$rc"
    add_result pull "hulld RSS after pull (goal)" KiB "$rh_after" 15360
    bench_stop_all
}
