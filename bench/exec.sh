# shellcheck shell=bash
# Section "exec": wall time of `RUNTIME exec ID /bin/true` into a running
# container (one per runtime, started detached), hullc and runc alternating.

bench_exec() {
    local n=${BENCH_N:-30} warmup=${BENCH_WARMUP:-3}
    local bundle=$BENCH_TMP/exec-bundle
    make_bundle "$bundle" '["/bin/sleep", "3600"]'

    local hroot=$BENCH_TMP/exec-root-hullc rroot=$BENCH_TMP/exec-root-runc
    local hid="e$$-hullc" rid="e$$-runc"
    mkdir -p "$hroot" "$rroot"

    # start_detached RUNTIME ROOT ID: `run -d` with stdio on /dev/null.
    start_detached() {
        local rt=$1 root=$2 id=$3 st
        track_container "$rt" "$root" "$id"
        timeout -k 5 "${BENCH_TIMEOUT:-60}" "$rt" --root "$root" run -d --bundle "$bundle" "$id" \
            </dev/null >/dev/null 2>"$BENCH_TMP/last.err" || {
            cat "$BENCH_TMP/last.err" >&2
            bench_die "$rt run -d $id failed"
        }
        st=$("$rt" --root "$root" state "$id" | jq -r .status)
        [[ $st == running ]] || bench_die "$rt: container $id is '$st', not running"
    }
    start_detached "$HULLC" "$hroot" "$hid"
    start_detached "$RUNC" "$rroot" "$rid"

    local hfile=$BENCH_TMP/exec-hullc.ms rfile=$BENCH_TMP/exec-runc.ms
    : >"$hfile"
    : >"$rfile"
    one_exec() {
        local rt=$1 root=$2 id=$3 t0 t1 rc
        t0=${EPOCHREALTIME/[.,]/}
        timeout -k 5 "${BENCH_TIMEOUT:-60}" "$rt" --root "$root" exec "$id" /bin/true \
            </dev/null >/dev/null 2>"$BENCH_TMP/last.err" && rc=0 || rc=$?
        t1=${EPOCHREALTIME/[.,]/}
        if ((rc != 0)); then
            bench_log "$rt exec $id exited $rc:"
            cat "$BENCH_TMP/last.err" >&2
            return 1
        fi
        us_to_ms "$((10#$t1 - 10#$t0))"
    }

    local i
    for ((i = 0; i < warmup; i++)); do
        one_exec "$HULLC" "$hroot" "$hid" >/dev/null || bench_die "hullc warm-up exec failed"
        one_exec "$RUNC" "$rroot" "$rid" >/dev/null || bench_die "runc warm-up exec failed"
    done
    for ((i = 0; i < n; i++)); do
        if ((i % 2 == 0)); then
            one_exec "$HULLC" "$hroot" "$hid" >>"$hfile" || bench_die "hullc exec failed"
            one_exec "$RUNC" "$rroot" "$rid" >>"$rfile" || bench_die "runc exec failed"
        else
            one_exec "$RUNC" "$rroot" "$rid" >>"$rfile" || bench_die "runc exec failed"
            one_exec "$HULLC" "$hroot" "$hid" >>"$hfile" || bench_die "hullc exec failed"
        fi
    done

    "$HULLC" --root "$hroot" delete --force "$hid" >/dev/null 2>&1 || bench_log "hullc delete --force $hid failed"
    "$RUNC" --root "$rroot" delete --force "$rid" >/dev/null 2>&1 || bench_log "runc delete --force $rid failed"

    local hmed rmed
    hmed=$(median "$hfile")
    rmed=$(median "$rfile")
    printf '[exec] N=%d  hullc median %s ms (min/max %s)  runc median %s ms (min/max %s)  hullc/runc %s\n' \
        "$n" "$hmed" "$(minmax "$hfile")" "$rmed" "$(minmax "$rfile")" "$(ratio "$hmed" "$rmed")"
    add_result exec "exec /bin/true (median)" ms "$hmed" "$rmed"
}
