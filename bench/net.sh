# shellcheck shell=bash
# Section "net": container networking through hulld, all of it inside a
# network namespace made here (the host's interfaces and iptables are not
# touched).
#   - `hull run -d -p HOSTPORT:80` of a busybox httpd to the first good HTTP
#     response on the namespace's 127.0.0.1 (median of N runs);
#   - loopback throughput of BENCH_NET_MIB MiB (default 1024) from a
#     container through its published port, against the same transfer
#     from the container's address directly (ratio: published/direct; the
#     goal is >= 0.9: DNAT in the kernel, no userspace proxy).
# Needs umoci and skopeo (to build the image) and the CNI plugins.
#
# Environment: BENCH_NET_N (runs for the start time, default 10),
# BENCH_NET_MIB.

NET_NS=
NET_HULLD=

net_cleanup() {
    if [[ -n $NET_HULLD ]]; then
        local c
        for c in $(net_hull ps -a -q 2>/dev/null); do net_hull rm -f "$c" >/dev/null 2>&1 || true; done
        kill -TERM "$NET_HULLD" 2>/dev/null || true
        timeout 15 bash -c "while kill -0 $NET_HULLD 2>/dev/null; do sleep 0.05; done" ||
            kill -KILL "$NET_HULLD" 2>/dev/null || true
        NET_HULLD=
    fi
    if [[ -n $NET_NS ]]; then
        ip netns del "$NET_NS" 2>/dev/null || true
        NET_NS=
    fi
}

# in_ns CMD…: run CMD in the bench namespace (network only).
in_ns() { nsenter --net="/run/netns/$NET_NS" "$@"; }

net_hull() { "$HULL_BIN_DIR/hull" -H "$BENCH_TMP/net/hull.sock" "$@"; }

# net_get PORT: the HTTP response of 127.0.0.1:PORT in the namespace.
net_get() { printf 'GET / HTTP/1.0\r\n\r\n' | in_ns "$BUSYBOX" nc -w 2 127.0.0.1 "$1" 2>/dev/null; }

# net_recv HOST PORT: microseconds to GET /big (BENCH_NET_MIB MiB, served
# by busybox httpd with sendfile) from HOST:PORT; bash's /dev/tcp and cat
# on this side, so neither end copies through a small userspace buffer.
net_recv() {
    local t0 t1 bytes
    t0=$(now_us)
    bytes=$(in_ns bash -c 'exec 3<>/dev/tcp/"$1"/"$2"; printf "GET /big HTTP/1.0\r\n\r\n" >&3; cat <&3 | wc -c' _ "$1" "$2")
    t1=$(now_us)
    ((bytes > BENCH_NET_MIB * 1048576)) || bench_die "received only $bytes bytes from $1:$2"
    echo $((t1 - t0))
}

