#!/usr/bin/env bash
# Server CPU per connection of "terminate the client's TLS, re-encrypt to a verified TLS
# origin": tlsgate's `{upstream: ..., tls: true}` route next to nginx `proxy_pass https://`
# with `proxy_ssl_verify on`, with the "terminate only" rows of both for reference.
#
#   bench/reencrypt.sh [path/to/tlsgate]      (default: build/tlsgate)
#
# The load, on LOAD_CPU: one new connection after another for T seconds, each a full TLS 1.3
# handshake with the system under test (no session offered), one `GET / HTTP/1.0`,
# SSL_read() to the end of the answer, close. The client is a small C program the script
# compiles (conns.c below), not `openssl s_time -new -www /`, which does the same (a new SSL
# per connection, never a session, reads to EOF) but always closes with an RST (SO_LINGER 0)
# and cannot do otherwise; how the client closes decides whether tlsgate keeps its origin
# session (see bench/README.md), so each close is a separate table (CLOSES):
#   quiet   FIN without a close_notify;  reset  RST, as s_time;  notify  close_notify + FIN.
# h2load cannot make this load: -c 1 -n N sends N requests over one connection, -c N -n N
# opens the N connections at once.
#
# The system under test (pinned to SUT_CPU, one worker) opens one TLS connection to the
# origin per client connection and verifies it (a CA made here, the name origin.test). The
# origin is nginx, one worker on LOAD_CPU, answering `200 ok` and closing
# (keepalive_timeout 0), TLS on one port and plain HTTP on the next; it logs
# $ssl_session_reused, which is how the table knows whether a proxy resumed its origin
# sessions. Every certificate is ECDSA P-256 (KEYS=ec) or RSA-2048 (KEYS=rsa): the CA, the
# origin's and the proxy's client-facing one (the same for every system). TLS 1.3 with
# TLS_AES_128_GCM_SHA256 and X25519 on both legs for every system (the origin prefers that
# suite; the client offers only it).
#
# Systems (SUTS):
#   nginx            proxy_pass https:// with proxy_ssl_verify on, proxy_ssl_trusted_certificate,
#                    proxy_ssl_name origin.test, proxy_ssl_server_name on,
#                    proxy_ssl_session_reuse on; no upstream keepalive (one origin connection
#                    per client connection, like tlsgate, which relays bytes and cannot pool)
#   tlsgate          route {upstream, tls: true, sni: origin.test}, ENFORCED/ALL, session_cache 1024
#   tlsgate-nocache  the same with session_cache: 0 (a full origin handshake every time)
#   tlsgate-plain    plaintext upstream to the origin's HTTP port: terminate only
#   nginx-plain      proxy_pass http:// to the same port: terminate only
#
# Printed per key type, close and system (medians of REPS; each run on a freshly started
# system after WARM seconds of the same load; repetitions interleaved):
#   conn/s       connections completed per wall second (one at a time: a latency figure);
#   µs CPU/conn  the system's utime+stime (/proc/<pid>/stat, the process and its children,
#                so nginx's worker counts) per connection, ±(max-min)/median over REPS;
#   +µs          over the same server's terminate-only row: the cost of re-encrypting;
#   ÷nginx       a tlsgate row's µs over nginx's (tlsgate-plain: over nginx-plain) in the same
#                repetition, median of the ratios: robust to slow spells that hit both;
#   busy         the system's CPU time as a share of SUT_CPU's time (/proc/stat ticks);
#   other        SUT_CPU's busy time not charged to the system (other processes,
#                interrupts), same base: the noise indicator;
#   resumed      share of origin handshakes the origin saw resumed ($ssl_session_reused);
#   bytes        what the client read per connection (the whole answer, to EOF).
# A run with other > MAX_OTHER % is repeated, at most RETRIES times, after a pause, and is
# marked "*" if it stays disturbed; with QUIET_WAIT=S each run first waits up to S seconds
# for SUT_CPU to be that quiet.
#
# Environment: T (10) seconds per run, REPS (3), KEYS ("ec rsa"), CLOSES ("quiet reset"),
# SUTS (all five above), SUT_CPU (0), LOAD_CPU (1), WARM (1), MAX_OTHER (25), RETRIES (1),
# QUIET_WAIT (0), BASE_PORT (18490: origin TLS, origin HTTP, system under test), KEEP=1
# keeps the scratch directory, VERBOSE=1 prints every run.
# Packages: scripts/install-deps.sh --bench (nginx-light; openssl, curl and libssl-dev are
# in the base set).
set -euo pipefail

