#!/usr/bin/env bash
# The shape of the code, checked by scripts/test.sh:
#  - no source file is over 600 lines (docs/decisions.md, "Small files");
#  - layers only point down: core <- net <- tls <- hooks <- proxy <- acme <- config <- app, with stats
#    beside core and admin below app. Each folder of src/ may include only the folders listed
#    for it here, so that, say, tls/ can never include config/.
# Function length (60 lines) needs a compiler's view: scripts/check-function-size.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A may_include=(
    [core]="core"
    [stats]="stats"
    [net]="core net"
    [tls]="core stats net tls"
    [hooks]="core stats net tls hooks tlsgate"
    [proxy]="core stats net tls hooks proxy"
    [acme]="core stats net tls acme"
    [config]="core stats net tls hooks proxy acme config"
    [admin]="core stats net admin"
    [app]="core stats net tls hooks proxy acme config admin app tlsgate"
)
failed=0
for dir in src/*/; do
    layer=$(basename "$dir")
    allowed=${may_include[$layer]:-}
    if [[ -z $allowed ]]; then
        echo "check-layout: src/$layer is in no layer; add it to scripts/check-layout.sh" >&2
        failed=1
        continue
    fi
    while IFS=: read -r file line target; do
        if [[ " $allowed " != *" $target "* ]]; then
            echo "check-layout: $file:$line: $layer/ includes $target/ (a layer above it)" >&2
            failed=1
        fi
    done < <(grep -rnoE '^#include "[a-z_]+/' "$dir" | sed -E 's/#include "([a-z_]+)\//\1/')
done

while read -r lines file; do
    [[ $file == total ]] && continue
    if ((lines > 600)); then
        echo "check-layout: $file has $lines lines (at most 600)" >&2
        failed=1
    fi
done < <(find include src plugins tests fuzz bench scripts -type f \
    \( -name '*.cc' -o -name '*.h' -o -name '*.c' -o -name '*.py' -o -name '*.sh' \) \
    -print0 | xargs -0 wc -l)
((failed == 0)) && echo "check-layout: layers point down, files within 600 lines"
exit "$failed"
