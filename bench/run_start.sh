# shellcheck shell=bash
# Section "run": wall time of `RUNTIME run` of a trivial container
# (busybox /bin/true), hullc and runc alternating, N runs each.

bench_run() {
    local n=${BENCH_N:-30} warmup=${BENCH_WARMUP:-3}
    local bundle=$BENCH_TMP/run-bundle
    make_bundle "$bundle" '["/bin/true"]'

    local hroot=$BENCH_TMP/run-root-hullc rroot=$BENCH_TMP/run-root-runc
    mkdir -p "$hroot" "$rroot"
    local hfile=$BENCH_TMP/run-hullc.ms rfile=$BENCH_TMP/run-runc.ms
    : >"$hfile"
    : >"$rfile"

    # one_run RUNTIME ROOT ID: run to completion, print elapsed ms.
    one_run() {
        local rt=$1 root=$2 id=$3 t0 t1 rc
        track_container "$rt" "$root" "$id"
        t0=${EPOCHREALTIME/[.,]/}
        # timeout(1) guards against a hanging runtime; it wraps both alike.
        timeout -k 5 "${BENCH_TIMEOUT:-60}" "$rt" --root "$root" run --bundle "$bundle" "$id" \
            </dev/null >/dev/null 2>"$BENCH_TMP/last.err" && rc=0 || rc=$?
        t1=${EPOCHREALTIME/[.,]/}
        if ((rc != 0)); then
            bench_log "$rt run $id exited $rc:"
            cat "$BENCH_TMP/last.err" >&2
            return 1
        fi
        us_to_ms "$((10#$t1 - 10#$t0))"
    }

    local i
    for ((i = 0; i < warmup; i++)); do
        one_run "$HULLC" "$hroot" "w$$-h$i" >/dev/null || bench_die "hullc warm-up run failed"
        one_run "$RUNC" "$rroot" "w$$-r$i" >/dev/null || bench_die "runc warm-up run failed"
    done
    for ((i = 0; i < n; i++)); do
        # Alternate which runtime goes first so drift hits both alike.
        if ((i % 2 == 0)); then
            one_run "$HULLC" "$hroot" "b$$-h$i" >>"$hfile" || bench_die "hullc run failed"
            one_run "$RUNC" "$rroot" "b$$-r$i" >>"$rfile" || bench_die "runc run failed"
        else
            one_run "$RUNC" "$rroot" "b$$-r$i" >>"$rfile" || bench_die "runc run failed"
            one_run "$HULLC" "$hroot" "b$$-h$i" >>"$hfile" || bench_die "hullc run failed"
        fi
    done

    # Each run must have cleaned up after itself.
    local left
    left=$(find "$hroot" "$rroot" -mindepth 1 -maxdepth 1 | wc -l)
    ((left == 0)) || bench_log "warning: $left container state dirs left after run"

    local hmed rmed
    hmed=$(median "$hfile")
    rmed=$(median "$rfile")
    printf '[run] N=%d  hullc median %s ms (min/max %s)  runc median %s ms (min/max %s)  hullc/runc %s\n' \
        "$n" "$hmed" "$(minmax "$hfile")" "$rmed" "$(minmax "$rfile")" "$(ratio "$hmed" "$rmed")"
    add_result run "run /bin/true (median)" ms "$hmed" "$rmed"
}
