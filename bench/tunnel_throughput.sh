#!/usr/bin/env bash
# Blind-tunnel throughput per core: tlsgate's hook tunnel next to HAProxy `mode tcp` and
# nginx `stream` used as plain TCP proxies to the same sink.
#
#   bench/tunnel_throughput.sh [path/to/tlsgate]      (default: build/tlsgate)
#
# One client and one sink (both on LOAD_CPU) push GIB GiB through each system under test
# (pinned to SUT_CPU) over one connection, client → sink ("up") then sink → client
# ("down"), REPS times each. Every connection starts with a real TLS ClientHello followed by
# a 16-byte command, because tlsgate decides to tunnel at the ClientHello (the hook_test
# plugin answers TUNNEL at client_hello, to the sink's ip:port) and replays it (S10); the
# other systems pass the same bytes through. The sink answers one byte, then the bulk
# flows. The load generator costs little CPU: the sender uses sendfile() from a memfd, the
# receiver recv(MSG_TRUNC), which discards TCP data without copying it.
#
# Printed per system and direction (medians of REPS):
#   GB/s       10^9 bytes per second through the system, end to end;
#   CPU s/GiB  the server's CPU seconds per GiB: utime+stime from /proc/<pid>/stat (the
#              process and its children, so nginx's worker counts) before and after;
#   GB/s/core  bytes per server CPU second: what one core would move if the server were
#              the bottleneck (on a shared 2-core VM it often is not, see "busy");
#   busy       server CPU seconds / wall seconds during the transfer.
# "direct" is the client and the sink without a proxy: the load generator's own ceiling.
#
# Environment: GIB (4), REPS (3), SUTS ("direct tlsgate haproxy haproxy-splice nginx"),
# SUT_CPU (0), LOAD_CPU (1), BASE_PORT (18480), KEEP=1 keeps the scratch directory.
# Another tlsgate build is one more system: SUTS="tlsgate tlsgate-old" TLSGATE_BIN_OLD=path
# (a system tlsgate-X runs $TLSGATE_BIN_X). hook_test.so is taken from plugins/ next to each
# binary. Packages: scripts/install-deps.sh --bench.
set -euo pipefail

TLSGATE_BIN=$(realpath "${1:-build/tlsgate}")
: "${GIB:=4}" "${REPS:=3}" "${SUT_CPU:=0}" "${LOAD_CPU:=1}" "${BASE_PORT:=18480}"
: "${SUTS:=direct tlsgate haproxy haproxy-splice nginx}"
BYTES=$((GIB * 1024 * 1024 * 1024))
SINK_PORT=$BASE_PORT
SUT_PORT=$((BASE_PORT + 1))
HOST=127.0.0.1
TICKS=$(getconf CLK_TCK)

WORK=$(mktemp -d /tmp/tunnel_throughput.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ ${KEEP:-0} == 1 ]]; then echo "scratch: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

# --- the load generator -------------------------------------------------------------------
cat >"$WORK/tput.c" <<'C'
/* tput sink PORT                          serves one connection after another
 * tput up|down HOST PORT HELLO BYTES      one transfer; prints the seconds it took
 * A connection: the client sends HELLO (one TLS record) and "UP|DN <bytes>\n" padded to 16
 * bytes; the sink answers 'G'; the bulk flows; for "up" the sink answers 'D' once it has
 * everything. No half-close is needed (nginx stream closes both sides on a FIN). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SOURCE_SIZE (64L << 20)

static void die(const char *what) { perror(what); exit(1); }

/* The transfer helpers return -1 on a failure: fatal for the client, the end of one
 * connection for the sink (which also sees the port probes of the script). */
static int exact(int fd, char *buf, size_t n) {
  while (n > 0) {
    ssize_t got = recv(fd, buf, n, 0);
    if (got <= 0) return -1;
    buf += got;
    n -= (size_t)got;
  }
  return 0;
}

static int source(void) { /* a memfd of bytes for sendfile() */
  int fd = memfd_create("tput", 0);
  if (fd < 0 || ftruncate(fd, SOURCE_SIZE) != 0) die("memfd");
  char *p = mmap(NULL, SOURCE_SIZE, PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) die("mmap");
  for (long i = 0; i < SOURCE_SIZE; ++i) p[i] = (char)(i * 131 + 7);
  munmap(p, SOURCE_SIZE);
  return fd;
}

