# shellcheck shell=bash
# Section "compose": `hull compose up -d` of a 10-service project until all
# its containers run, and `hull compose down`, side by side with
# docker-compose (Debian's 1.29) against Docker Engine (Debian's docker.io,
# dockerd started privately) on the same file. Median of BENCH_COMPOSE_N
# runs each, the two tools interleaved (goal: hull <= 0.5x docker-compose).
#
# Each daemon lives in a network namespace made here (hulld in one, dockerd
# in another), so the project bridges and both daemons' iptables rules stay
# off the host. Without dockerd or docker-compose the Docker rows are
# skipped with a message and hull's figures are still printed.
#
# Environment: BENCH_COMPOSE_N (default 5), BENCH_WARMUP (3), DOCKERD
# (default /usr/sbin/dockerd), DOCKER (default: docker on PATH),
# DOCKER_COMPOSE (default: docker-compose on PATH).

CP_DIR=""
CP_NS_HULL=""
CP_NS_DOCKER=""
CP_HULLD=""
CP_DOCKERD=""

cp_hull() { "$HULL_BIN_DIR/hull" -H "$CP_DIR/h/hull.sock" "$@"; }
cp_docker() { "$DOCKER" -H "unix://$CP_DIR/d/docker.sock" "$@"; }

cp_teardown() {
    [[ -n $CP_DIR ]] || return 0
    bench_daemons_teardown "$CP_DIR/h/hull.sock" "$CP_HULLD" "$CP_DIR/d/docker.sock" "$CP_DOCKERD" \
        "$CP_NS_HULL" "$CP_NS_DOCKER"
    bench_clean_dir "$CP_DIR"
    CP_HULLD="" CP_DOCKERD="" CP_NS_HULL="" CP_NS_DOCKER="" CP_DIR=""
}

# cp_time OUT CMD…: run CMD (a program) in the project directory once,
# append its wall time in ms to OUT; fails with CMD's stderr when CMD fails.
cp_time() {
    local out=$1 t0 t1
    shift
    t0=$(now_us)
    (cd "$CP_DIR/project" && timeout -k 5 "${BENCH_TIMEOUT:-120}" "$@" </dev/null >/dev/null 2>"$CP_DIR/last.err") || {
        cat "$CP_DIR/last.err" >&2
        return 1
    }
    t1=$(now_us)
    us_to_ms $((t1 - t0)) >>"$out"
}

# cp_running TOOL: how many containers of the project run.
cp_running() {
    case $1 in
    hull) cp_hull ps -q | wc -l ;;
    docker) cp_docker ps -q | wc -l ;;
    esac
}

