# shellcheck shell=bash
# The systems of bench/overload.sh (sourced): each one an L4 TLS terminator with one worker,
# the RSA-2048 certificate on $HOST:$PORT, relaying to the origin, and, with limits on, its
# best per-source limiting. Uses WORK HOST PORT ORIGIN_PORT ADMIN_PORT SUT_CPU NICE_SUT
# PER_SOURCE_RATE PER_SOURCE_CONN OVERLOAD_TLSGATE_ADMISSION(_FILE) TLSGATE_BIN; sets SUT_PID.

# What each system's limits are, for the table and the JSON.
limits_text() {
    case $1 in
        tlsgate)
            if ((OVERLOAD_TLSGATE_ADMISSION)); then
                if [[ -n ${OVERLOAD_TLSGATE_ADMISSION_FILE:-} ]]; then
                    echo "admission section of $OVERLOAD_TLSGATE_ADMISSION_FILE"
                else
                    echo "admission: per source ${PER_SOURCE_RATE} conn/s (burst $((2 * PER_SOURCE_RATE))), $((PER_SOURCE_RATE / 2)) full handshakes/s (burst ${PER_SOURCE_RATE}), per_source_handshakes $PER_SOURCE_CONN, shedding on"
                fi
            else
                echo "NONE (no admission section)"
            fi ;;
        nginx-stream) echo "limit_conn \$binary_remote_addr $PER_SOURCE_CONN, multi_accept on" ;;
        haproxy-tcp) echo "stick-table src: reject if conn_rate(1s) > ${PER_SOURCE_RATE} or conn_cur > $PER_SOURCE_CONN" ;;
    esac
}

tlsgate_config() {  # tlsgate_config LIMITS
    cat <<EOF
threads: 1
drain_timeout: 1
listeners:
  - listen: $HOST:$PORT
ssl:
  multicert: ssl_multicert.config
routes:
  default: $HOST:$ORIGIN_PORT
admin:
  listen: $HOST:$ADMIN_PORT
EOF
    ((!$1 || !OVERLOAD_TLSGATE_ADMISSION)) && return 0
    if [[ -n ${OVERLOAD_TLSGATE_ADMISSION_FILE:-} ]]; then cat "$OVERLOAD_TLSGATE_ADMISSION_FILE"; return 0; fi
    # Connections are charged at accept, full handshakes at the ClientHello; resumptions are
    # free, so a legitimate client with a ticket never meets the handshake bucket.
    cat <<EOF
admission:
  per_source_handshakes: $PER_SOURCE_CONN
  shed:
    enabled: true
  rules:
    - action: limit
      per: source
      connections_per_second: $PER_SOURCE_RATE
      connection_burst: $((2 * PER_SOURCE_RATE))
      handshakes_per_second: $((PER_SOURCE_RATE / 2))
      handshake_burst: $PER_SOURCE_RATE
EOF
}

nginx_config() {  # nginx_config LIMITS
    local zone='' limit='' multi_accept=off
    if (($1)); then
        # stream has no limit_req: limit_conn (preaccess phase, before the TLS handshake) is
        # its only per-address limit. Rejections are logged at warn, below error_log's level.
        # It bounds connections in progress, so it only bites if the worker accepts what is
        # queued at once (multi_accept): accepting one connection per event loop pass, nginx
        # meets each source's connections one at a time and admits nearly all of them (see
        # bench/README.md, "Handshake flood").
        zone="limit_conn_zone \$binary_remote_addr zone=perip:10m; limit_conn_log_level warn;"
        limit="limit_conn perip $PER_SOURCE_CONN;"
        multi_accept=${NGINX_MULTI_ACCEPT:-on}
    fi
    cat <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx-stream/nginx.pid;
error_log $WORK/nginx-stream/error.log error;
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
events { worker_connections 16000; multi_accept $multi_accept; }
stream {
    ssl_protocols TLSv1.2 TLSv1.3;
    $zone
    server {
        listen $HOST:$PORT ssl backlog=4096;
        ssl_certificate $WORK/rsa.crt;
        ssl_certificate_key $WORK/rsa.key;
        $limit
        proxy_pass $HOST:$ORIGIN_PORT;
    }
}
EOF
}

haproxy_config() {  # haproxy_config LIMITS
    local table=''
    if (($1)); then
        # tcp-request connection rules run at accept, before the TLS handshake.
        table="stick-table type ip size 100k expire 30s store conn_rate(1s),conn_cur
    tcp-request connection track-sc0 src
    tcp-request connection reject if { sc_conn_rate(0) gt $PER_SOURCE_RATE } || { sc_conn_cur(0) gt $PER_SOURCE_CONN }"
    fi
    cat <<EOF
global
    nbthread 1
    maxconn 8000
    ssl-default-bind-options ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    maxconn 8000
frontend tls
    bind $HOST:$PORT ssl crt $WORK/rsa.pem
    backlog 4096
    $table
    default_backend origin
backend origin
    server origin $HOST:$ORIGIN_PORT
EOF
}

start_sut() {  # start_sut SUT LIMITS(0|1): configure, start pinned, wait for the port
    local s=$1 dir=$WORK/$1 cmd p
    mkdir -p "$dir"
    case $s in
        tlsgate)
            echo "dest_ip=* ssl_cert_name=$WORK/rsa.crt ssl_key_name=$WORK/rsa.key" \
                >"$dir/ssl_multicert.config"
            tlsgate_config "$2" >"$dir/tlsgate.yaml"
            "$TLSGATE_BIN" -c "$dir/tlsgate.yaml" --check >"$dir/log" 2>&1 ||
                die "tlsgate rejects its configuration (an admission section needs the lead's" \
                    "admission code; OVERLOAD_TLSGATE_ADMISSION=0 runs without it): $(cat "$dir/log")"
            cmd=("$TLSGATE_BIN" -c "$dir/tlsgate.yaml") ;;
        nginx-stream)
            nginx_config "$2" >"$dir/nginx.conf"
            cmd=(nginx -c "$dir/nginx.conf") ;;
        haproxy-tcp)
            haproxy_config "$2" >"$dir/haproxy.cfg"
            cmd=(haproxy -db -f "$dir/haproxy.cfg") ;;
    esac
    taskset -c "$SUT_CPU" nice -n "$NICE_SUT" "${cmd[@]}" >>"$dir/log" 2>&1 </dev/null &
    SUT_PID=$!
    wait_port "$PORT" || return 1
    # nginx's worker and any thread started later inherit CPU_SUT; pin them all anyway.
    for p in "$SUT_PID" $(pgrep -P "$SUT_PID" || true); do taskset -a -cp "$SUT_CPU" "$p" >/dev/null; done
}

tlsgate_stats() {  # tlsgate's counters, from its admin endpoint, as JSON
    curl -sf "http://$HOST:$ADMIN_PORT/stats"
}