static int push(int sock, int src, long long bytes) {
  off_t off = 0;
  while (bytes > 0) {
    if (off == SOURCE_SIZE) off = 0;
    size_t want = SOURCE_SIZE - off < bytes ? SOURCE_SIZE - off : (size_t)bytes;
    ssize_t n = sendfile(sock, src, &off, want);
    if (n <= 0) return -1;
    bytes -= n;
  }
  return 0;
}

static int swallow(int sock, long long bytes) {
  while (bytes > 0) {
    ssize_t n = recv(sock, NULL, bytes < (1 << 30) ? (size_t)bytes : (1 << 30), MSG_TRUNC);
    if (n <= 0) return -1;
    bytes -= n;
  }
  return 0;
}

static void serve(int c, int src) {
  char head[5], cmd[17] = {0}, dir[3];
  long long bytes;
  char hello[65536];
  if (exact(c, head, 5) != 0) return; /* a port probe */
  size_t len = ((unsigned char)head[3] << 8) | (unsigned char)head[4];
  if (head[0] != 0x16 || exact(c, hello, len) != 0 || exact(c, cmd, 16) != 0 ||
      sscanf(cmd, "%2s %lld", dir, &bytes) != 2) {
    fprintf(stderr, "sink: bad preamble\n");
    return;
  }
  if (send(c, "G", 1, MSG_NOSIGNAL) != 1) return;
  if (strcmp(dir, "UP") == 0) {
    if (swallow(c, bytes) != 0 || send(c, "D", 1, MSG_NOSIGNAL) != 1) {
      fprintf(stderr, "sink: upload cut short\n");
      return;
    }
  } else if (push(c, src, bytes) != 0) {
    fprintf(stderr, "sink: download cut short\n");
    return;
  }
  char x;
  while (recv(c, &x, 1, 0) > 0) { /* until the client closes */
  }
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  struct sockaddr_in a = {.sin_family = AF_INET};
  int src = source();
  if (strcmp(argv[1], "sink") == 0) {
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(atoi(argv[2]));
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 16) != 0) die("listen");
    for (;;) {
      int c = accept(l, NULL, NULL);
      if (c < 0) continue;
      serve(c, src);
      close(c);
    }
  }
  if (argc != 6) return 2;
  long long bytes = atoll(argv[5]);
  inet_pton(AF_INET, argv[2], &a.sin_addr);
  a.sin_port = htons(atoi(argv[3]));
  FILE *f = fopen(argv[4], "rb");
  if (!f) die(argv[4]);
  char pre[16384 + 16];
  size_t len = fread(pre, 1, 16384, f);
  fclose(f);
  int is_up = strcmp(argv[1], "up") == 0;
  snprintf(pre + len, 17, "%s %-12lld\n", is_up ? "UP" : "DN", bytes);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
  if (send(s, pre, len + 16, MSG_NOSIGNAL) != (ssize_t)(len + 16)) die("send");
  char ok;
  if (exact(s, &ok, 1) != 0) die("no answer from the sink");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (is_up ? push(s, src, bytes) != 0 || exact(s, &ok, 1) != 0 : swallow(s, bytes) != 0)
    die("transfer cut short");
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("%.6f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  close(s);
  return 0;
}
C
gcc -O2 -Wall -o "$WORK/tput" "$WORK/tput.c"

# A real ClientHello record, as the system's OpenSSL sends it.
/usr/bin/python3 - "$WORK/hello.bin" <<'PY'
import ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(incoming, outgoing, server_hostname="bench.test")
try:
    tls.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = outgoing.read()
assert hello[:1] == b"\x16" and len(hello) == 5 + int.from_bytes(hello[3:5], "big")
open(sys.argv[1], "wb").write(hello)
PY

