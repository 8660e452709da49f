# shellcheck shell=bash
# Section "cri": hulld's CRI endpoint beside containerd 1.6's CRI plugin
# (Debian's containerd, started privately with its CRI plugin on), driven
# over the CRI socket by cri-call (the workspace's small CRI client; crictl
# is not packaged in Debian). Measured: PullImage of the same multi-layer
# image from a docker-registry on a loopback port, each run from a cold store
# (a fresh daemon with an empty root), and each daemon's resident memory
# after its pulls. Then, on one warm daemon each, a pod (host network) with
# one container logging to a file as kubelet asks: RunPodSandbox +
# CreateContainer + StartContainer, one pod at a time and BENCH_CRI_PODS pods at once (containerd's pause image is the
# busybox image sleeping; hulld needs none). Skipped while hulld serves no
# pods.
#
# Environment: BENCH_CRI_N (cold pulls per runtime, default 5),
# BENCH_CRI_ONE_N (one-pod starts per runtime, default 11), BENCH_CRI_LAYERS
# (default 3), BENCH_CRI_LAYER_MIB (default 16), BENCH_CRI_PODS (default 50).

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
  # Root here lacks CAP_SYS_RESOURCE: the pause's -998 would fail (EPERM).
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  sandbox_image = "$reg/bench/pause:v1"
  [plugins."io.containerd.grpc.v1.cri".cni]
    conf_dir = "$d/cni"
    bin_dir = "/usr/lib/cni"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."$reg"]
    endpoint = ["http://$reg"]
TOML
}

# cri_start hulld|containerd DIR REGISTRY: a fresh daemon with its store
# under DIR; sets CRI_PID and CRI_SOCK (its CRI socket). Not to be run in
# a subshell (the pid goes to BENCH_PIDS).
CRI_PID=""
CRI_SOCK=""
cri_start() {
    local kind=$1 d=$2 reg=$3
    if [[ $kind == hulld ]]; then
        CRI_PID=$(bench_start_hulld "$d")
        CRI_SOCK=$d/cri.sock
    else
        CRI_PID=$(bench_start_containerd "$d" "$(cri_plugin_toml "$d" "$reg")")
        CRI_SOCK=$d/containerd.sock
    fi
    BENCH_PIDS+=("$CRI_PID")
}

# cri_cold_pull hulld|containerd DIR REF REGISTRY TIMES: one PullImage of
# REF from a fresh daemon with an empty store under DIR, over its CRI
# socket; the time goes to TIMES, the daemon's RSS after it to CRI_RSS.
CRI_RSS=""
cri_cold_pull() {
    local kind=$1 d=$2 ref=$3 reg=$4 times=$5 pid sock
    cri_start "$kind" "$d" "$reg"
    pid=$CRI_PID
    sock=$CRI_SOCK
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

    # Pods: the busybox image (and, for containerd, its pause image).
    umoci config --image "$dir/oci:l0" --tag pause --clear=config.cmd \
        --config.cmd /bin/sleep --config.cmd 1000000 >/dev/null
    skopeo copy --quiet --dest-tls-verify=false "oci:$dir/oci:l0" "docker://$reg/bench/busybox:v1"
    skopeo copy --quiet --dest-tls-verify=false "oci:$dir/oci:pause" "docker://$reg/bench/pause:v1"
    if ! cri_pods hulld "$dir/ph" "$reg" || ! cri_pods containerd "$dir/pc" "$reg"; then
        bench_stop_all
        return 0
    fi
    local ph1 pc1
    ph1=$(median "$dir/ph/one.ms")
    pc1=$(median "$dir/pc/one.ms")
    printf 'cri: one pod (RunPodSandbox+CreateContainer+StartContainer), %s runs: hulld median %s ms (%s), containerd %s ms (%s)\n' \
        "${BENCH_CRI_ONE_N:-11}" "$ph1" "$(minmax "$dir/ph/one.ms")" "$pc1" "$(minmax "$dir/pc/one.ms")"
    printf 'cri: %s pods at once: hulld %s ms, containerd %s ms\n' "${BENCH_CRI_PODS:-50}" \
        "$(cat "$dir/ph/many.ms")" "$(cat "$dir/pc/many.ms")"
    add_result cri "one pod+container start" ms "$ph1" "$pc1"
    add_result cri "${BENCH_CRI_PODS:-50} pods at once" ms "$(cat "$dir/ph/many.ms")" "$(cat "$dir/pc/many.ms")"
    cri_print_memory "$dir/ph" "$dir/pc"
    bench_stop_all
}