TLSGATE_BIN=$(realpath "${1:-build/tlsgate}")
: "${T:=10}" "${REPS:=3}" "${KEYS:=ec rsa}" "${CLOSES:=quiet reset}" "${WARM:=1}"
: "${SUT_CPU:=0}" "${LOAD_CPU:=1}" "${MAX_OTHER:=25}" "${RETRIES:=1}" "${QUIET_WAIT:=0}"
: "${BASE_PORT:=18490}" "${SUTS:=nginx tlsgate tlsgate-nocache tlsgate-plain nginx-plain}"
ORIGIN_PORT=$BASE_PORT
PLAIN_PORT=$((BASE_PORT + 1))
SUT_PORT=$((BASE_PORT + 2))
HOST=127.0.0.1
TICKS=$(getconf CLK_TCK)

for p in "$ORIGIN_PORT" "$PLAIN_PORT" "$SUT_PORT"; do
    if [[ -n $(ss -Hltn "sport = :$p") ]]; then
        echo "port $p is in use; set BASE_PORT" >&2
        exit 1
    fi
done

WORK=$(mktemp -d /tmp/reencrypt.XXXXXX)
chmod 755 "$WORK" # nginx workers run as nobody
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
trap 'exit 130' INT TERM

# A copy: a rebuild of the binary during the run (other people share the checkout) must not
# put two builds in one table.
mkdir "$WORK/bin" && cp "$TLSGATE_BIN" "$WORK/bin/tlsgate"
TLSGATE_SHA=$(sha256sum "$TLSGATE_BIN" | cut -c1-12)
TLSGATE_BIN=$WORK/bin/tlsgate

# --- the load generator -------------------------------------------------------------------
cat >"$WORK/conns.c" <<'C'
/* conns HOST PORT SECONDS quiet|reset|notify
 * New connections one after another for SECONDS: TCP connect, a full TLS 1.3 handshake
 * (SNI proxy.test, TLS_AES_128_GCM_SHA256, X25519; no session is ever offered: the client
 * keeps none), "GET / HTTP/1.0", SSL_read() to the end of the answer, then the close:
 *   quiet   close() without a close_notify: a FIN;
 *   reset   the same with SO_LINGER 0: an RST, as `openssl s_time` closes;
 *   notify  a close_notify first (SSL_shutdown), then close(), as curl does.
 * A connection counts as ok when the answer is "HTTP/1.x 200 ..." ending in "ok\n".
 * Prints: ok=N failed=N bytes=<per ok connection> seconds=<wall> [error=<first failure>] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 5) return 2;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  inet_pton(AF_INET, argv[1], &a.sin_addr);
  double seconds = atof(argv[3]);
  int notify = strcmp(argv[4], "notify") == 0, reset = strcmp(argv[4], "reset") == 0;
  if (!notify && !reset && strcmp(argv[4], "quiet") != 0) return 2;
  struct linger rst = {.l_onoff = 1, .l_linger = 0};
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256");
  SSL_CTX_set1_groups_list(ctx, "X25519");
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF); /* EOF without close_notify: the end */
  static const char req[] = "GET / HTTP/1.0\r\nHost: proxy.test\r\n\r\n";
  long ok = 0, failed = 0, bytes = 0;
  char error[256] = "", buf[16384];
  double t0 = now(), t1;
  while ((t1 = now()) - t0 < seconds && failed < 10) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), good = 0, one = 1;
    size_t have = 0, n;
    SSL *ssl = SSL_new(ctx);
    SSL_set_tlsext_host_name(ssl, "proxy.test");
    SSL_set_fd(ssl, fd);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
      snprintf(error, sizeof error, "connect failed");
    } else if (SSL_connect(ssl) != 1) {
      snprintf(error, sizeof error, "handshake: %s", ERR_reason_error_string(ERR_peek_error()));
    } else if (SSL_write(ssl, req, sizeof req - 1) != (int)sizeof req - 1) {
      snprintf(error, sizeof error, "write failed");
    } else {
      while (have < sizeof buf - 1 && SSL_read_ex(ssl, buf + have, sizeof buf - 1 - have, &n))
        have += n;
      buf[have] = 0;
      int err = SSL_get_error(ssl, 0);
      good = err == SSL_ERROR_ZERO_RETURN && have > 16 && strncmp(buf, "HTTP/1.", 7) == 0 &&
             strncmp(buf + 8, " 200 ", 5) == 0 && strcmp(buf + have - 3, "ok\n") == 0;
      if (!good)
        snprintf(error, sizeof error, "bad answer (SSL error %d, %zu bytes): %.60s", err, have,
                 buf);
    }
    if (notify && good)
      SSL_shutdown(ssl);
    else
      SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    if (reset) setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
    close(fd);
    SSL_free(ssl);
    ERR_clear_error();
    if (good) {
      ++ok;
      bytes += (long)have;
    } else {
      ++failed;
    }
  }
  for (char *p = error; *p; ++p)
    if (*p == ' ' || *p == '\r' || *p == '\n') *p = '_';
  printf("ok=%ld failed=%ld bytes=%ld seconds=%.3f%s%s\n", ok, failed, ok ? bytes / ok : 0,
         t1 - t0, *error ? " error=" : "", error);
  return ok > 0 ? 0 : 1;
}
C
gcc -O2 -Wall -o "$WORK/conns" "$WORK/conns.c" -lssl -lcrypto

