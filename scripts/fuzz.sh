#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan, leak detection on) in build-fuzz/
# and runs them. A target is fuzz/<name>_fuzz.cc with its seed corpus in fuzz/corpus/<name>/
# (and optionally a dictionary fuzz/<name>.dict): every folder of fuzz/corpus/ is a target.
#
# First each committed corpus is replayed (a fast regression check: every seed and every
# input that once crashed, kept as a seed, must pass), then each target fuzzes for SECONDS
# on a scratch copy of its corpus, so that the inputs it discovers never land in
# fuzz/corpus/. Exits non-zero when a target finds a crash, a leak, a timeout or a broken
# invariant; the input that did it is kept in build-fuzz/run/<name>/artifacts/ (replay: the
# binary + that file). Prints per target the executions, exec/s, coverage (cov) and features
# (ft) reached.
#
#   scripts/fuzz.sh                 20 seconds per target (what scripts/test.sh runs)
#   scripts/fuzz.sh 600             a longer hunt: 10 minutes per target
#   scripts/fuzz.sh 600 ocsp sni_config   only these targets
#   scripts/fuzz.sh 0               only the replay of the committed corpora
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-20}
if [[ ! $seconds =~ ^[0-9]+$ ]]; then
    echo "usage: $0 [SECONDS [TARGET...]]" >&2
    exit 2
fi
shift || true
if (($#)); then
    targets=("$@")
else
    targets=()
    for dir in fuzz/corpus/*/; do targets+=("$(basename "$dir")"); done
fi
for name in "${targets[@]}"; do
    if [[ ! -d fuzz/corpus/$name || ! -f fuzz/${name}_fuzz.cc ]]; then
        echo "fuzz: no target '$name' (fuzz/${name}_fuzz.cc and fuzz/corpus/$name/)" >&2
        exit 2
    fi
done

# libFuzzer ships in the runtime of Debian's default clang (libclang-rt-dev, installed by
# scripts/install-deps.sh); where it lives depends on the clang version, so ask clang to
# link a fuzzer instead of looking for the file.
if ! command -v clang++ >/dev/null || ! echo \
    'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
    clang++ -x c++ - -fsanitize=fuzzer -o /dev/null 2>/dev/null; then
    echo "fuzz: clang or its libFuzzer runtime is missing; run scripts/install-deps.sh" >&2
    exit 1
fi

echo "== configure and build build-fuzz (clang, libFuzzer + ASan + UBSan): ${targets[*]}"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTLSGATE_FUZZ=ON -DTLSGATE_TESTS=OFF -DTLSGATE_WERROR=ON >/dev/null
cmake --build build-fuzz --target "${targets[@]/%/_fuzz}"

export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# -max_len 8192: room for large configs and a ClientHello split over several records, and
# for PROXY headers above kProxyMaxBytes (2064). -timeout turns a hang into a failure.
# libFuzzer logs every new input: that stays in the log, out of CI's output.
fuzz_flags=(-max_len=8192 -timeout=10 -print_final_stats=1)

failed() {  # failed NAME RUN_DIR WHAT
    tail -n 60 "$2/fuzz.log" >&2
    echo "fuzz: $1 FAILED ($3); input kept in $2/artifacts/:" >&2
    ls -l "$2/artifacts/" >&2
    exit 1
}

for name in "${targets[@]}"; do
    binary=build-fuzz/fuzz/${name}_fuzz
    run=build-fuzz/run/$name
    rm -rf "$run"
    mkdir -p "$run/corpus" "$run/artifacts"
    cp fuzz/corpus/"$name"/* "$run/corpus/"
    dict=()
    [[ -f fuzz/$name.dict ]] && dict=(-dict="fuzz/$name.dict")

    # The committed corpus alone, once: fast, and what a fix must keep passing.
    if ! "$binary" "${fuzz_flags[@]}" -runs=0 -artifact_prefix="$run/artifacts/" \
        fuzz/corpus/"$name" >"$run/fuzz.log" 2>&1; then
        failed "$name" "$run" "replay of fuzz/corpus/$name"
    fi
    ((seconds > 0)) || { echo "== $name: corpus replayed"; continue; }

    if ! nice -n 10 "$binary" "$run/corpus" "${fuzz_flags[@]}" "${dict[@]}" \
        -max_total_time="$seconds" -artifact_prefix="$run/artifacts/" >"$run/fuzz.log" 2>&1; then
        failed "$name" "$run" "${seconds}s of fuzzing"
    fi
    # "#N DONE cov: C ft: F corp: ... exec/s: E" is libFuzzer's last status line.
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$run/fuzz.log" | tail -n 1)
    echo "== $name: ${seconds}s, $(sed -E 's/^#([0-9]+)[[:space:]]+DONE[[:space:]]+(cov: [0-9]+ ft: [0-9]+).*exec\/s: ([0-9]+).*/\1 executions, \3 exec\/s, \2/' <<<"$done_line")"
done
echo "== fuzz: no crash, leak or timeout in ${targets[*]}"