# cri_pods hulld|containerd DIR REGISTRY: on a fresh daemon under DIR,
# pull the pod images, then time one pod at a time (DIR/one.ms, one line
# per run) and BENCH_CRI_PODS at once (DIR/many.ms); every pod is removed
# after. Fails (status 1), logging why, when the first pod fails (a hulld
# serving no pods yet).
cri_pods() {
    local kind=$1 d=$2 reg=$3 n=${BENCH_CRI_ONE_N:-11} many=${BENCH_CRI_PODS:-50} pid sock i t0 t1
    local call=$HULL_BIN_DIR/cri-call img=$reg/bench/busybox:v1
    cri_start "$kind" "$d" "$reg"
    pid=$CRI_PID
    sock=$CRI_SOCK
    if [[ $kind == containerd ]]; then
        "$call" "$sock" pull "$reg/bench/pause:v1" >/dev/null || bench_die "containerd: pause image pull failed"
    fi
    "$call" "$sock" pull "$img" >/dev/null || bench_die "$kind: pull of $img failed"
    if ! "$call" "$sock" pod probe "$img" "$d/logs" >/dev/null 2>"$d/probe.err"; then
        # Skipped, not fatal: the other sections' summary still prints.
        if grep -q 'not implemented' "$d/probe.err"; then
            bench_log "cri: $kind serves no pods yet; pod benchmarks skipped"
        else
            bench_log "cri: $kind: a pod failed ($(cat "$d/probe.err")); pod benchmarks skipped"
        fi
        # What the failed pod left (its sandbox's shim outlives the daemon).
        "$call" "$sock" rmp-all >/dev/null 2>&1 || true
        bench_stop_pid "$pid"
        if [[ $kind == hulld ]]; then cri_hulld_leftovers "$d"; fi
        return 1
    fi
    "$call" "$sock" rmp-all || bench_die "$kind: pod removal failed"
    : >"$d/one.ms"
    for ((i = 0; i < n; i++)); do
        bench_timed "$d/one.ms" "$call" "$sock" pod "one$i" "$img" "$d/logs" || bench_die "$kind: pod one$i failed"
        "$call" "$sock" rmp-all || bench_die "$kind: pod removal failed"
    done
    local -a pids=()
    t0=$(now_us)
    for ((i = 0; i < many; i++)); do
        "$call" "$sock" pod "many$i" "$img" "$d/logs" >/dev/null &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || bench_die "$kind: one of $many pods failed"; done
    t1=$(now_us)
    us_to_ms $((t1 - t0)) >"$d/many.ms"
    "$call" "$sock" rmp-all || bench_die "$kind: pod removal failed"
    cri_pod_memory "$kind" "$d" "$pid" "$sock" "$img"
    "$call" "$sock" rmp-all || bench_die "$kind: pod removal failed"
    bench_stop_pid "$pid"
    if [[ $kind == hulld ]]; then cri_hulld_leftovers "$d"; fi
}

# cri_rss PIDS…: their VmRSS summed, in KiB (gone ones count 0).
# cri_pss PIDS…: their Pss (smaps_rollup) summed, the same way.
cri_rss() {
    local p r sum=0
    for p in "$@"; do
        r=$(bench_rss "$p" 2>/dev/null) || continue
        sum=$((sum + ${r:-0}))
    done
    echo "$sum"
}
cri_pss() {
    local p r sum=0
    for p in "$@"; do
        r=$(bench_pss "$p" 2>/dev/null) || continue
        sum=$((sum + ${r:-0}))
    done
    echo "$sum"
}

# cri_children PID PATTERN: the children of PID whose command line matches
# PATTERN (a glob).
cri_children() {
    local c cmd
    for c in $(cat "/proc/$1/task/"*/children 2>/dev/null); do
        cmd=$({ tr '\0' ' ' <"/proc/$c/cmdline"; } 2>/dev/null || true)
        # shellcheck disable=SC2053
        if [[ $cmd == $2 ]]; then echo "$c"; fi
    done
}

