#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs the PROXY
# protocol parser fuzzer for SECONDS (default 30) on a scratch copy of its seed corpus, so
# that the inputs it discovers never land in fuzz/corpus/. Exits non-zero when the fuzzer
# finds a crash, a sanitizer report, a timeout or a broken invariant; the input that did it
# is kept in build-fuzz/run/proxy_protocol/artifacts/ (replay: the binary + that file).
#
#   scripts/fuzz.sh         30 seconds (what scripts/test.sh runs)
#   scripts/fuzz.sh 600     a longer hunt
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
if [[ ! $seconds =~ ^[0-9]+$ ]]; then
    echo "usage: $0 [SECONDS]" >&2
    exit 2
fi

# libFuzzer ships in the runtime of Debian's default clang (libclang-rt-dev, installed by
# scripts/install-deps.sh); where it lives depends on the clang version, so ask clang to
# link a fuzzer instead of looking for the file.
if ! command -v clang++ >/dev/null || ! echo \
    'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
    clang++ -x c++ - -fsanitize=fuzzer -o /dev/null 2>/dev/null; then
    echo "fuzz: clang or its libFuzzer runtime is missing; run scripts/install-deps.sh" >&2
    exit 1
fi

echo "== configure and build build-fuzz (clang, libFuzzer + ASan + UBSan)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTLSGATE_FUZZ=ON -DTLSGATE_TESTS=OFF -DTLSGATE_WERROR=ON >/dev/null
cmake --build build-fuzz --target proxy_protocol_fuzz

run=build-fuzz/run/proxy_protocol
rm -rf "$run"
mkdir -p "$run/corpus" "$run/artifacts"
cp fuzz/corpus/proxy_protocol/* "$run/corpus/"

echo "== fuzz parseProxyHeader for ${seconds}s (log: $run/fuzz.log)"
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# -max_len above kProxyMaxBytes (2064) so that oversized headers are tried too; -timeout
# turns a hang into a failure. libFuzzer logs every new input: keep that out of CI's output.
if ! build-fuzz/fuzz/proxy_protocol_fuzz "$run/corpus" \
    -max_total_time="$seconds" -max_len=4200 -timeout=10 \
    -dict=fuzz/proxy_protocol.dict -artifact_prefix="$run/artifacts/" -print_final_stats=1 \
    >"$run/fuzz.log" 2>&1; then
    tail -n 60 "$run/fuzz.log" >&2
    echo "fuzz: FAILED, input kept in $run/artifacts/:" >&2
    ls -l "$run/artifacts/" >&2
    exit 1
fi
grep -E '^(Done|stat::)' "$run/fuzz.log"
echo "== fuzz: no crash in ${seconds}s"