# --- certificates: a CA, origin.test and proxy.test signed by it -------------------------------
newkey() { # newkey KIND: the -newkey arguments of openssl req
    case $1 in
    ec) echo "-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
    rsa) echo "-newkey rsa:2048" ;;
    *) echo "unknown key type $1" >&2 && return 1 ;;
    esac
}
make_certs() { # make_certs KIND DIR
    local dir=$2 name args
    args=$(newkey "$1")
    mkdir -p "$dir"
    # shellcheck disable=SC2086
    openssl req -x509 -nodes -days 2 $args -subj "/CN=tlsgate bench CA ($1)" \
        -keyout "$dir/ca.key" -out "$dir/origin-ca.crt" 2>/dev/null
    for name in origin proxy; do
        # shellcheck disable=SC2086
        openssl req -new -nodes $args -subj "/CN=$name.test" \
            -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
        printf '%s\n' "subjectAltName=DNS:$name.test" "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
            >"$dir/$name.ext"
        openssl x509 -req -days 2 -in "$dir/$name.csr" -CA "$dir/origin-ca.crt" \
            -CAkey "$dir/ca.key" -CAcreateserial -extfile "$dir/$name.ext" \
            -out "$dir/$name.crt" 2>/dev/null
    done
    openssl verify -CAfile "$dir/origin-ca.crt" "$dir/origin.crt" "$dir/proxy.crt" >/dev/null
}