# cri_pod_memory hulld|containerd DIR PID SOCK IMAGE: BENCH_CRI_MEM_PODS
# pods (default 10) of one container each, then the memory they cost the
# runtime, written to DIR/mem, one line in Pss, one in RSS: "PER_POD
# DAEMON_GROWTH SHIMS SHIM_MEM PAUSE_MEM LOG_MEM" (KiB). Per pod: the
# daemon's growth since before the pods + every shim + every pause (+
# hull's log drivers), over the pods; the containers' own process (sleep)
# is the workload and not counted. RSS counts the pages N processes share
# (one binary's text, libc) N times; Pss splits them among the sharers:
# the memory the machine really spends.
cri_pod_memory() {
    local kind=$1 d=$2 pid=$3 sock=$4 img=$5 n=${BENCH_CRI_MEM_PODS:-10} i base now base_pss now_pss
    local call=$HULL_BIN_DIR/cri-call
    local -a shims=() pauses=() logs=()
    base=$(bench_rss "$pid")
    base_pss=$(bench_pss "$pid")
    for ((i = 0; i < n; i++)); do
        "$call" "$sock" pod "mem$i" "$img" "$d/logs" >/dev/null || bench_die "$kind: pod mem$i failed"
    done
    sleep 1
    now=$(bench_rss "$pid")
    now_pss=$(bench_pss "$pid")
    if [[ $kind == hulld ]]; then
        mapfile -t shims < <(bench_procs "$d/" "*/containerd-shim-hull-v2 *")
        mapfile -t logs < <(bench_procs "$d/" "*/hull-log-driver *")
        for i in "${shims[@]}"; do
            mapfile -t -O "${#pauses[@]}" pauses < <(cri_children "$i" "/pause*")
        done
    else
        mapfile -t shims < <(bench_procs "$d/containerd.sock" "*containerd-shim-runc-v2 *")
        for i in "${shims[@]}"; do
            mapfile -t -O "${#pauses[@]}" pauses < <(cri_children "$i" "*sleep 1000000*")
        done
    fi
    ((${#pauses[@]} == n)) || bench_log "cri: $kind: found ${#pauses[@]} pause processes for $n pods"
    local s_rss p_rss l_rss growth=$((now - base)) s_pss p_pss l_pss g_pss=$((${now_pss:-0} - ${base_pss:-0}))
    ((growth > 0)) || growth=0
    ((g_pss > 0)) || g_pss=0
    s_rss=$(cri_rss "${shims[@]}")
    p_rss=$(cri_rss "${pauses[@]}")
    l_rss=$(cri_rss "${logs[@]}")
    s_pss=$(cri_pss "${shims[@]}")
    p_pss=$(cri_pss "${pauses[@]}")
    l_pss=$(cri_pss "${logs[@]}")
    {
        echo "$(((g_pss + s_pss + p_pss + l_pss) / n)) $g_pss ${#shims[@]} $s_pss $p_pss $l_pss"
        echo "$(((growth + s_rss + p_rss + l_rss) / n)) $growth ${#shims[@]} $s_rss $p_rss $l_rss"
    } >"$d/mem"
}

# cri_print_memory DIR_HULLD DIR_CONTAINERD: the per-pod memory figures,
# in Pss (the ratio's) and in RSS.
cri_print_memory() {
    local hp hg hs hsr hpr hl cp cg cs csr cpr cl n=${BENCH_CRI_MEM_PODS:-10} line=0 what
    while ((line < 2)); do
        read -r hp hg hs hsr hpr hl < <(sed -n "$((line + 1))p" "$1/mem")
        read -r cp cg cs csr cpr cl < <(sed -n "$((line + 1))p" "$2/mem")
        if ((line == 0)); then what=Pss; else what=RSS; fi
        printf 'cri: memory per pod in %s (%s pods, daemon growth + shims + pauses + log drivers): hulld %s KiB (daemon +%s, %s shims %s, pauses %s, log drivers %s), containerd %s KiB (daemon +%s, %s shims %s, pauses %s); %s ratio %s%s\n' \
            "$what" "$n" "$hp" "$hg" "$hs" "$hsr" "$hpr" "$hl" "$cp" "$cg" "$cs" "$csr" "$cpr" "$what" "$(ratio "$hp" "$cp")" \
            "$(if ((line == 0)); then echo ' (the goal'"'"'s ratio: <= 0.3)'; else echo ' (shared pages counted once per process)'; fi)"
        add_result cri "memory per pod, $what" KiB "$hp" "$cp"
        line=$((line + 1))
    done
}

# cri_hulld_leftovers DIR: once the hulld under DIR stopped, force-delete
# the containers its runtime root still holds (by id), then kill the shims
# and log drivers whose command line names DIR (unique to this run).
cri_hulld_leftovers() {
    local d=$1 rt id pid cmd
    for rt in "$d"/state/runtime/*; do
        [[ -d $rt ]] || continue
        for id in $(ls "$rt"); do
            "$HULLC" --root "$rt" delete --force "$id" >/dev/null 2>&1 || true
        done
    done
    for pid in $(grep -lsF -- "$d/" /proc/[0-9]*/cmdline | cut -d/ -f3); do
        cmd=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null || true)
        if [[ $cmd == */containerd-shim-hull-v2\ * || $cmd == */hull-log-driver\ * ]]; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}
