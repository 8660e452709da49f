# shellcheck shell=bash
# Section "cri": hulld's CRI endpoint beside containerd 1.6's CRI plugin
# (Debian's containerd, started privately with its CRI plugin on), driven
# over the CRI socket by cri-call (the workspace's small CRI client; crictl
# is not packaged in Debian). Measured: PullImage of the same multi-layer
# image from a docker-registry on a loopback port, each run from a cold store
# (a fresh daemon with an empty root), and each daemon's resident memory
# after its pulls.
#
# Environment: BENCH_CRI_N (runs per runtime, default 5), BENCH_CRI_LAYERS
# (default 3), BENCH_CRI_LAYER_MIB (default 16).

# cri_plugin_toml DIR REGISTRY: containerd's CRI plugin config: plain HTTP
# to REGISTRY, CNI confs under DIR, nothing on the host's paths.
cri_plugin_toml() {
    local d=$1 reg=$2
    mkdir -p "$d/cni"
    cat <<TOML
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    conf_dir = "$d/cni"
    bin_dir = "/usr/lib/cni"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."$reg"]
    endpoint = ["http://$reg"]
TOML
}

# cri_cold_pull hulld|containerd DIR REF REGISTRY TIMES: one PullImage of
# REF from a fresh daemon with an empty store under DIR, over its CRI
# socket; the time goes to TIMES, the daemon's RSS after it to CRI_RSS.
CRI_RSS=""
cri_cold_pull() {
    local kind=$1 d=$2 ref=$3 reg=$4 times=$5 pid sock
    if [[ $kind == hulld ]]; then
        pid=$(bench_start_hulld "$d")
        sock=$d/cri.sock
    else
        pid=$(bench_start_containerd "$d" "$(cri_plugin_toml "$d" "$reg")")
        sock=$d/containerd.sock
    fi
    BENCH_PIDS+=("$pid")
    bench_timed "$times" "$HULL_BIN_DIR/cri-call" "$sock" pull "$ref" ||
        bench_die "CRI pull from $kind failed (its log is in $d)"
    CRI_RSS=$(bench_rss "$pid")
    bench_stop_pid "$pid"
    bench_clean_dir "$d"
}

bench_cri() {
    local n=${BENCH_CRI_N:-5} layers=${BENCH_CRI_LAYERS:-3} mib=${BENCH_CRI_LAYER_MIB:-16}
    need_tool "$HULL_BIN_DIR/hulld"
    need_tool "$HULL_BIN_DIR/cri-call"
    need_tool docker-registry
    need_tool skopeo
    need_tool umoci
    need_tool containerd

    local dir=$BENCH_TMP/cri
    mkdir -p "$dir"
    bench_log "cri: building a busybox + ${layers}x${mib} MiB image"
    bench_busybox_image "$dir/oci" l0
    local i prev=l0
    for ((i = 1; i <= layers; i++)); do
        umoci unpack --image "$dir/oci:$prev" "$dir/b" >/dev/null 2>&1
        head -c "$((mib << 20))" /dev/urandom >"$dir/b/rootfs/data$i.bin"
        umoci repack --image "$dir/oci:l$i" "$dir/b" >/dev/null
        rm -rf --one-file-system "$dir/b"
        prev=l$i
    done
    bench_start_registry "$dir/reg"
    local reg=127.0.0.1:$BENCH_REG_PORT
    local ref=$reg/bench/cri:v1
    skopeo copy --quiet --dest-tls-verify=false "oci:$dir/oci:$prev" "docker://$ref" ||
        bench_die "skopeo copy to the registry failed"

    local th=$dir/hull.ms tc=$dir/ctr.ms run rh="" rc=""
    : >"$th"
    : >"$tc"
    for ((run = 0; run < n; run++)); do
        cri_cold_pull hulld "$dir/h$run" "$ref" "$reg" "$th"
        rh=$CRI_RSS
        cri_cold_pull containerd "$dir/c$run" "$ref" "$reg" "$tc"
        rc=$CRI_RSS
    done
    local mh mc
    mh=$(median "$th")
    mc=$(median "$tc")
    printf 'cri: PullImage of busybox + %sx%s MiB, %s runs each: hulld median %s ms (%s), containerd CRI median %s ms (%s); hulld is %sx faster\n' \
        "$layers" "$mib" "$n" "$mh" "$(minmax "$th")" "$mc" "$(minmax "$tc")" "$(ratio "$mc" "$mh")"
    printf 'cri: RSS after one pull: hulld %s KiB, containerd %s KiB\n' "$rh" "$rc"
    add_result cri "PullImage cold ${layers}x${mib}MiB" ms "$mh" "$mc"
    add_result cri "daemon RSS after PullImage" KiB "$rh" "$rc"
    bench_stop_all
}
