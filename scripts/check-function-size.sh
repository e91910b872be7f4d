#!/usr/bin/env bash
# No function of src/, plugins/ or the unit tests is over 60 lines: clang-tidy's
# readability-function-size over every file of a build's compile_commands.json (the
# end-to-end tests are Python and not counted). Run by scripts/test.sh after the release build.
#
#   scripts/check-function-size.sh [BUILD_DIR]      (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
if ! command -v clang-tidy >/dev/null; then
    echo "check-function-size: clang-tidy is missing; run scripts/install-deps.sh" >&2
    exit 1
fi
config="{Checks: '-*,readability-function-size', CheckOptions: [{key: readability-function-size.LineThreshold, value: '60'}]}"
report=$(find src plugins tests/unit -type f \( -name '*.cc' -o -name '*.c' \) -print0 |
    xargs -0 -P "$(nproc)" -n 8 clang-tidy -p "$build" --quiet --config="$config" 2>/dev/null |
    grep 'readability-function-size' | sort -u || true)
if [[ -n $report ]]; then
    echo "check-function-size: functions over 60 lines:" >&2
    echo "$report" >&2
    exit 1
fi
echo "check-function-size: no function over 60 lines"
