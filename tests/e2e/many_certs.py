"""Many server certificates in seconds, signed by the test PKI's CA (pki.py), with Python's
`cryptography`: one `openssl x509 -req` process per certificate costs tens of milliseconds,
signing in-process well under one. The certificates share one P-256 key (the store keeps
each certificate and key apart all the same); each PEM file holds the certificate, then the
key, as `ssl_cert_name=<name>.pem` without `ssl_key_name` expects."""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path

from pki import Pki


def issue_many(pki: Pki, folder: Path, names: list[str], *,
               valid_days: dict[str, float] | None = None) -> dict[str, str]:
    """Writes <folder>/<name>.pem for each name (CN and DNS SAN `name`), valid 30 days or
    valid_days[name] (negative: expired that long ago). Returns {name: SHA-256 of its DER}."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_key = serialization.load_pem_private_key(pki.key("ca").read_bytes(), None)
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    valid_days = valid_days or {}
    fingerprints = {}
    folder.mkdir(parents=True, exist_ok=True)
    for serial, name in enumerate(names, start=1):
        days = valid_days.get(name, 30)
        not_after = now + datetime.timedelta(days=days)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                .issuer_name(ca.subject)
                .public_key(key.public_key())
                .serial_number(serial)
                .not_valid_before(min(now, not_after) - datetime.timedelta(days=1))
                .not_valid_after(not_after)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM)
                                             + key_pem)
        fingerprints[name] = hashlib.sha256(
            cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return fingerprints