# --- the origin: nginx, TLS on ORIGIN_PORT, plain HTTP on PLAIN_PORT, on LOAD_CPU -------------
ORIGIN_PID=
start_origin() { # start_origin CERTDIR
    local dir
    dir=$WORK/origin-$(basename "$1")
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    client_body_temp_path $dir/tmp;
    keepalive_timeout 0;                # one request per connection, then close
    log_format reuse '\$ssl_session_reused \$ssl_protocol \$ssl_cipher';
    server {
        listen $HOST:$ORIGIN_PORT ssl backlog=4096;
        server_name origin.test;
        ssl_certificate $1/origin.crt;
        ssl_certificate_key $1/origin.key;
        ssl_protocols TLSv1.2 TLSv1.3;  # nginx 1.22 leaves TLSv1.3 out by default
        # The same TLS 1.3 suite for every proxy (nginx and tlsgate offer others first).
        ssl_prefer_server_ciphers on;
        ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;
        access_log $dir/access.log reuse;
        location = / { default_type text/plain; return 200 "ok\n"; }
    }
    server {
        listen $HOST:$PLAIN_PORT backlog=4096;
        access_log off;
        location = / { default_type text/plain; return 200 "ok\n"; }
    }
}
CONF
    nginx -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
    taskset -c "$LOAD_CPU" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" \
        >"$dir/log" 2>&1 &
    ORIGIN_PID=$!
    PIDS+=("$ORIGIN_PID")
    ORIGIN_LOG=$dir/access.log
    wait_port "$ORIGIN_PORT"
    wait_port "$PLAIN_PORT"
    [[ $(curl -s --cacert "$1/origin-ca.crt" --resolve "origin.test:$ORIGIN_PORT:$HOST" \
        "https://origin.test:$ORIGIN_PORT/") == ok ]] || {
        echo "the origin does not answer ok over verified TLS" >&2
        return 1
    }
}
stop_origin() {
    kill "$ORIGIN_PID" 2>/dev/null || true
    wait "$ORIGIN_PID" 2>/dev/null || true
    ORIGIN_PID=
}

# --- systems under test ----------------------------------------------------------------------
SUT_PID='' SUT_DIR=''
start_sut() { # start_sut NAME CERTDIR
    local certs=$2
    SUT_DIR=$WORK/$1
    rm -rf "$SUT_DIR"
    mkdir -p "$SUT_DIR"
    case $1 in
    tlsgate | tlsgate-nocache | tlsgate-plain)
        local cache=1024 route="{upstream: $HOST:$ORIGIN_PORT, tls: true, sni: origin.test}"
        [[ $1 == tlsgate-nocache ]] && cache=0
        [[ $1 == tlsgate-plain ]] && route=$HOST:$PLAIN_PORT
        cp "$certs"/{proxy.crt,proxy.key,origin-ca.crt} "$SUT_DIR/"
        echo "dest_ip=* ssl_cert_name=proxy.crt ssl_key_name=proxy.key" \
            >"$SUT_DIR/ssl_multicert.config"
        cat >"$SUT_DIR/tlsgate.yaml" <<CONF
threads: 1
listeners:
  - listen: $HOST:$SUT_PORT
ssl:
  multicert: ssl_multicert.config
  client:
    verify_server_policy: ENFORCED
    verify_server_properties: ALL
    ca_certs: origin-ca.crt
    session_cache: $cache
routes:
  default: $route
CONF
        "$TLSGATE_BIN" -c "$SUT_DIR/tlsgate.yaml" --check >"$SUT_DIR/log" 2>&1 || {
            cat "$SUT_DIR/log" >&2
            return 1
        }
        taskset -c "$SUT_CPU" "$TLSGATE_BIN" -c "$SUT_DIR/tlsgate.yaml" >>"$SUT_DIR/log" 2>&1 &
        ;;
    nginx | nginx-plain)
        mkdir -p "$SUT_DIR/tmp"
        local upstream="server $HOST:$ORIGIN_PORT;" pass="proxy_pass https://origin;"
        if [[ $1 == nginx-plain ]]; then
            upstream="server $HOST:$PLAIN_PORT;" pass="proxy_pass http://origin;"
        fi
        cat >"$SUT_DIR/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
pid $SUT_DIR/nginx.pid;
error_log $SUT_DIR/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $SUT_DIR/tmp/body;
    proxy_temp_path $SUT_DIR/tmp/proxy;
    upstream origin { $upstream }
    server {
        listen $HOST:$SUT_PORT ssl backlog=4096;
        ssl_certificate $certs/proxy.crt;
        ssl_certificate_key $certs/proxy.key;
        ssl_protocols TLSv1.2 TLSv1.3;        # nginx 1.22 leaves TLSv1.3 out by default
        location / {
            $pass
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate $certs/origin-ca.crt;
            proxy_ssl_name origin.test;
            proxy_ssl_server_name on;
            proxy_ssl_session_reuse on;
            proxy_ssl_protocols TLSv1.2 TLSv1.3;  # the same: TLS 1.3 to the origin too
        }
    }
}
CONF
        nginx -t -q -p "$SUT_DIR" -c "$SUT_DIR/nginx.conf" -e "$SUT_DIR/error.log"
        taskset -c "$SUT_CPU" nginx -p "$SUT_DIR" -c "$SUT_DIR/nginx.conf" -e "$SUT_DIR/error.log" \
            >"$SUT_DIR/log" 2>&1 &
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

