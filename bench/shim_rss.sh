# shellcheck shell=bash
# Section "shim_rss": resident memory per idle container of
# containerd-shim-hull-v2 (driving $HULLC) beside containerd's own
# containerd-shim-runc-v2 (driving $RUNC), both run by one private
# containerd. Each shim is found as the parent (subreaper) of its task's
# init; figures are means over BENCH_SHIM_N (default 5) containers per shim.
#
# Needs: containerd, ctr, umoci (image built offline from busybox-static),
# and $HULL_BIN_DIR/containerd-shim-hull-v2. The static build (see
# shim/README or the Makefile: `cargo rustc --release -p hull-shim --bin
# containerd-shim-hull-v2 -- -C target-feature=+crt-static`) maps no libc.so,
# which is most of a dynamic shim's RSS.

SHIM_RSS_CTD_PID=""
SHIM_RSS_ADDR=""

shim_rss_ctr() { ctr -a "$SHIM_RSS_ADDR" -n bench "$@"; }

# shim_rss_stop: delete our tasks and containers, stop our containerd, kill
# shims left by it.
shim_rss_stop() {
    [[ -n $SHIM_RSS_ADDR ]] || return 0
    bench_containerd_teardown "$SHIM_RSS_ADDR" bench "$SHIM_RSS_CTD_PID"
    SHIM_RSS_CTD_PID=""
    SHIM_RSS_ADDR=""
}

# shim_rss_mem PID: "RSS_KiB PSS_KiB" of a process.
shim_rss_mem() {
    local rss pss
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status")
    pss=$(awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup")
    printf '%s %s\n' "$rss" "$pss"
}

bench_shim_rss() {
    local n=${BENCH_SHIM_N:-5}
    local shim=$HULL_BIN_DIR/containerd-shim-hull-v2
    need_tool "$shim"
    need_tool containerd
    need_tool ctr containerd
    need_tool umoci
    need_tool containerd-shim-runc-v2 containerd
    trap 'shim_rss_stop; bench_cleanup' EXIT

    local dir=$BENCH_TMP/shim
    mkdir -p "$dir/img" "$dir/rt"
    # A one-layer busybox image, packed as an OCI archive for `ctr import`.
    bench_busybox_image "$dir/img/oci" latest
    tar -C "$dir/img/oci" -cf "$dir/img.tar" .

    SHIM_RSS_ADDR=$dir/containerd.sock
    cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$SHIM_RSS_ADDR"
TOML
    # containerd finds containerd-shim-hull-v2 on its PATH.
    PATH=$HULL_BIN_DIR:$PATH containerd --config "$dir/config.toml" \
        >"$dir/containerd.log" 2>&1 </dev/null &
    SHIM_RSS_CTD_PID=$!
    timeout 30 bash -c "until ctr -a '$SHIM_RSS_ADDR' version >/dev/null 2>&1; do sleep 0.05; done" ||
        bench_die "private containerd did not start (log: $dir/containerd.log)"
    shim_rss_ctr images import --base-name localhost/bench-busybox "$dir/img.tar" >/dev/null
    local image=localhost/bench-busybox:latest
    printf 'BinaryName = "%s"\nRoot = "%s"\n' "$HULLC" "$dir/rt" >"$dir/hull-runtime.toml"

    local i id tpid kind
    local -a hull_pids=() runc_pids=()
    for ((i = 0; i < n; i++)); do
        for kind in hull runc; do
            id="rss-$kind-$i"
            if [[ $kind == hull ]]; then
                shim_rss_ctr run -d --null-io --runtime io.containerd.hull.v2 \
                    --runtime-config-path "$dir/hull-runtime.toml" "$image" "$id" sleep 3600 >/dev/null ||
                    bench_die "ctr run (hull shim) failed"
            else
                shim_rss_ctr run -d --null-io --runc-binary "$RUNC" "$image" "$id" sleep 3600 >/dev/null ||
                    bench_die "ctr run (runc shim) failed"
            fi
            tpid=$(shim_rss_ctr task ls | awk -v id="$id" '$1 == id && $3 == "RUNNING" { print $2 }')
            [[ -n $tpid ]] || bench_die "task $id is not RUNNING"
            # The shim is the parent of the task's init.
            if [[ $kind == hull ]]; then
                hull_pids+=("$(awk '{ print $4 }' "/proc/$tpid/stat")")
            else
                runc_pids+=("$(awk '{ print $4 }' "/proc/$tpid/stat")")
            fi
        done
    done
    # Idle: no request in flight for a moment.
    sleep 1

    local p hr=0 hp=0 rr=0 rp=0 rss pss linkage
    for p in "${hull_pids[@]}"; do
        read -r rss pss < <(shim_rss_mem "$p")
        hr=$((hr + rss)) hp=$((hp + pss))
    done
    for p in "${runc_pids[@]}"; do
        read -r rss pss < <(shim_rss_mem "$p")
        rr=$((rr + rss)) rp=$((rp + pss))
    done
    linkage=$(file -b "$shim" | grep -o 'static[-a-z]* linked\|dynamically linked' || echo unknown)
    bench_log "shim_rss: $n idle containers per shim; containerd-shim-hull-v2 is $linkage"
    add_result shim_rss "RSS per idle shim" KiB "$((hr / n))" "$((rr / n))"
    add_result shim_rss "PSS per idle shim" KiB "$((hp / n))" "$((rp / n))"
    shim_rss_stop
    trap bench_cleanup EXIT
}