# --- systems under test ----------------------------------------------------------------------
SUT_PID=
start_sut() {
    local dir=$WORK/$1
    mkdir -p "$dir"
    case $1 in
    tlsgate*)
        local bin=$TLSGATE_BIN var
        if [[ $1 == tlsgate-* ]]; then
            var=${1#tlsgate-}
            var=TLSGATE_BIN_${var^^}
            bin=${!var:?$var is not set}
        fi
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -subj /CN=bench.test -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
        echo "dest_ip=* ssl_cert_name=$dir/cert.pem ssl_key_name=$dir/key.pem" \
            >"$dir/ssl_multicert.config"
        cat >"$dir/tlsgate.yaml" <<CONF
threads: 1
listeners:
  - listen: $HOST:$SUT_PORT
ssl:
  multicert: ssl_multicert.config
routes:
  default: $HOST:$SINK_PORT  # required, unused: the hook tunnels every connection
plugins:
  - path: $(dirname "$bin")/plugins/hook_test.so
    args: [--name, bench, --hook, client_hello, --mode, tunnel, --tunnel, "$HOST:$SINK_PORT"]
CONF
        "$bin" -c "$dir/tlsgate.yaml" --check >"$dir/log" 2>&1 || {
            cat "$dir/log" >&2
            return 1
        }
        taskset -c "$SUT_CPU" "$bin" -c "$dir/tlsgate.yaml" >>"$dir/log" 2>&1 &
        ;;
    haproxy | haproxy-splice)
        cat >"$dir/haproxy.cfg" <<CONF
global
    nbthread 1
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    $([[ $1 == haproxy-splice ]] && echo "option splice-auto")
frontend tunnel
    bind $HOST:$SUT_PORT
    default_backend sink
backend sink
    server sink $HOST:$SINK_PORT
CONF
        haproxy -c -q -f "$dir/haproxy.cfg"
        taskset -c "$SUT_CPU" haproxy -db -f "$dir/haproxy.cfg" >"$dir/log" 2>&1 &
        ;;
    nginx)
        cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
events { worker_connections 1024; }
stream {
    server {
        listen $HOST:$SUT_PORT;
        proxy_pass $HOST:$SINK_PORT;
    }
}
CONF
        nginx -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
        taskset -c "$SUT_CPU" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" \
            >"$dir/log" 2>&1 &
        ;;
    *)
        echo "unknown system: $1" >&2
        return 1
        ;;
    esac
    SUT_PID=$!
    PIDS+=("$SUT_PID")
    wait_port "$SUT_PORT"
}


# --- run ----------------------------------------------------------------------------------------
taskset -c "$LOAD_CPU" "$WORK/tput" sink "$SINK_PORT" &
PIDS+=("$!")
wait_port "$SINK_PORT"

printf '%s, %s GiB per transfer, median of %s; SUT on CPU %s, client and sink on CPU %s\n' \
    "$(date -u +%Y-%m-%d)" "$GIB" "$REPS" "$SUT_CPU" "$LOAD_CPU"
printf '%-16s %-5s %6s %10s %10s %6s\n' system dir "GB/s" "CPU s/GiB" "GB/s/core" "busy"
for sut in $SUTS; do
    port=$SUT_PORT
    if [[ $sut == direct ]]; then port=$SINK_PORT; else start_sut "$sut"; fi
    for dir in up down; do
        rates=() cpus=() percore=() busy=()
        for _ in $(seq "$REPS"); do
            [[ $sut == direct ]] || before=$(cpu_ticks "$SUT_PID")
            secs=$(taskset -c "$LOAD_CPU" "$WORK/tput" "$dir" "$HOST" "$port" "$WORK/hello.bin" "$BYTES")
            rates+=("$(awk -v b="$BYTES" -v s="$secs" 'BEGIN {printf "%.2f", b / s / 1e9}')")
            [[ $sut == direct ]] && continue
            after=$(cpu_ticks "$SUT_PID")
            cpu=$(awk -v t=$((after - before)) -v hz="$TICKS" 'BEGIN {print t / hz}')
            cpus+=("$(awk -v c="$cpu" -v g="$GIB" 'BEGIN {printf "%.3f", c / g}')")
            percore+=("$(awk -v b="$BYTES" -v c="$cpu" 'BEGIN {printf "%.2f", b / c / 1e9}')")
            busy+=("$(awk -v c="$cpu" -v s="$secs" 'BEGIN {printf "%d%%", 100 * c / s}')")
        done
        rate=$(printf '%s\n' "${rates[@]}" | median)
        cpu=- core=- load=-
        if [[ $sut != direct ]]; then
            cpu=$(printf '%s\n' "${cpus[@]}" | median)
            core=$(printf '%s\n' "${percore[@]}" | median)
            load=$(printf '%s\n' "${busy[@]}" | median)
        fi
        printf '%-16s %-5s %6s %10s %10s %6s   (GB/s: %s; CPU s/GiB: %s)\n' "$sut" "$dir" "$rate" \
            "$cpu" "$core" "$load" "${rates[*]}" "${cpus[*]:--}"
    done
    [[ $sut == direct ]] || stop_sut
done
