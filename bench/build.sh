# shellcheck shell=bash
# Section "build": `hull build` against `buildah bud` (Debian's buildah,
# `--isolation chroot --layers`, its default overlay storage) on the same
# Dockerfiles and contexts, FROM the same busybox image in a loopback
# registry. Three measures (issue 15's goals in brackets):
#   - a cold 10-step build: a fresh hulld and an empty buildah storage each
#     run, the base pulled by both           [hull <= 0.5x buildah]
#   - a cached rebuild of the same context   [hull < 1 s and <= 0.2x buildah]
#   - a one-file change in a 50 MiB context: the steps hull runs again must
#     be exactly those after the changed COPY (counted from --progress plain)
#
# Environment: BENCH_BUILD_N (runs per tool and measure, default 3),
# BENCH_BUILD_CTX_MIB (size of the big context, default 50).

# bench_build_steps FILE: steps of a `--progress plain` log that ran
# (neither CACHED nor FROM).
bench_build_steps() {
    awk '/^#[0-9]+ \[/ { n = $1; sub(/^#/, "", n); if (n > 0 && !(n in ins)) { ins[n] = $0 } }
         /^#[0-9]+ CACHED$/ { n = $1; sub(/^#/, "", n); cached[n] = 1 }
         END { c = 0; for (n in ins) if (!(n in cached) && ins[n] !~ /\] FROM /) c++; print c }' "$1"
}

