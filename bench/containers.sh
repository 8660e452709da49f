# shellcheck shell=bash
# Section "containers": hulld + hull beside Debian's containerd + ctr (runc
# shim) in one run, on the same one-layer busybox image pulled by both from
# a docker-registry on a loopback port.
#   (a) `hull run --rm IMAGE true` vs `ctr run --rm IMAGE ID true`: median
#       of BENCH_CT_N runs each, interleaved (goal: hull <= 0.5x ctr).
#   (b) BENCH_CT_MANY containers started `run -d … sleep 600`, BENCH_CT_PAR
#       at a time (xargs -P): wall time, then the memory of the daemon and
#       its per-container processes (RSS and PSS): hulld + every
#       containerd-shim-hull-v2 (+ every `hull-log-driver`, hull's json-file
#       log writer, counted apart) vs containerd + every
#       containerd-shim-runc-v2 (ctr -d --null-io: no log process).
#       Then hulld's CPU time over BENCH_CT_IDLE_S seconds (default 10) of
#       idleness with those containers running, in % of one core (goal < 1).
#   (c) `hull ps -a` with BENCH_CT_PS containers, BENCH_CT_MANY of them
#       running (the rest `hull create`d): median of BENCH_CT_PS_RUNS runs
#       (goal < 100 ms, shown in the reference column).
#
# Environment: BENCH_CT_N (default 20), BENCH_CT_MANY (200), BENCH_CT_PS
# (1000), BENCH_CT_PAR (16), BENCH_CT_PS_RUNS (20), BENCH_CT_IDLE_S (10),
# BENCH_WARMUP (3).

CT_DIR=""
CT_HULLD_PID=""
CT_CTD_PID=""

ct_hull() { "$HULL_BIN_DIR/hull" -H "$CT_DIR/h/hull.sock" "$@"; }
ct_ctr() { ctr -a "$CT_DIR/c/containerd.sock" -n bench "$@"; }

