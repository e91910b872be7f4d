#!/usr/bin/env bash
# The whole test suite: formatting, file and function sizes and layering (scripts/check-*.sh),
# unit tests and end-to-end tests against the real binary, first on
# the optimised build, then again on an AddressSanitizer + UBSan build, then the unit tests
# and the hook tests (S13: connections closed while a hook holds them, hooks re-enabled
# from other threads), the sni.yaml routing tests (names resolved on the resolver
# thread), and what other threads share with the workers (reload, drain, the admin
# endpoint, the access log writer, ticket key stores, rotation and the Redis sync,
# certificates loaded on several threads) on a ThreadSanitizer build, and last the libFuzzer
# targets (scripts/fuzz.sh: the parsers and the server handshake, each committed corpus
# replayed, then 15 s of fuzzing per target). This is the README's test command and what
# .ci/run runs. Installs its Debian packages first (needs root/sudo).
#
#   scripts/test.sh            release + ASan/UBSan + TSan + 15 s of fuzzing per target
#   scripts/test.sh --quick    release build only
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/check-format.sh
scripts/check-layout.sh

run_suite() {  # run_suite BUILD_DIR CTEST_REGEX [cmake args...]
    local dir=$1 only=$2; shift 2
    echo "== configure and build $dir ($*)"
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTLSGATE_WERROR=ON "$@" >/dev/null
    cmake --build "$dir"
    echo "== tests in $dir${only:+ (matching $only)}"
    # Two tests per core: the end-to-end tests spend much of their time waiting (for a
    # timeout, a drain, a peer), and CI's budget is 30 minutes on 2 cores.
    (cd "$dir" && ctest --output-on-failure --timeout 1200 -j "$(( 2 * $(nproc) ))" ${only:+-R "$only"})
    # ctest shows no output for skipped tests: print pytest's reasons (-rs) for each skip.
    grep -h "^SKIPPED \[" "$dir/Testing/Temporary/LastTest.log" 2>/dev/null | sed 's/^/   /' || true
}

run_suite build ""
if [[ ${1:-} != --quick ]]; then
    scripts/check-function-size.sh build
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    run_suite build-asan "" -DTLSGATE_SANITIZE=address
    # A data race makes tlsgate exit non-zero, which every e2e fixture checks.
    export TSAN_OPTIONS=halt_on_error=1:exitcode=66
    run_suite build-tsan "^(Reactor|HandshakeHooks|HookRunner|BlindTunnel|CertStore|LabelIndex|TicketKeyStore|TicketKeyRotation|TicketKeyRedis|e2e\.test_(hooks|routing_sni|reload|drain|admin|access_log|fleet_redis))" -DTLSGATE_SANITIZE=thread
    # Every fuzz target under libFuzzer (clang, ASan + UBSan): 15 seconds each keeps the
    # full run within CI's budget; hunt longer by hand with scripts/fuzz.sh 600.
    scripts/fuzz.sh 15
fi
echo "== all tests passed"
