#!/usr/bin/env bash
# The ACME client's figures (issue 18), against Debian's pebble: time from tlsgate's start
# to a served certificate (tls-alpn-01, http-01), full handshakes per second on the ACME
# certificate next to the same one from ssl_multicert.config, and the CPU of each tlsgate
# thread while an order is in progress. The work is in bench/acme_bench.py (its docstring
# says how each figure is taken); it reuses tests/e2e/pebble.py to run pebble.
#
#   bench/acme.sh [build/tlsgate] [--parts 1,2,3] [--keep]
#
# Environment: RUNS (3, part 1's median), REPS (5, part 2's), T (5 s per handshake run),
# CONCURRENCY (32 handshakes in flight), KEY_TYPE (ecdsa|rsa), VA_SLEEP (5 s, part 3),
# SUT_CPU (0), LOAD_CPU (1), PORT (18640). Packages: pebble, g++ and libssl-dev (the
# handshake client), python3-pytest. Figures are printed, never
# asserted; a run that goes wrong says so and the others go on.
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/acme_bench.py" "$@"