# Ticks of one CPU: "busy all", busy = user nice system irq softirq (not idle, iowait,
# steal), all = every field. The shares are taken of "all", not of wall time: on this VM
# a CPU accounts 5-10 % more ticks than wall seconds when it is never idle.
core_ticks() {
    awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' \
        /proc/stat
}

# Waits (at most QUIET_WAIT seconds) until other processes leave SUT_CPU alone: its busy
# share over one second at most MAX_OTHER % (the system under test is idle meanwhile).
wait_quiet() {
    local end=$((SECONDS + QUIET_WAIT)) a b
    while ((SECONDS < end)); do
        read -ra a <<<"$(core_ticks "$SUT_CPU")"
        sleep 1
        read -ra b <<<"$(core_ticks "$SUT_CPU")"
        ((100 * (b[0] - a[0]) <= MAX_OTHER * (b[1] - a[1]))) && return 0
    done
    return 0
}

# tlsgate's counters: SIGUSR1 prints them as one JSON line on stderr.
tlsgate_stats() { # tlsgate_stats → the newest stats line
    local n
    n=$(grep -c 'tlsgate: stats' "$SUT_DIR/log" || true)
    kill -USR1 "$SUT_PID"
    for _ in $(seq 50); do
        (($(grep -c 'tlsgate: stats' "$SUT_DIR/log" || true) > n)) && break
        sleep 0.05
    done
    grep 'tlsgate: stats' "$SUT_DIR/log" | tail -1
}
counter() { grep -o "\"$1\": [0-9]*" <<<"$2" | grep -o '[0-9]*$'; }

spread() { # (max - min) / median, in %
    sort -g | awk '{v[NR] = $1} END {m = v[int((NR + 1) / 2)]
        if (m > 0) printf "%.0f", 100 * (v[NR] - v[1]) / m; else print 0}'
}

load() { # load SECONDS CLOSE → the client's "ok=… failed=… bytes=… seconds=…" line
    taskset -c "$LOAD_CPU" "$WORK/conns" "$HOST" "$SUT_PORT" "$1" "$2"
}

