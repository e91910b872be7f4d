#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets that need more than a hand-written file.

  fuzz/make_seeds.py configs      multicert, gateway_config, sni_config: the README's and
                                  packaging/examples' configuration examples
  fuzz/make_seeds.py ticket_keys  key files of 1 and 3 keys (patterned bytes, not keys in use)
  fuzz/make_seeds.py ocsp         OCSP responses about ocsp_fuzz.cc's certificate
  fuzz/make_seeds.py handshake    ClientHellos of openssl s_client, curl and Python's ssl,
                                  captured on a loopback socket, behind plan bytes

Run from the repository root; the output goes to fuzz/corpus/<target>/ and is committed.
Nothing written is secret: the OCSP issuer key is derived from a constant that the fuzz
target shares, and a ClientHello carries only ephemeral public key shares.
"""
import datetime
import hashlib
import os
import re
import socket
import subprocess
import sys
import threading

CORPUS = "fuzz/corpus"


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def readme_blocks():
    text = open("README.md", encoding="utf-8").read()
    return re.findall(r"```(\w*)\n(.*?)```", text, re.S)


def configs():
    yaml_blocks = [body for lang, body in readme_blocks() if lang == "yaml"]
    sni = [b for b in yaml_blocks if re.match(r"\s*(#.*\n\s*)*sni:\s*\n", b)]
    gateway = [b for b in yaml_blocks if b not in sni and re.search(r"^(ssl|listeners|routes):", b, re.M)]
    for i, body in enumerate(sni):
        write("sni_config", f"readme_{i}.yaml", body)
    for i, body in enumerate(gateway):
        write("gateway_config", f"readme_{i}.yaml", body)
    multicert = [body for lang, body in readme_blocks() if lang == "" and "ssl_cert_name=" in body]
    for i, body in enumerate(multicert):
        write("multicert", f"readme_{i}.config", body)
    examples = "packaging/examples"
    for name, target in (("tlsgate.yaml", "gateway_config"), ("sni.yaml", "sni_config"),
                         ("ssl_multicert.config", "multicert")):
        write(target, "example_" + name, open(os.path.join(examples, name), "rb").read())


def ticket_keys():
    def key(n):
        return bytes((n * 48 + i) & 0xFF for i in range(48))
    write("ticket_keys", "one_key", key(1))
    write("ticket_keys", "three_keys", key(1) + key(2) + key(1))
    write("ticket_keys", "short", key(1)[:47])


def ocsp():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.x509 import ocsp as xocsp
    from cryptography.x509.oid import NameOID

    # ocsp_fuzz.cc's kIssuerSeed (31 characters and the terminating NUL), name and serial.
    issuer_key = ed25519.Ed25519PrivateKey.from_private_bytes(b"tlsgate ocsp fuzz issuer seed..\0")
    issuer_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tlsgate fuzz OCSP issuer")])
    now = datetime.datetime.utcnow()

    def cert(serial, subject, key):
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
                .public_key(key.public_key()).serial_number(serial)
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=365))
                .sign(issuer_key, None))

    issuer = cert(1, issuer_name, issuer_key)
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ocsp.fuzz.test")])
    leaf = cert(2, leaf_name, ec.generate_private_key(ec.SECP256R1()))
    other = cert(3, leaf_name, ec.generate_private_key(ec.SECP256R1()))
    year = datetime.timedelta(days=3650)

    def response(name, about, status, next_update, revoked=None):
        builder = xocsp.OCSPResponseBuilder().add_response(
            cert=about, issuer=issuer, algorithm=hashes.SHA1(), cert_status=status,
            this_update=now - datetime.timedelta(days=1), next_update=next_update,
            revocation_time=revoked, revocation_reason=None)
        builder = builder.responder_id(xocsp.OCSPResponderEncoding.HASH, issuer)
        write("ocsp", name, builder.sign(issuer_key, None).public_bytes(serialization.Encoding.DER))

    good = xocsp.OCSPCertStatus.GOOD
    response("good", leaf, good, now + year)
    response("good_no_next_update", leaf, good, None)
    response("expired", leaf, good, now - datetime.timedelta(hours=1))
    response("revoked", leaf, xocsp.OCSPCertStatus.REVOKED, now + year, now - year)
    response("unknown", leaf, xocsp.OCSPCertStatus.UNKNOWN, now + year)
    response("other_certificate", other, good, now + year)
    unsuccessful = xocsp.OCSPResponseBuilder.build_unsuccessful(xocsp.OCSPResponseStatus.TRY_LATER)
    write("ocsp", "try_later", unsuccessful.public_bytes(serialization.Encoding.DER))


def capture_client_hello(run_client):
    """The first flight a client sends to a listener that never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    client = threading.Thread(target=run_client, args=(port,))
    client.start()
    conn, _ = listener.accept()
    conn.settimeout(5)
    data = b""
    # Whole records until the ClientHello (handshake type 1) is complete.
    while len(data) < 9 or len(data) < 9 + int.from_bytes(data[6:9], "big"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    conn.close()
    listener.close()
    client.join()
    return data


def openssl_client(*args):
    def run(port):
        subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    return run


def curl_client(port):
    subprocess.run(["curl", "-sk", "--max-time", "5", "--resolve", f"a.test:{port}:127.0.0.1",
                    f"https://a.test:{port}/"], capture_output=True, timeout=30)


def python_client(sni, alpn, tls12=False):
    def run(port):
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(alpn)
        if tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                ctx.wrap_socket(s, server_hostname=sni)
        except (OSError, ssl.SSLError):
            pass
    return run


# Plan bytes (server_handshake_fuzz.cc): hooks of VCONN_START, CLIENT_HELLO, CERT,
# VERIFY_CLIENT, then the owner, then the split.
PLANS = {
    "plain": bytes([0, 0, 0, 0, 0, 0]),
    "held_one_byte": bytes([0x08, 0x10, 0x08, 0, 0, 1]),
    "hello_tunnel_pieces": bytes([0, 0x0B, 0, 0, 0, 7]),
    "cert_hook_tls12_no_tickets": bytes([0, 0, 0x12, 0, 0x0C, 0]),
    "owner_stop_eof": bytes([0x80, 0x80, 0x80, 0x80, 0x22, 200]),
}


def handshake():
    clients = {
        "openssl_tls13_alpn": openssl_client("-servername", "a.test", "-alpn", "h2,http/1.1"),
        "openssl_tls12": openssl_client("-tls1_2", "-servername", "default.test", "-alpn", "http/1.1"),
        "openssl_no_sni": openssl_client("-noservername"),
        "openssl_hrr_groups": openssl_client("-servername", "x.wild.test", "-groups", "ffdhe2048:X25519"),
        "curl": curl_client,
        "python_upper_sni": python_client("A.Test", ["h2"]),
        "python_tls12": python_client("x.wild.test", ["http/1.1", "h2"], tls12=True),
    }
    for name, client in clients.items():
        hello = capture_client_hello(client)
        if not hello.startswith(b"\x16\x03"):
            sys.exit(f"{name}: no ClientHello captured")
        plans = list(PLANS.items())
        # Each ClientHello with two plans, every plan with some ClientHello.
        index = list(clients).index(name)
        for plan_name, plan in (plans[0], plans[1 + index % (len(plans) - 1)]):
            write("server_handshake", f"{name}.{plan_name}", plan + hello)


if __name__ == "__main__":
    steps = {"configs": configs, "ticket_keys": ticket_keys, "ocsp": ocsp, "handshake": handshake}
    for step in sys.argv[1:] or steps:
        steps[step]()
