"""Test PKI made at test time with the `openssl` command (STYLE rule 9).

Nothing here is committed: every key and certificate is generated into a temporary
directory by `Pki.generate()`.

Layout (file names inside the directory):
  ca.crt / ca.key              test root CA
  inter.crt / inter.key        intermediate CA signed by the root
  a.crt / a.key                RSA, CN=a.test, SAN DNS:a.test, DNS:alias-a.test
  b.crt / b.key                RSA, CN=b.test, SAN DNS:www.b.test (the name "b.test" only in CN)
  wild.crt / wild.key          RSA, CN=*.wild.test, SAN DNS:*.wild.test
  exact-wild.crt / .key        RSA, CN=exact.wild.test (a name the wildcard also covers)
  default.crt / default.key    RSA, CN=default.test, SAN DNS:default.test
  dual-rsa.crt / dual-rsa.key  RSA-2048, CN=dual.test
  dual-ec.crt / dual-ec.key    ECDSA P-256, CN=dual.test
  chain.crt / chain.key        RSA, CN=chain.test, signed by the intermediate
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

OPENSSL = "openssl"

_REQ_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""

_CA_EXT = """\
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""

_LEAF_EXT = """\
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = {san}
"""


def run_openssl(*args: str, cwd: Path | None = None, input: bytes | None = None) -> str:
    proc = subprocess.run(
        [OPENSSL, *args], cwd=cwd, input=input, capture_output=True, timeout=60
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"openssl {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stderr.decode(errors='replace')}"
        )
    return proc.stdout.decode(errors="replace")


@dataclass(frozen=True)
class Leaf:
    name: str          # file stem: a, b, wild, default, dual-rsa, dual-ec, chain
    cn: str
    sans: tuple[str, ...]
    key_type: str      # "rsa" or "ec"
    issuer: str        # "ca" or "inter"


LEAVES = (
    Leaf("a", "a.test", ("a.test", "alias-a.test"), "rsa", "ca"),
    Leaf("b", "b.test", ("www.b.test",), "rsa", "ca"),
    Leaf("wild", "*.wild.test", ("*.wild.test",), "rsa", "ca"),
    Leaf("exact-wild", "exact.wild.test", ("exact.wild.test",), "rsa", "ca"),
    Leaf("default", "default.test", ("default.test",), "rsa", "ca"),
    Leaf("dual-rsa", "dual.test", ("dual.test",), "rsa", "ca"),
    Leaf("dual-ec", "dual.test", ("dual.test",), "ec", "ca"),
    Leaf("chain", "chain.test", ("chain.test",), "rsa", "inter"),
)


class Pki:
    def __init__(self, root: Path):
        self.root = Path(root)
        self._fingerprints: dict[str, str] = {}
        self._subjects: dict[str, str] = {}

    # -- files ---------------------------------------------------------------------------
    def crt(self, name: str) -> Path:
        return self.root / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.root / f"{name}.key"

    @property
    def ca(self) -> Path:
        return self.crt("ca")

    @property
    def files(self) -> list[Path]:
        return sorted(p for p in self.root.iterdir() if p.suffix in (".crt", ".key"))

    # -- generation ----------------------------------------------------------------------
    def _genkey(self, path: Path, key_type: str) -> None:
        if key_type == "rsa":
            run_openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", str(path))
        elif key_type == "ec":
            run_openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-out", str(path))
        else:
            raise ValueError(key_type)
        path.chmod(0o600)

    def _sign(self, name: str, subject: str, issuer: str, ext_text: str) -> None:
        cfg = self.root / "req.cnf"
        csr = self.root / f"{name}.csr"
        ext = self.root / f"{name}.ext"
        ext.write_text(ext_text)
        run_openssl("req", "-new", "-config", str(cfg), "-key", str(self.key(name)),
                    "-subj", subject, "-out", str(csr))
        run_openssl("x509", "-req", "-in", str(csr), "-CA", str(self.crt(issuer)),
                    "-CAkey", str(self.key(issuer)), "-set_serial",
                    str(secrets.randbits(63) + 1), "-days", "30", "-sha256",
                    "-extfile", str(ext), "-out", str(self.crt(name)))
        csr.unlink()
        ext.unlink()

    def generate(self) -> "Pki":
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "req.cnf").write_text(_REQ_CONFIG)
        # Root CA (self-signed).
        self._genkey(self.key("ca"), "rsa")
        run_openssl("req", "-x509", "-new", "-config", str(self.root / "req.cnf"),
                    "-extensions", "v3_ca", "-key", str(self.key("ca")),
                    "-subj", "/CN=tlsgate e2e test CA", "-days", "30", "-sha256",
                    "-set_serial", str(secrets.randbits(63) + 1), "-out", str(self.ca))
        # Intermediate.
        self._genkey(self.key("inter"), "rsa")
        self._sign("inter", "/CN=tlsgate e2e intermediate", "ca", _CA_EXT)
        # Leaves.
        for leaf in LEAVES:
            self._genkey(self.key(leaf.name), leaf.key_type)
            san = ",".join(f"DNS:{n}" for n in leaf.sans)
            self._sign(leaf.name, f"/CN={leaf.cn}", leaf.issuer, _LEAF_EXT.format(san=san))
        return self

    # -- facts about certificates, as `openssl x509` reports them -------------------------
    def fingerprint(self, name: str) -> str:
        """SHA-256 of the DER certificate: lowercase hex without colons."""
        if name not in self._fingerprints:
            out = run_openssl("x509", "-noout", "-fingerprint", "-sha256",
                              "-in", str(self.crt(name)))
            self._fingerprints[name] = fingerprint_from_openssl_output(out)
        return self._fingerprints[name]

    def subject(self, name: str) -> str:
        """The subject in RFC 2253 form, e.g. 'CN=a.test'."""
        if name not in self._subjects:
            out = run_openssl("x509", "-noout", "-subject", "-nameopt", "RFC2253",
                              "-in", str(self.crt(name)))
            self._subjects[name] = out.strip().split("=", 1)[1].strip()
        return self._subjects[name]


def fingerprint_from_openssl_output(out: str) -> str:
    # "sha256 Fingerprint=AB:CD:..." (the prefix's case differs between versions).
    line = next(l for l in out.splitlines() if "Fingerprint=" in l)
    return line.split("=", 1)[1].strip().replace(":", "").lower()


def fingerprint_of_pem(pem: str) -> str:
    """SHA-256 fingerprint of a PEM certificate given as text (via `openssl x509`)."""
    return fingerprint_from_openssl_output(
        run_openssl("x509", "-noout", "-fingerprint", "-sha256", input=pem.encode()))
