#!/usr/bin/env bash
# What hull's README commands need on a Debian 12 machine, in one place:
#   scripts/deps.sh demo   what `make demo` needs
#   scripts/deps.sh test   what `make test` (and `.ci/run`) needs: the demo's
#                          packages, the reference runtimes the compatibility
#                          tests compare against, and cargo-nextest
#   scripts/deps.sh bench  what `make bench` needs: the test set and Docker
#                          Engine (docker.io), the reference of the compose
#                          benchmark, installed without starting its service
#                          (the bench starts a private dockerd)
# Installs only what is missing (apt-get as root, `cargo install --locked
# cargo-nextest`), prints nothing when everything is present, and names what
# is missing and how to install it when it cannot install it itself.
# HULL_DEPS_CHECK_ONLY=1 names what is missing without installing it.
set -euo pipefail

what=${1:-test}

# Debian packages, by what needs them.
demo_packages=(
    # build (rustup's toolchain links with cc)
    build-essential pkg-config ca-certificates make
    # the demo's image and registry, its rootfs and its helpers
    busybox-static docker-registry skopeo umoci python3
    # the default bridge network
    iptables iproute2 containernetworking-plugins
)
test_packages=(
    git
    # reference runtime / manager used by the compatibility tests; buildah
    # is the reference of `hull build` (build_compat.rs, bench/build.sh)
    runc containerd buildah
    # `docker-compose config` (1.29, no daemon needed): the reference for `hull compose config`
    docker-compose
    # benchmarks and test tooling
    hyperfine jq procps util-linux psmisc
)

case "$what" in
    demo) packages=("${demo_packages[@]}") ;;
    test | ci) packages=("${demo_packages[@]}" "${test_packages[@]}") ;;
    bench) packages=("${demo_packages[@]}" "${test_packages[@]}" docker.io) ;;
    *)
        echo "deps.sh: unknown set '$what' (demo, test or bench)" >&2
        exit 2
        ;;
esac

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done

need_nextest=""
if [ "$what" != demo ] && ! cargo nextest --version >/dev/null 2>&1; then
    need_nextest=yes
fi

[ ${#missing[@]} -eq 0 ] && [ -z "$need_nextest" ] && exit 0

if ! command -v cargo >/dev/null 2>&1; then
    echo "deps.sh: cargo not found: install Rust with rustup (https://rustup.rs) and open a new shell" >&2
    exit 1
fi

how=()
[ ${#missing[@]} -eq 0 ] || how+=("apt-get install ${missing[*]}")
[ -z "$need_nextest" ] || how+=("cargo install --locked cargo-nextest")

if [ "${HULL_DEPS_CHECK_ONLY:-}" = 1 ]; then
    printf 'deps.sh: missing; install with: %s\n' "${how[@]}" >&2
    exit 1
fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
        echo "deps.sh: install them as root with: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "==> installing Debian packages: ${missing[*]}"
    apt_opts=(-o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    export DEBIAN_FRONTEND=noninteractive
    apt-get "${apt_opts[@]}" update -qq >/dev/null
    # No service of a package installed here starts (Docker's would take
    # over the host's iptables): the benchmarks start private daemons.
    policy=/usr/sbin/policy-rc.d
    own_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
        own_policy=yes
        trap '[ -z "$own_policy" ] || rm -f "$policy"' EXIT
    fi
    apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [ -n "$own_policy" ]; then
        rm -f "$policy"
        own_policy=""
    fi
fi

if [ -n "$need_nextest" ]; then
    echo "==> installing cargo-nextest (cargo install --locked cargo-nextest; a few minutes)"
    cargo install --locked --quiet cargo-nextest
    if ! cargo nextest --version >/dev/null 2>&1; then
        echo "deps.sh: cargo-nextest installed but 'cargo nextest' does not run: is ~/.cargo/bin on PATH?" >&2
        exit 1
    fi
fi
