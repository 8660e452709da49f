# shellcheck shell=bash
# Section "bridge": `hull run --rm IMAGE true` on the default bridge and with
# `--network none`, side by side with Docker Engine's `docker run --rm`
# (Debian's docker.io, dockerd started privately). Median of BENCH_BR_N runs
# each, the four kinds interleaved so they see the same machine load
# (goal: hull <= 0.5x docker on the default bridge).
#
# Each daemon lives in a network namespace made here (hulld in one, dockerd
# in another), so hull0, docker0 and both daemons' iptables rules stay off
# the host and out of each other's way. Without dockerd the Docker rows are
# skipped with a message and hull's figures are still printed.
#
# Environment: BENCH_BR_N (default 20), BENCH_WARMUP (3), DOCKERD (default
# /usr/sbin/dockerd), DOCKER (the client, default: docker on PATH).

BR_DIR=""
BR_NS_HULL=""
BR_NS_DOCKER=""
BR_HULLD=""
BR_DOCKERD=""

br_hull() { "$HULL_BIN_DIR/hull" -H "$BR_DIR/h/hull.sock" "$@"; }
br_docker() { "$DOCKER" -H "unix://$BR_DIR/d/docker.sock" "$@"; }

# br_in NS CMD…: CMD in network namespace NS (mounts stay the host's, so
# the cgroup tree under /sys/fs/cgroup is there; `ip netns exec` would
# remount /sys).
br_in() {
    local ns=$1
    shift
    nsenter --net="/run/netns/$ns" "$@"
}

br_teardown() {
    [[ -n $BR_DIR ]] || return 0
    bench_daemons_teardown "$BR_DIR/h/hull.sock" "$BR_HULLD" "$BR_DIR/d/docker.sock" "$BR_DOCKERD" \
        "$BR_NS_HULL" "$BR_NS_DOCKER"
    bench_clean_dir "$BR_DIR"
    BR_HULLD="" BR_DOCKERD="" BR_NS_HULL="" BR_NS_DOCKER="" BR_DIR=""
}

# br_time OUT CMD…: run CMD (a program, not a function) once (output discarded), append its wall time
# in ms to OUT; fails with CMD's stderr when CMD fails.
br_time() {
    local out=$1 t0 t1
    shift
    t0=$(now_us)
    timeout -k 5 "${BENCH_TIMEOUT:-60}" "$@" </dev/null >/dev/null 2>"$BR_DIR/last.err" || {
        cat "$BR_DIR/last.err" >&2
        return 1
    }
    t1=$(now_us)
    us_to_ms $((t1 - t0)) >>"$out"
}

