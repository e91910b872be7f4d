#!/usr/bin/env bash
# Installs every Debian package tlsgate needs to build, test and benchmark.
# Idempotent: packages already present are not reinstalled and apt's index is only
# refreshed when something is missing. Needs root (or sudo).
set -euo pipefail

BUILD=(g++ cmake ninja-build pkg-config libssl-dev libyaml-cpp-dev libgtest-dev libhiredis-dev libcurl4-openssl-dev nlohmann-json3-dev)
# clang with its libFuzzer runtime: scripts/fuzz.sh, the last step of scripts/test.sh;
# clang-format and clang-tidy: scripts/check-format.sh and check-function-size.sh.
FUZZ=(clang libclang-rt-dev clang-format clang-tidy)
# nghttp2-server: an HTTP/2 upstream (nghttpd) for the ALPN route tests; iptables: the TPROXY
# test bed (tests/e2e/netns.py); redis-server: the fleet ticket key tests start their own.
TEST=(openssl curl strace python3 python3-pytest python3-cryptography nghttp2-client nghttp2-server procps iproute2 iptables ca-certificates redis-server pebble)

# scdoc: the man page (docs/tlsgate.8.scd). tshark: test_keylog.py decrypts a capture with the
# key log; man-db, groff-base and systemd: test_install.py renders the man page and verifies
# the unit; prometheus: test_admin.py checks /metrics with its promtool.
BUILD+=(scdoc)
TEST+=(tshark man-db groff-base systemd prometheus chromium)

want=("${BUILD[@]}" "${FUZZ[@]}" "${TEST[@]}")
if [[ ${1:-} == --bench ]]; then
    want+=(nginx-light libnginx-mod-stream haproxy util-linux)
fi

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
[[ $(id -u) == 0 ]] || sudo=(sudo)
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