# One measured run of the current system: prints one line of "key=value" fields.
measure() { # measure SYSTEM CLOSE
    local sut=$1 out conns bytes secs c0 c1 k0 k1 s0 s1 l0 l1 reused=- origin=- hits=- misses=-
    wait_quiet
    load "$WARM" "$2" >"$SUT_DIR/warm.out" || { # warm-up: allocator pools, the origin session
        echo "$sut: the warm-up failed: $(cat "$SUT_DIR/warm.out")" >&2
        return 1
    }
    [[ $sut == tlsgate* ]] && s0=$(tlsgate_stats)
    l0=$(wc -l <"$ORIGIN_LOG")
    c0=$(cpu_ticks "$SUT_PID") k0=$(core_ticks "$SUT_CPU")
    out=$(load "$T" "$2") || {
        echo "$sut: the load failed: $out" >&2
        return 1
    }
    c1=$(cpu_ticks "$SUT_PID") k1=$(core_ticks "$SUT_CPU")
    conns=$(field ok <<<"$out") bytes=$(field bytes <<<"$out") secs=$(field seconds <<<"$out")
    [[ $(field failed <<<"$out") == 0 ]] || echo "WARNING: $sut: $out" >&2
    sleep 0.2 # the origin's log line of the last connection
    l1=$(wc -l <"$ORIGIN_LOG")
    if [[ $sut != *-plain ]]; then
        origin=$((l1 - l0))
        reused=$(tail -n +"$((l0 + 1))" "$ORIGIN_LOG" | head -n "$origin" | grep -c '^r ' || true)
        tail -n +"$((l0 + 1))" "$ORIGIN_LOG" | head -n "$origin" | cut -d' ' -f2- | sort | uniq -c |
            awk -v s="$key $sut" '{print s, $0}' >>"$WORK/origin-protocols.txt"
    fi
    if [[ $sut == tlsgate* ]]; then
        s1=$(tlsgate_stats)
        hits=$(($(counter origin_session_cache_hits "$s1") -
            $(counter origin_session_cache_hits "$s0")))
        misses=$(($(counter origin_session_cache_misses "$s1") -
            $(counter origin_session_cache_misses "$s0")))
        local fails
        fails=$(($(counter ssl_origin_verify_failure "$s1") +
            $(counter origin_handshake_failure "$s1")))
        ((fails == 0)) || echo "WARNING: $sut: $fails origin verification/handshake failures" >&2
    fi
    # conn/s over the client's own clock; busy and other as shares of the CPU's ticks.
    read -ra k0 <<<"$k0"
    read -ra k1 <<<"$k1"
    awk -v n="$conns" -v b="$bytes" -v secs="$secs" -v c=$((c1 - c0)) -v k=$((k1[0] - k0[0])) \
        -v all=$((k1[1] - k0[1])) -v hz="$TICKS" -v o="$origin" -v r="$reused" -v h="$hits" \
        -v m="$misses" 'BEGIN {
        printf "conns=%d rate=%.0f us=%.0f busy=%.0f other=%.0f bytes=%d", n, n / secs,
            c / hz * 1e6 / n, 100 * c / all, 100 * (k - c) / all, b
        printf " origin=%s reused=%s hits=%s misses=%s\n", o, r, h, m }'
}

# The µs CPU/conn of each repetition, "*" after one that stayed disturbed.
per_rep() { awk '{u = d = ""; for (i = 1; i <= NF; i++) {if ($i ~ /^us=/) u = substr($i, 4)
    if ($i == "disturbed=1") d = "*"}; printf "%s%s%s", (NR > 1 ? " " : ""), u, d}'; }
us_by_rep() { # us_by_rep SYSTEM RESULTS → "rep µs" lines, sorted for join
    grep "^$1 rep=" "$2" | awk '{for (i = 1; i <= NF; i++) {if ($i ~ /^rep=/) r = substr($i, 5)
        if ($i ~ /^us=/) u = substr($i, 4)}; print r, u}' | sort
}
field() { grep -o "\(^\| \)$1=[^ ]*" | cut -d= -f2; } # field NAME < lines

# --- run ----------------------------------------------------------------------------------------
printf '%s, tlsgate %s (sha256 %s), %s, %s; T=%ss, median of %s; system on CPU %s, client and origin on CPU %s\n' \
    "$(date -u +%Y-%m-%d)" "$("$TLSGATE_BIN" --version | head -1 | awk '{print $2}')" "$TLSGATE_SHA" \
    "$(nginx -v 2>&1 | sed 's/^nginx version: //')" "$(openssl version | awk '{print $1, $2}')" \
    "$T" "$REPS" "$SUT_CPU" "$LOAD_CPU"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$WORK/origin-protocols.txt"
