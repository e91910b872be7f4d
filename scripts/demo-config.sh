#!/usr/bin/env bash
# Writes the built-in demo configuration into DIR: a demo CA and an RSA and an ECDSA
# certificate for localhost (generated once, kept on later runs), an ssl_multicert.config
# with one dual entry, and a tlsgate.yaml with TLS on 127.0.0.1:PORT answered by the
# built-in inspect endpoint, the admin endpoint on ADMIN_PORT and an access log. Used by
# scripts/demo.sh and by the tests that load the demo (tests/e2e/test_demo.py).
#
#   scripts/demo-config.sh DIR PORT ADMIN_PORT
set -euo pipefail
[[ $# -eq 3 ]] || { sed -n '2,9p' "$0"; exit 64; }
demo=$1 port=$2 admin_port=$3
mkdir -p "$demo"
if [[ ! -f $demo/ca.crt ]]; then
    echo "== generating demo certificates in demo/ (first run)"
    (
        cd "$demo"
        umask 077
        openssl req -x509 -nodes -days 3650 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
            -subj "/CN=tlsgate demo CA" -keyout ca.key -out ca.crt 2>/dev/null
        for kind in rsa ec; do
            if [[ $kind == rsa ]]; then newkey=(-newkey rsa:2048)
            else newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256); fi
            openssl req -nodes "${newkey[@]}" -subj "/CN=localhost" \
                -keyout "localhost-$kind.key" -out "localhost-$kind.csr" 2>/dev/null
            openssl x509 -req -in "localhost-$kind.csr" -CA ca.crt -CAkey ca.key \
                -CAcreateserial -days 825 -out "localhost-$kind.crt" \
                -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') \
                2>/dev/null
            rm -f "localhost-$kind.csr"
        done
        chmod 644 ca.crt localhost-*.crt
    )
fi
cat >"$demo/ssl_multicert.config" <<CONF
# One entry, two certificates: ECDSA clients get the ECDSA one, RSA-only clients the RSA one.
dest_ip=* ssl_cert_name=localhost-rsa.crt,localhost-ec.crt ssl_key_name=localhost-rsa.key,localhost-ec.key
CONF
cat >"$demo/tlsgate.yaml" <<CONF
threads: auto
listeners:
  - listen: 127.0.0.1:$port
ssl:
  multicert: ssl_multicert.config
  handshake_timeout_in: 30
  allow_client_renegotiation: false
  alpn: [http/1.1]
routes:
  default: builtin:inspect
admin:
  listen: 127.0.0.1:$admin_port
access_log:
  path: access.log
CONF

