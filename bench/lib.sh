# shellcheck shell=bash
# Shared helpers for bench/run.sh and its sections. Sourced, not executed.

bench_log() { printf '%s\n' "bench: $*" >&2; }
bench_die() { printf '%s\n' "bench: error: $*" >&2; exit 1; }

# need_tool TOOL [DEBIAN-PACKAGE]: fail clearly when a tool is missing.
need_tool() {
    local tool=$1 pkg=${2:-$1}
    if [[ $tool == */* ]]; then
        [[ -x $tool ]] || bench_die "missing executable $tool"
    else
        command -v "$tool" >/dev/null 2>&1 || bench_die "missing tool '$tool' (apt-get install $pkg)"
    fi
}

# now_us: wall clock in microseconds from bash's EPOCHREALTIME (no fork, so
# nothing but the measured command lands between two readings).
now_us() { local t=${EPOCHREALTIME/[.,]/}; printf '%s' "$((10#$t))"; }

# us_to_ms MICROSECONDS: "12.345".
us_to_ms() { printf '%d.%03d\n' "$(($1 / 1000))" "$(($1 % 1000))"; }

# median FILE: median of one number per line (mean of the two middle values
# for an even count).
median() {
    sort -g "$1" | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]
        else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# minmax FILE: "min max" of one number per line.
minmax() { sort -g "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f %.3f\n", lo, hi }'; }

# ratio A B: A/B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "inf"; else printf "%.2f\n", a / b }'; }

# Summary rows: section, metric, unit, hull value, reference value, ratio.
BENCH_SUMMARY=()
add_result() {
    local section=$1 metric=$2 unit=$3 hull=$4 ref=$5
    BENCH_SUMMARY+=("$section|$metric|$unit|$hull|$ref|$(ratio "$hull" "$ref")")
}

print_summary() {
    printf '\n%-10s %-28s %-6s %12s %12s %8s\n' section metric unit hull reference ratio
    printf '%-10s %-28s %-6s %12s %12s %8s\n' ---------- ---------------------------- ------ ------------ ------------ --------
    local row
    for row in "${BENCH_SUMMARY[@]}"; do
        IFS='|' read -r s m u h r q <<<"$row"
        printf '%-10s %-28s %-6s %12s %12s %8s\n' "$s" "$m" "$u" "$h" "$r" "$q"
    done
}

# make_busybox_rootfs DIR: busybox-static plus one symlink per applet in
# /bin (skipping `busybox` itself, which would replace the binary).
make_busybox_rootfs() {
    local root=$1 applet
    mkdir -p "$root"/{bin,proc,sys,dev,tmp,etc,root}
    cp "$BUSYBOX" "$root/bin/busybox"
    for applet in $("$BUSYBOX" --list); do
        [[ $applet == busybox ]] && continue
        [[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\n' >"$root/etc/group"
    chmod 1777 "$root/tmp"
}

# make_bundle DIR ARGS-JSON: OCI bundle from `runc spec`, terminal off,
# process args replaced (e.g. '["/bin/true"]').
make_bundle() {
    local bundle=$1 args=$2
    mkdir -p "$bundle"
    make_busybox_rootfs "$bundle/rootfs"
    (cd "$bundle" && "$RUNC" spec)
    jq --argjson args "$args" '.process.terminal = false | .process.args = $args' \
        "$bundle/config.json" >"$bundle/config.json.new"
    mv "$bundle/config.json.new" "$bundle/config.json"
    local bin
    bin=$(jq -r '.process.args[0]' "$bundle/config.json")
    [[ -e $bundle/rootfs$bin ]] || bench_die "bundle command $bin missing from rootfs"
}

# Cleanup: everything lives under $BENCH_TMP; runtime roots are recorded so
# leftover containers (after a failure) are force-deleted by id.
BENCH_CONTAINERS=()   # "runtime|root|id"
track_container() { BENCH_CONTAINERS+=("$1|$2|$3"); }

bench_cleanup() {
    local entry rt root id
    for entry in "${BENCH_CONTAINERS[@]}"; do
        IFS='|' read -r rt root id <<<"$entry"
        [[ -d $root/$id ]] && "$rt" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
    done
    if [[ -n ${BENCH_TMP:-} && -d $BENCH_TMP ]]; then
        # Unmount anything left under the tree (deepest first), then delete
        # without crossing into other file systems.
        local m
        { awk '{ print $5 }' /proc/self/mountinfo | grep -F "$BENCH_TMP/" || true; } | sort -r |
            while read -r m; do umount -l "$m" 2>/dev/null || true; done
        rm -rf --one-file-system "$BENCH_TMP" || bench_log "could not remove $BENCH_TMP"
    fi
}