bench_net() {
    local n=${BENCH_NET_N:-10}
    BENCH_NET_MIB=${BENCH_NET_MIB:-1024}
    need_tool umoci
    need_tool skopeo
    need_tool nsenter util-linux
    need_tool ip iproute2
    [[ -x /usr/lib/cni/bridge || -x /opt/cni/bin/bridge ]] ||
        bench_die "missing CNI plugins (apt-get install containernetworking-plugins)"
    local d=$BENCH_TMP/net
    mkdir -p "$d"
    trap 'net_cleanup; bench_cleanup' EXIT

    NET_NS=hull-bench-$$
    ip netns add "$NET_NS"
    in_ns ip link set lo up

    # The image: busybox, /www/index.html, Cmd httpd.
    umoci init --layout "$d/oci" >/dev/null
    umoci new --image "$d/oci:empty"
    umoci unpack --image "$d/oci:empty" "$d/bundle" >/dev/null
    make_busybox_rootfs "$d/bundle/rootfs"
    mkdir -p "$d/bundle/rootfs/www"
    echo "hello from hull" >"$d/bundle/rootfs/www/index.html"
    umoci repack --image "$d/oci:web" "$d/bundle" >/dev/null
    umoci config --image "$d/oci:web" --config.cmd httpd --config.cmd -f --config.cmd -p \
        --config.cmd 80 --config.cmd -h --config.cmd /www
    skopeo copy --quiet "oci:$d/oci:web" "docker-archive:$d/web.tar:bench/web:v1"

    : >"$d/config.toml"
    # nsenter execs hulld: $! is hulld's pid (a backgrounded shell function
    # would leave it a subshell's, and the cleanup would miss hulld).
    nsenter --net="/run/netns/$NET_NS" "$HULL_BIN_DIR/hulld" --root "$d/root" --state "$d/state" --address "$d/hull.sock" \
        --config "$d/config.toml" --log-level warn >"$d/hulld.log" 2>&1 </dev/null &
    NET_HULLD=$!
    timeout 30 bash -c "until '$HULL_BIN_DIR/hull' -H '$d/hull.sock' version >/dev/null 2>&1; do sleep 0.02; done" ||
        bench_die "hulld did not start (log: $d/hulld.log)"
    net_hull load -q -i "$d/web.tar" >/dev/null

    # Start to first response.
    local file=$d/start.ms i port t0 t1
    : >"$file"
    for ((i = 0; i < n + 1; i++)); do
        port=$((20000 + i))
        t0=$(now_us)
        net_hull run -d --name "web$i" -p "$port:80" bench/web:v1 >/dev/null ||
            bench_die "hull run -p failed (log: $d/hulld.log)"
        until net_get "$port" | grep -q "hello from hull"; do
            (($(now_us) - t0 < 30000000)) || bench_die "no HTTP answer on port $port"
            sleep 0.005
        done
        t1=$(now_us)
        ((i == 0)) || us_to_ms "$((t1 - t0))" >>"$file"
        net_hull rm -f "web$i" >/dev/null
    done
    local smed
    smed=$(median "$file")
    printf '[net] N=%d  hull run -d -p to first HTTP response: median %s ms (min/max %s)\n' \
        "$n" "$smed" "$(minmax "$file")"
    add_result net "run -d -p → first HTTP" ms "$smed" "$smed"

    # Throughput: httpd serving a sparse file of BENCH_NET_MIB MiB.
    net_hull run -d --name sender -p 25001:80 bench/web:v1 sh -c \
        "truncate -s ${BENCH_NET_MIB}M /www/big && exec httpd -f -p 80 -h /www" >/dev/null
    local ip
    ip=$(net_hull inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' sender)
    [[ -n $ip ]] || bench_die "sender has no address"
    local pub=$d/pub.mbs direct=$d/direct.mbs us
    : >"$pub"
    : >"$direct"
    for ((i = 0; i < 3; i++)); do
        if ((i == 0)); then
            local j
            for ((j = 0; j < 1500; j++)); do
                net_get 25001 | grep -q "hello from hull" && break
                sleep 0.02
            done
        fi
        us=$(net_recv 127.0.0.1 25001)
        awk -v b="$BENCH_NET_MIB" -v u="$us" 'BEGIN { printf "%.1f\n", b / (u / 1e6) }' >>"$pub"
        us=$(net_recv "$ip" 80)
        awk -v b="$BENCH_NET_MIB" -v u="$us" 'BEGIN { printf "%.1f\n", b / (u / 1e6) }' >>"$direct"
    done
    local pmed dmed
    pmed=$(median "$pub")
    dmed=$(median "$direct")
    printf '[net] %d MiB through the published port: median %s MiB/s; direct to %s: %s MiB/s; published/direct %s\n' \
        "$BENCH_NET_MIB" "$pmed" "$ip" "$dmed" "$(ratio "$pmed" "$dmed")"
    add_result net "${BENCH_NET_MIB} MiB published vs direct" MiB/s "$pmed" "$dmed"
    net_hull rm -f sender >/dev/null
    net_cleanup
}