bench_build() {
    local n=${BENCH_BUILD_N:-3} mib=${BENCH_BUILD_CTX_MIB:-50}
    need_tool "$HULL_BIN_DIR/hulld"
    need_tool "$HULL_BIN_DIR/hull"
    need_tool docker-registry
    need_tool skopeo
    need_tool umoci
    need_tool buildah

    local dir=$BENCH_TMP/build
    mkdir -p "$dir"
    bench_busybox_image "$dir/base" bb
    bench_start_registry "$dir/reg"
    local base=127.0.0.1:$BENCH_REG_PORT/bench/busybox:1
    skopeo copy --quiet --dest-tls-verify=false "oci:$dir/base:bb" "docker://$base" ||
        bench_die "skopeo copy of the base image failed"

    # The 10-step Dockerfile: FROM, then RUN, COPY and config steps.
    local ten=$dir/ten
    mkdir -p "$ten/src"
    for f in a b c d; do printf 'source %s\n' "$f" >"$ten/src/$f.txt"; done
    printf '#!/bin/sh\necho app\n' >"$ten/app.sh"
    cat >"$ten/Dockerfile" <<EOF
FROM $base
ENV APP=/opt/app
WORKDIR /opt/app
RUN mkdir -p data logs && echo one >data/one
COPY src/ ./src/
RUN cat src/*.txt >data/all && wc -l data/all >data/count
COPY app.sh /usr/local/bin/app
RUN chmod 755 /usr/local/bin/app && ln -s /usr/local/bin/app /opt/app/run
RUN for i in 1 2 3 4 5 6 7 8; do echo line \$i; done >data/lines
CMD ["/usr/local/bin/app"]
EOF

    # The 50 MiB context: incompressible data first, a small file after.
    local big=$dir/big
    mkdir -p "$big/data"
    local i
    for ((i = 0; i < mib; i++)); do head -c $((1 << 20)) /dev/urandom >"$big/data/blob$i.bin"; done
    printf 'v0\n' >"$big/small.txt"
    cat >"$big/Dockerfile" <<EOF
FROM $base
COPY data/ /data/
RUN du -s /data >/data-size
COPY small.txt /small.txt
RUN cat /small.txt >/copied
RUN echo done >/done
EOF

    local hb=(--isolation chroot --layers --tls-verify=false -q)
    local th=$dir/hull-cold.ms tb=$dir/buildah-cold.ms ch=$dir/hull-cached.ms cb=$dir/buildah-cached.ms
    local xh=$dir/hull-change.ms xb=$dir/buildah-change.ms
    : >"$th"; : >"$tb"; : >"$ch"; : >"$cb"; : >"$xh"; : >"$xb"
    local run t0 t1 pid d b steps_bad=0 steps=""
    for ((run = 0; run < n; run++)); do
        # hull: cold, then cached, then the one-file change in the big context.
        d=$dir/h$run
        pid=$(bench_start_hulld "$d")
        BENCH_PIDS+=("$pid")
        local -a hull=("$HULL_BIN_DIR/hull" -H "$d/hull.sock" build --network none --progress plain)
        t0=$(now_us)
        "${hull[@]}" -t bench/ten:1 "$ten" >/dev/null 2>"$d/cold.log" || bench_die "hull build failed: $(tail -3 "$d/cold.log")"
        t1=$(now_us)
        us_to_ms $((t1 - t0)) >>"$th"
        t0=$(now_us)
        "${hull[@]}" -t bench/ten:1 "$ten" >/dev/null 2>"$d/cached.log" || bench_die "hull rebuild failed"
        t1=$(now_us)
        us_to_ms $((t1 - t0)) >>"$ch"
        [[ $(bench_build_steps "$d/cached.log") == 0 ]] || bench_log "build: hull's cached rebuild ran steps ($d/cached.log)"
        printf 'v%s-a\n' "$run" >"$big/small.txt"
        "${hull[@]}" -t bench/big:1 "$big" >/dev/null 2>"$d/big.log" || bench_die "hull build of the big context failed"
        printf 'v%s-b\n' "$run" >"$big/small.txt"
        t0=$(now_us)
        "${hull[@]}" -t bench/big:1 "$big" >/dev/null 2>"$d/change.log" || bench_die "hull rebuild of the big context failed"
        t1=$(now_us)
        us_to_ms $((t1 - t0)) >>"$xh"
        steps=$(bench_build_steps "$d/change.log")
        # COPY small.txt and the two RUNs after it; the big COPY and its RUN cached.
        [[ $steps == 3 ]] || steps_bad=1
        bench_stop_pid "$pid"
        bench_clean_dir "$d"

        # buildah: the same three, with a storage of its own.
        b=$dir/b$run
        local -a bah=(buildah --root "$b/root" --runroot "$b/run")
        t0=$(now_us)
        "${bah[@]}" bud "${hb[@]}" -t bench/ten:1 "$ten" >/dev/null 2>"$dir/b.log" || bench_die "buildah bud failed: $(tail -3 "$dir/b.log")"
        t1=$(now_us)
        us_to_ms $((t1 - t0)) >>"$tb"
        t0=$(now_us)
        "${bah[@]}" bud "${hb[@]}" -t bench/ten:1 "$ten" >/dev/null 2>>"$dir/b.log" || bench_die "buildah rebuild failed"
        t1=$(now_us)
        us_to_ms $((t1 - t0)) >>"$cb"
        printf 'v%s-a\n' "$run" >"$big/small.txt"
        "${bah[@]}" bud "${hb[@]}" -t bench/big:1 "$big" >/dev/null 2>>"$dir/b.log" || bench_die "buildah bud of the big context failed"
        printf 'v%s-b\n' "$run" >"$big/small.txt"
        t0=$(now_us)
        "${bah[@]}" bud "${hb[@]}" -t bench/big:1 "$big" >/dev/null 2>>"$dir/b.log" || bench_die "buildah rebuild of the big context failed"
        t1=$(now_us)
        us_to_ms $((t1 - t0)) >>"$xb"
        "${bah[@]}" rm --all >/dev/null 2>&1 || true
        "${bah[@]}" rmi --all --force >/dev/null 2>&1 || true
        bench_clean_dir "$b"
    done

    local mh mb
    mh=$(median "$th"); mb=$(median "$tb")
    printf 'build: cold 10-step build, %s runs each: hull median %s ms (%s), buildah %s ms (%s); ratio %s (goal <= 0.5)\n' \
        "$n" "$mh" "$(minmax "$th")" "$mb" "$(minmax "$tb")" "$(ratio "$mh" "$mb")"
    add_result build "cold 10-step build" ms "$mh" "$mb"
    mh=$(median "$ch"); mb=$(median "$cb")
    printf 'build: cached rebuild: hull median %s ms (%s), buildah %s ms (%s); ratio %s (goal < 1000 ms and <= 0.2)\n' \
        "$mh" "$(minmax "$ch")" "$mb" "$(minmax "$cb")" "$(ratio "$mh" "$mb")"
    add_result build "cached rebuild" ms "$mh" "$mb"
    add_result build "cached rebuild (goal 1 s)" ms "$mh" 1000
    mh=$(median "$xh"); mb=$(median "$xb")
    printf 'build: one-file change in a %s MiB context: hull median %s ms (%s), buildah %s ms (%s); hull reran %s steps (want 3)\n' \
        "$mib" "$mh" "$(minmax "$xh")" "$mb" "$(minmax "$xb")" "$steps"
    add_result build "1-file change ${mib}MiB ctx" ms "$mh" "$mb"
    add_result build "steps rerun after change" steps "$steps" 3
    ((steps_bad == 0)) || bench_log "build: hull reran other than the 3 steps after the change in some run"
    bench_stop_all
}
