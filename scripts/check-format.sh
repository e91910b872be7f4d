#!/usr/bin/env bash
# Every C and C++ file of the checkout is as .clang-format lays it out. Run by scripts/test.sh;
# the files are kept in the form clang-format 14 (Debian 12) and 19 (Debian 13) agree on.
# Fix with: clang-format -i FILE...
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
    echo "check-format: clang-format is missing; run scripts/install-deps.sh" >&2
    exit 1
fi
bad=()
while IFS= read -r -d '' file; do
    clang-format --dry-run -Werror "$file" >/dev/null 2>&1 || bad+=("$file")
done < <(find include src plugins tests fuzz bench -type f \( -name '*.cc' -o -name '*.h' -o -name '*.c' \) -print0)
if ((${#bad[@]})); then
    echo "check-format: not formatted ($(clang-format --version)):" >&2
    printf '  %s\n' "${bad[@]}" >&2
    exit 1
fi
echo "check-format: all files formatted"