bench_bridge() {
    local n=${BENCH_BR_N:-20} warm=${BENCH_WARMUP:-3}
    DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
    DOCKER=${DOCKER:-$(command -v docker || true)}
    need_tool "$HULL_BIN_DIR/hulld"
    need_tool "$HULL_BIN_DIR/hull"
    need_tool umoci
    need_tool skopeo
    need_tool nsenter util-linux
    need_tool ip iproute2
    need_tool iptables
    local with_docker=1
    if [[ ! -x $DOCKERD || -z $DOCKER ]]; then
        with_docker=0
        bench_log "bridge: dockerd ($DOCKERD) or the docker client missing: Docker rows skipped (apt-get install docker.io)"
    fi
    trap 'br_teardown; bench_cleanup' EXIT

    BR_DIR=$BENCH_TMP/br
    mkdir -p "$BR_DIR/h" "$BR_DIR/d"
    bench_busybox_image "$BR_DIR/oci" latest
    skopeo copy --quiet "oci:$BR_DIR/oci:latest" "docker-archive:$BR_DIR/bb.tar:bench/busybox:latest" ||
        bench_die "skopeo copy to a docker archive failed"
    local ref=bench/busybox:latest

    BR_NS_HULL=hull-bench-br-$$
    bench_netns "$BR_NS_HULL"
    BR_HULLD=$(bench_hulld_in_ns "$BR_DIR/h" "$BR_NS_HULL")
    br_hull load -q -i "$BR_DIR/bb.tar" >/dev/null || bench_die "hull load failed"

    if ((with_docker)); then
        BR_NS_DOCKER=docker-bench-br-$$
        bench_netns "$BR_NS_DOCKER"
        BR_DOCKERD=$(bench_dockerd_in_ns "$BR_DIR/d" "$BR_NS_DOCKER" "hull-bench-$$")
        br_docker load -q -i "$BR_DIR/bb.tar" >/dev/null || bench_die "docker load failed (log: $BR_DIR/d/dockerd.log)"
    fi

    local hb=$BR_DIR/hull-bridge.ms hn=$BR_DIR/hull-none.ms db=$BR_DIR/docker-bridge.ms dn=$BR_DIR/docker-none.ms
    : >"$hb"
    : >"$hn"
    : >"$db"
    : >"$dn"
    local i scratch=$BR_DIR/warm.ms
    bench_log "bridge: run --rm true, $n runs each (+$warm warm-up)"
    for ((i = -warm; i < n; i++)); do
        local o1=$hb o2=$hn o3=$db o4=$dn
        ((i >= 0)) || o1=$scratch o2=$scratch o3=$scratch o4=$scratch
        br_time "$o1" "$HULL_BIN_DIR/hull" -H "$BR_DIR/h/hull.sock" run --rm "$ref" true ||
            bench_die "hull run --rm failed (log: $BR_DIR/h/hulld.log)"
        br_time "$o2" "$HULL_BIN_DIR/hull" -H "$BR_DIR/h/hull.sock" run --rm --network none "$ref" true ||
            bench_die "hull run --rm --network none failed (log: $BR_DIR/h/hulld.log)"
        if ((with_docker)); then
            br_time "$o3" "$DOCKER" -H "unix://$BR_DIR/d/docker.sock" run --rm "$ref" true ||
                bench_die "docker run --rm failed (log: $BR_DIR/d/dockerd.log)"
            br_time "$o4" "$DOCKER" -H "unix://$BR_DIR/d/docker.sock" run --rm --network none "$ref" true ||
                bench_die "docker run --rm --network none failed (log: $BR_DIR/d/dockerd.log)"
        fi
    done
    [[ -z $(br_hull ps -a -q) ]] || bench_die "hull run --rm left containers behind"
    local leftover
    leftover=$(br_in "$BR_NS_HULL" ip -o link show type veth)
    [[ -z $leftover ]] || bench_die "hull run --rm left veth devices behind: $leftover"

    local mhb mhn
    mhb=$(median "$hb")
    mhn=$(median "$hn")
    if ((with_docker)); then
        local mdb mdn
        mdb=$(median "$db")
        mdn=$(median "$dn")
        printf 'bridge: run --rm true on the default bridge: hull median %s ms (%s), docker %s ms (%s); hull/docker %s (goal <= 0.5)\n' \
            "$mhb" "$(minmax "$hb")" "$mdb" "$(minmax "$db")" "$(ratio "$mhb" "$mdb")"
        printf 'bridge: run --rm --network none true: hull median %s ms (%s), docker %s ms (%s); hull/docker %s\n' \
            "$mhn" "$(minmax "$hn")" "$mdn" "$(minmax "$dn")" "$(ratio "$mhn" "$mdn")"
        add_result bridge "run --rm true, bridge (goal)" ms "$mhb" "$mdb"
        add_result bridge "run --rm true, --network none" ms "$mhn" "$mdn"
    else
        printf 'bridge: run --rm true: hull median %s ms (%s) on the default bridge, %s ms (%s) with --network none (no Docker to compare with)\n' \
            "$mhb" "$(minmax "$hb")" "$mhn" "$(minmax "$hn")"
    fi
    br_teardown
    trap bench_cleanup EXIT
}