bench_compose() {
    local n=${BENCH_COMPOSE_N:-5} warm=${BENCH_WARMUP:-3}
    DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
    DOCKER=${DOCKER:-$(command -v docker || true)}
    DOCKER_COMPOSE=${DOCKER_COMPOSE:-$(command -v docker-compose || true)}
    need_tool "$HULL_BIN_DIR/hulld"
    need_tool "$HULL_BIN_DIR/hull"
    need_tool umoci
    need_tool skopeo
    need_tool nsenter util-linux
    need_tool ip iproute2
    need_tool iptables
    local with_docker=1
    if [[ ! -x $DOCKERD || -z $DOCKER || -z $DOCKER_COMPOSE ]]; then
        with_docker=0
        bench_log "compose: dockerd ($DOCKERD), docker or docker-compose missing: Docker rows skipped (apt-get install docker.io docker-compose)"
    fi
    trap 'cp_teardown; bench_cleanup' EXIT

    CP_DIR=$BENCH_TMP/compose
    mkdir -p "$CP_DIR/h" "$CP_DIR/d" "$CP_DIR/project"
    bench_busybox_image "$CP_DIR/oci" latest
    skopeo copy --quiet "oci:$CP_DIR/oci:latest" "docker-archive:$CP_DIR/bb.tar:bench/busybox:latest" ||
        bench_die "skopeo copy to a docker archive failed"
    # Ten services on the project network, each a shell that ends at once
    # on SIGTERM (so `down` measures the tools, not a stop timeout); s2..s10
    # depend on s1.
    {
        printf 'services:\n'
        local s
        for s in 1 2 3 4 5 6 7 8 9 10; do
            printf '  s%s:\n    image: bench/busybox:latest\n' "$s"
            printf '    command: ["sh", "-c", "trap \\"exit 0\\" TERM; sleep 3600 & wait"]\n'
            ((s == 1)) || printf '    depends_on: [s1]\n'
        done
    } >"$CP_DIR/project/compose.yaml"

    CP_NS_HULL=hull-bench-cp-$$
    bench_netns "$CP_NS_HULL"
    CP_HULLD=$(bench_hulld_in_ns "$CP_DIR/h" "$CP_NS_HULL")
    cp_hull load -q -i "$CP_DIR/bb.tar" >/dev/null || bench_die "hull load failed"
    if ((with_docker)); then
        CP_NS_DOCKER=docker-bench-cp-$$
        bench_netns "$CP_NS_DOCKER"
        CP_DOCKERD=$(bench_dockerd_in_ns "$CP_DIR/d" "$CP_NS_DOCKER" "hull-bench-cp-$$")
        cp_docker load -q -i "$CP_DIR/bb.tar" >/dev/null || bench_die "docker load failed (log: $CP_DIR/d/dockerd.log)"
    fi

    local hu=$CP_DIR/hull-up.ms hd=$CP_DIR/hull-down.ms du=$CP_DIR/docker-up.ms dd=$CP_DIR/docker-down.ms
    : >"$hu"
    : >"$hd"
    : >"$du"
    : >"$dd"
    local i scratch=$CP_DIR/warm.ms
    local -a hc=("$HULL_BIN_DIR/hull" -H "$CP_DIR/h/hull.sock" compose -p benchcp)
    local -a dc=(env DOCKER_HOST="unix://$CP_DIR/d/docker.sock" "$DOCKER_COMPOSE" --ansi never -p benchcp)
    bench_log "compose: up -d and down of 10 services, $n runs each (+$warm warm-up)"
    for ((i = -warm; i < n; i++)); do
        local o1=$hu o2=$hd o3=$du o4=$dd
        ((i >= 0)) || o1=$scratch o2=$scratch o3=$scratch o4=$scratch
        cp_time "$o1" "${hc[@]}" up -d || bench_die "hull compose up -d failed (log: $CP_DIR/h/hulld.log)"
        [[ $(cp_running hull) == 10 ]] || bench_die "hull compose up -d: $(cp_running hull) of 10 containers running"
        cp_time "$o2" "${hc[@]}" down || bench_die "hull compose down failed (log: $CP_DIR/h/hulld.log)"
        [[ -z $(cp_hull ps -a -q) ]] || bench_die "hull compose down left containers behind"
        if ((with_docker)); then
            cp_time "$o3" "${dc[@]}" up -d || bench_die "docker-compose up -d failed (log: $CP_DIR/d/dockerd.log)"
            [[ $(cp_running docker) == 10 ]] || bench_die "docker-compose up -d: $(cp_running docker) of 10 containers running"
            cp_time "$o4" "${dc[@]}" down || bench_die "docker-compose down failed (log: $CP_DIR/d/dockerd.log)"
        fi
    done

    local mhu mhd
    mhu=$(median "$hu")
    mhd=$(median "$hd")
    if ((with_docker)); then
        local mdu mdd
        mdu=$(median "$du")
        mdd=$(median "$dd")
        printf 'compose: up -d, 10 services: hull median %s ms (%s), docker-compose %s ms (%s); hull/docker %s (goal <= 0.5)\n' \
            "$mhu" "$(minmax "$hu")" "$mdu" "$(minmax "$du")" "$(ratio "$mhu" "$mdu")"
        printf 'compose: down, 10 services: hull median %s ms (%s), docker-compose %s ms (%s); hull/docker %s (goal <= 0.5)\n' \
            "$mhd" "$(minmax "$hd")" "$mdd" "$(minmax "$dd")" "$(ratio "$mhd" "$mdd")"
        add_result compose "up -d, 10 services (goal)" ms "$mhu" "$mdu"
        add_result compose "down, 10 services (goal)" ms "$mhd" "$mdd"
    else
        printf 'compose: 10 services: hull up -d median %s ms (%s), down %s ms (%s) (no Docker to compare with)\n' \
            "$mhu" "$(minmax "$hu")" "$mhd" "$(minmax "$hd")"
    fi
    cp_teardown
    trap bench_cleanup EXIT
}