# ct_teardown: remove every hull container through hulld (ids from its own
# list: this hulld is private to the run), then containerd's tasks and
# containers, stop both daemons; after a failure, kill the shims and log
# drivers left (their command line names this run's directory) and
# force-delete the containers they held, by id.
ct_teardown() {
    [[ -n $CT_DIR ]] || return 0
    local hull=$HULL_BIN_DIR/hull sock=$CT_DIR/h/hull.sock pid id rt
    if [[ -n $CT_HULLD_PID ]] && kill -0 "$CT_HULLD_PID" 2>/dev/null; then
        ct_hull ps -a -q --no-trunc 2>/dev/null |
            xargs -r -n 50 -P 4 "$hull" -H "$sock" rm -f >/dev/null 2>&1 || true
        bench_stop_pid "$CT_HULLD_PID"
    fi
    bench_containerd_teardown "$CT_DIR/c/containerd.sock" bench "$CT_CTD_PID"
    for pid in $(bench_procs "$CT_DIR/h/" "*/containerd-shim-hull-v2 *" "*/hull-log-driver *"); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    for rt in "$CT_DIR"/h/state/runtime/*; do
        [[ -d $rt ]] || continue
        for id in $(ls "$rt"); do
            "$HULLC" --root "$rt" delete --force "$id" >/dev/null 2>&1 || true
        done
    done
    CT_HULLD_PID=""
    CT_CTD_PID=""
    CT_DIR=""
}

# ct_mem PIDS…: "RSS PSS" in KiB summed over the processes (PSS falls back
# to RSS for a process whose smaps_rollup cannot be read).
ct_mem() {
    local p r s rss=0 pss=0
    for p in "$@"; do
        r=$(bench_rss "$p") || continue
        s=$(bench_pss "$p")
        rss=$((rss + r)) pss=$((pss + ${s:-$r}))
    done
    printf '%s %s\n' "$rss" "$pss"
}

kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f\n", k / 1024 }'; }

# ct_time_many OUT CMD…: run CMD once per index 1..$many, $par at a time,
# with {} replaced by the index; print the wall time in ms. Fails when any
# run fails.
ct_time_many() {
    local t0 t1
    t0=$(now_us)
    seq 1 "$many" | xargs -P "$par" -I{} "$@" >/dev/null || return 1
    t1=$(now_us)
    us_to_ms $((t1 - t0))
}

bench_containers() {
    local n=${BENCH_CT_N:-20} many=${BENCH_CT_MANY:-200} total=${BENCH_CT_PS:-1000}
    local par=${BENCH_CT_PAR:-16} psn=${BENCH_CT_PS_RUNS:-20} warm=${BENCH_WARMUP:-3}
    need_tool "$HULL_BIN_DIR/hulld"
    need_tool "$HULL_BIN_DIR/hull"
    need_tool "$HULL_BIN_DIR/containerd-shim-hull-v2"
    need_tool docker-registry
    need_tool skopeo
    need_tool umoci
    need_tool containerd
    need_tool ctr containerd
    need_tool containerd-shim-runc-v2 containerd
    need_tool xargs findutils
    ((total >= many)) || bench_die "BENCH_CT_PS ($total) must be >= BENCH_CT_MANY ($many)"
    trap 'ct_teardown; bench_cleanup' EXIT

    CT_DIR=$BENCH_TMP/ct
    mkdir -p "$CT_DIR"
    bench_busybox_image "$CT_DIR/oci" latest
    bench_start_registry "$CT_DIR/reg"
    local ref=127.0.0.1:$BENCH_REG_PORT/bench/busybox:latest
    skopeo copy --quiet --dest-tls-verify=false "oci:$CT_DIR/oci:latest" "docker://$ref" ||
        bench_die "skopeo copy to the registry failed"

    # hulld finds containerd-shim-hull-v2 and hullc next to itself.
    # Containers get a network namespace with only lo, as `ctr run` gives
    # them (no CNI): `--network none` for every hull container, and the
    # host's network is left alone (no hull0 bridge, no iptables rules).
    CT_HULLD_PID=$(bench_start_hulld "$CT_DIR/h" 'default_network = "none"')
    CT_CTD_PID=$(bench_start_containerd "$CT_DIR/c")
    ct_hull pull -q "$ref" >/dev/null || bench_die "hull pull failed (log: $CT_DIR/h/hulld.log)"
    ct_ctr images pull --plain-http "$ref" >/dev/null || bench_die "ctr images pull failed"

    # (a) run --rm true, interleaved so both see the same machine load.
    local th=$CT_DIR/run-hull.ms tc=$CT_DIR/run-ctr.ms i t0 t1
    : >"$th"
    : >"$tc"
    for ((i = -warm; i < n; i++)); do
        t0=$(now_us)
        timeout "${BENCH_TIMEOUT:-60}" "$HULL_BIN_DIR/hull" -H "$CT_DIR/h/hull.sock" run --rm "$ref" true ||
            bench_die "hull run --rm $ref true failed (log: $CT_DIR/h/hulld.log)"
        t1=$(now_us)
        ((i < 0)) || us_to_ms $((t1 - t0)) >>"$th"
        t0=$(now_us)
        timeout "${BENCH_TIMEOUT:-60}" ctr -a "$CT_DIR/c/containerd.sock" -n bench run --rm \
            --runc-binary "$RUNC" "$ref" "ct-run-$((i + warm))" true ||
            bench_die "ctr run --rm $ref true failed (log: $CT_DIR/c/containerd.log)"
        t1=$(now_us)
        ((i < 0)) || us_to_ms $((t1 - t0)) >>"$tc"
    done
    local mh mc
    mh=$(median "$th")
    mc=$(median "$tc")
    printf 'containers: run --rm true, %s runs each: hull median %s ms (%s), ctr median %s ms (%s); hull/ctr %s (goal <= 0.5)\n' \
        "$n" "$mh" "$(minmax "$th")" "$mc" "$(minmax "$tc")" "$(ratio "$mh" "$mc")"
    add_result containers "run --rm true" ms "$mh" "$mc"
    [[ -z $(ct_hull ps -a -q) ]] || bench_die "hull run --rm left containers behind"

    # (b) many detached containers: containerd first (then torn down), hull
    # second (its containers stay for (c)).
    local wc wh
    bench_log "containers: $many x ctr run -d, $par at a time"
    wc=$(ct_time_many ctr -a "$CT_DIR/c/containerd.sock" -n bench run -d --null-io \
        --runc-binary "$RUNC" "$ref" "ct-many-{}" sleep 600) || bench_die "ctr run -d failed"
    local up
    up=$(ct_ctr task ls | awk '$3 == "RUNNING"' | wc -l)
    ((up == many)) || bench_die "$up of $many ctr tasks are RUNNING"
    sleep 1 # idle: no request in flight
    local -a shims
    mapfile -t shims < <(bench_procs "$CT_DIR/c/containerd.sock" "*containerd-shim-runc-v2 *")
    ((${#shims[@]} == many)) || bench_die "found ${#shims[@]} containerd-shim-runc-v2 for $many tasks"
    local c_rss c_pss d_rss d_pss
    read -r d_rss d_pss < <(ct_mem "$CT_CTD_PID")
    read -r c_rss c_pss < <(ct_mem "${shims[@]}")
    local ctd_rss=$((d_rss + c_rss)) ctd_pss=$((d_pss + c_pss))
    printf 'containers: %s ctr run -d in %s ms; containerd RSS %s KiB PSS %s KiB, %s runc shims RSS %s KiB PSS %s KiB\n' \
        "$many" "$wc" "$d_rss" "$d_pss" "${#shims[@]}" "$c_rss" "$c_pss"
    bench_containerd_teardown "$CT_DIR/c/containerd.sock" bench "$CT_CTD_PID"
    CT_CTD_PID=""

    bench_log "containers: $many x hull run -d, $par at a time"
    wh=$(ct_time_many "$HULL_BIN_DIR/hull" -H "$CT_DIR/h/hull.sock" run -d --name "ct-many-{}" \
        "$ref" sleep 600) || bench_die "hull run -d failed (log: $CT_DIR/h/hulld.log)"
    up=$(ct_hull ps -q | wc -l)
    ((up == many)) || bench_die "$up of $many hull containers are running"
    sleep 1
    mapfile -t shims < <(bench_procs "$CT_DIR/h/" "*/containerd-shim-hull-v2 *")
    ((${#shims[@]} == many)) || bench_die "found ${#shims[@]} containerd-shim-hull-v2 for $many containers"
    local -a logs
    mapfile -t logs < <(bench_procs "$CT_DIR/h/" "*/hull-log-driver *")
    local h_rss h_pss l_rss l_pss
    read -r d_rss d_pss < <(ct_mem "$CT_HULLD_PID")
    read -r h_rss h_pss < <(ct_mem "${shims[@]}")
    read -r l_rss l_pss < <(ct_mem "${logs[@]}")
    printf 'containers: %s hull run -d in %s ms; hulld RSS %s KiB PSS %s KiB, %s hull shims RSS %s KiB PSS %s KiB, %s log drivers RSS %s KiB PSS %s KiB\n' \
        "$many" "$wh" "$d_rss" "$d_pss" "${#shims[@]}" "$h_rss" "$h_pss" "${#logs[@]}" "$l_rss" "$l_pss"
    add_result containers "${many}x run -d, ${par} at once" ms "$wh" "$wc"
    add_result containers "$many up: daemon+shims RSS" MiB "$(kib_to_mib $((d_rss + h_rss)))" "$(kib_to_mib "$ctd_rss")"
    add_result containers "$many up: daemon+shims PSS" MiB "$(kib_to_mib $((d_pss + h_pss)))" "$(kib_to_mib "$ctd_pss")"
    add_result containers "$many up: +log drivers PSS" MiB "$(kib_to_mib $((d_pss + h_pss + l_pss)))" "$(kib_to_mib "$ctd_pss")"

    # Idle: no request in flight, every task waited on by hulld.
    local idle_s=${BENCH_CT_IDLE_S:-10} cpu
    bench_log "containers: hulld's CPU over ${idle_s} s of idleness with $many running"
    cpu=$(bench_idle_cpu "$CT_HULLD_PID" "$idle_s")
    printf 'containers: idle hulld with %s running containers: %s %% of a core over %s s (goal < 1 %%)\n' \
        "$many" "$cpu" "$idle_s"
    add_result containers "$many up: idle hulld CPU (goal)" "%core" "$cpu" 1

    # (c) ps -a with $total containers, $many of them running.
    local more=$((total - many))
    if ((more > 0)); then
        bench_log "containers: $more x hull create, $par at a time"
        seq 1 "$more" | xargs -P "$par" -I{} "$HULL_BIN_DIR/hull" -H "$CT_DIR/h/hull.sock" \
            create --name "ct-ps-{}" "$ref" sleep 600 >/dev/null || bench_die "hull create failed"
    fi
    local all
    all=$(ct_hull ps -a -q | wc -l)
    ((all == total)) || bench_die "hull ps -a lists $all containers, expected $total"
    up=$(ct_hull ps -q | wc -l)
    ((up == many)) || bench_die "$up of $many hull containers are running"
    local tp=$CT_DIR/ps.ms lines
    : >"$tp"
    for ((i = 0; i < psn; i++)); do
        t0=$(now_us)
        lines=$(ct_hull ps -a | wc -l)
        t1=$(now_us)
        ((lines == total + 1)) || bench_die "hull ps -a printed $lines lines, expected $((total + 1))"
        us_to_ms $((t1 - t0)) >>"$tp"
    done
    local mp
    mp=$(median "$tp")
    printf 'containers: hull ps -a with %s containers (%s running), %s runs: median %s ms (%s) (goal < 100 ms)\n' \
        "$total" "$many" "$psn" "$mp" "$(minmax "$tp")"
    add_result containers "ps -a: $total, $many up (goal)" ms "$mp" 100

    local t_rm
    t0=$(now_us)
    ct_hull ps -a -q --no-trunc | xargs -r -n 50 -P 4 "$HULL_BIN_DIR/hull" -H "$CT_DIR/h/hull.sock" rm -f >/dev/null ||
        bench_die "hull rm -f failed"
    t1=$(now_us)
    t_rm=$(us_to_ms $((t1 - t0)))
    all=$(ct_hull ps -a -q | wc -l)
    ((all == 0)) || bench_die "$all containers left after hull rm -f"
    bench_log "containers: removed $total containers in $t_rm ms"
    ct_teardown
    trap bench_cleanup EXIT
}