for key in $KEYS; do
    make_certs "$key" "$WORK/certs-$key"
    start_origin "$WORK/certs-$key"
    for close in $CLOSES; do : >"$WORK/results-$key-$close"; done
    for rep in $(seq "$REPS"); do # interleaved: every system once per repetition
        for close in $CLOSES; do
            for sut in $SUTS; do
                start_sut "$sut" "$WORK/certs-$key"
                if ((rep == 1)); then # sanity: a verifying client gets "ok" through the system
                    got=$(curl -s --cacert "$WORK/certs-$key/origin-ca.crt" \
                        --resolve "proxy.test:$SUT_PORT:$HOST" "https://proxy.test:$SUT_PORT/" || true)
                    [[ $got == ok ]] || {
                        echo "$sut does not answer ok (got: ${got:0:80})" >&2
                        cat "$SUT_DIR/log" "$SUT_DIR/error.log" 2>/dev/null | tail -5 >&2
                        exit 1
                    }
                fi
                for try in $(seq 0 "$RETRIES"); do
                    line=$(measure "$sut" "$close")
                    [[ -n ${VERBOSE:-} ]] && echo "  $key $close $sut rep $rep: $line" >&2
                    (($(field other <<<" $line") <= MAX_OTHER)) && break
                    ((try < RETRIES)) || { line+=" disturbed=1" && break; }
                    echo "  $key $close $sut rep $rep: other processes took" \
                        "$(field other <<<" $line")% of CPU $SUT_CPU; again" >&2
                    stop_sut
                    sleep 5
                    start_sut "$sut" "$WORK/certs-$key"
                done
                echo "$sut rep=$rep $line" >>"$WORK/results-$key-$close"
                stop_sut
            done
        done
    done
    stop_origin

    for close in $CLOSES; do
        results=$WORK/results-$key-$close
        echo
        echo "$([[ $key == ec ]] && echo "ECDSA P-256" || echo "RSA-2048") certificates," \
            "client close: $close ($(case $close in quiet) echo "FIN, no close_notify" ;;
                reset) echo "RST, no close_notify, as openssl s_time" ;;
                *) echo "close_notify, then FIN" ;; esac))"
        printf '%-16s %6s %15s %6s %6s %5s %5s %8s %5s   %s\n' system "conn/s" "µs CPU/conn" "+µs" \
            "÷nginx" busy other resumed bytes \
            "(µs CPU/conn per rep; origin resumed; tlsgate cache hits/misses)"
        for sut in $SUTS; do
            rows=$(grep "^$sut rep=" "$results")
            us=$(field us <<<"$rows" | median)
            sp=$(field us <<<"$rows" | spread)
            # +µs: over the same server's terminate-only row, when it ran
            base=$([[ $sut == nginx* ]] && echo nginx-plain || echo tlsgate-plain) extra=-
            if [[ $sut != *-plain ]] && grep -q "^$base rep=" "$results"; then
                extra=$((us - $(grep "^$base rep=" "$results" | field us | median)))
            fi
            # ÷nginx: tlsgate's µs over nginx's in the same repetition (the terminate-only rows
            # over nginx-plain), median: slow spells of the VM hit both alike.
            peer=$([[ $sut == *-plain ]] && echo nginx-plain || echo nginx) ratio=-
            if [[ $sut == tlsgate* ]] && grep -q "^$peer rep=" "$results"; then
                ratio=$(join <(us_by_rep "$sut" "$results") <(us_by_rep "$peer" "$results") |
                    awk '{printf "%.2f\n", $2 / $3}' | median)
            fi
            resumed=- cache=
            if [[ $sut != *-plain ]]; then
                resumed=$(paste -d' ' <(field reused <<<"$rows") <(field origin <<<"$rows") |
                    awk '{r += $1; o += $2} END {printf "%.0f%%", o ? 100 * r / o : 0}')
                cache="; $(paste -d/ <(field reused <<<"$rows") <(field origin <<<"$rows") |
                    xargs)"
            fi
            [[ $sut == tlsgate* && $sut != *-plain ]] &&
                cache+="; $(paste -d/ <(field hits <<<"$rows") <(field misses <<<"$rows") | xargs)"
            printf '%-16s %6s %9s ±%3s%% %6s %6s %4s%% %4s%% %8s %5s   (%s%s)\n' "$sut" \
                "$(field rate <<<"$rows" | median)" "$us" "$sp" "$extra" "$ratio" \
                "$(field busy <<<"$rows" | median)" "$(field other <<<"$rows" | median)" \
                "$resumed" "$(field bytes <<<"$rows" | median)" "$(per_rep <<<"$rows")" "$cache"
        done
    done
done
echo
echo "* = a run during which other processes took more than $MAX_OTHER % of CPU $SUT_CPU" \
    "(after $RETRIES retries)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "what the origin negotiated with each proxy (keys, system, protocol, cipher: connections):"
awk '{n[$1 " " $2 " " $4 " " $5] += $3} END {for (k in n) print "  " k ": " n[k]}' \
    "$WORK/origin-protocols.txt" | sort
