"""The origins' PKI, made at test time with the `openssl` command (STYLE rule 9).

tlsgate is the TLS *client* here: these are the certificates its origins present, the CA
it is told to trust (`ssl: client: ca_certs`), and the client certificate it presents when
an origin asks for one. Nothing is committed: `OriginPki.generate()` writes every file into
a temporary directory. Keys are ECDSA P-256 (fast to make); the key and signing helpers
are pki.py's (`Pki` is reused, not changed).

Layout (file names inside the directory):
  origin-ca.crt / .key          root CA tlsgate trusts (ca_certs)
  origin-inter.crt / .key       intermediate signed by origin-ca (pathlen 0)
  valid.crt / .key              CN=origin.test, SAN DNS:origin.test, signed by origin-ca
  expired.crt / .key            as valid, but its validity ended yesterday (`openssl ca`
                                with -startdate/-enddate: OpenSSL 3.0's `x509 -req` cannot
                                backdate)
  rogue-ca.crt / .key           a CA tlsgate does not know
  unknown-ca.crt / .key         CN=origin.test, SAN DNS:origin.test, signed by rogue-ca
  wrong-host.crt / .key         CN=wrong.test, SAN DNS:wrong.test, signed by origin-ca
  wild.crt / .key               CN=*.wild.origin.test, SAN DNS:*.wild.origin.test
  ip.crt / .key                 CN=origin by address, SAN IP:127.0.0.1 only (no DNS name)
  chain-leaf.crt / .key         CN=origin.test signed by origin-inter
  chain.crt                     chain-leaf.crt + origin-inter.crt (what the origin sends)
  deep-inter-1.crt / .key       intermediate signed by origin-ca (pathlen 1)
  deep-inter-2.crt / .key       intermediate signed by deep-inter-1 (pathlen 0)
  deep-leaf.crt / .key          CN=origin.test signed by deep-inter-2
  deep.crt                      deep-leaf + deep-inter-2 + deep-inter-1: two intermediates
  client-ca.crt / .key          the CA an mTLS origin trusts for its clients
  client.crt / .key             CN=tlsgate origin client, clientAuth, signed by client-ca
  stray-client.crt / .key       another client certificate, for the key-mismatch check
"""

from __future__ import annotations

import datetime
import secrets
from pathlib import Path

from pki import _CA_EXT, _LEAF_EXT, _REQ_CONFIG, Pki, run_openssl

ORIGIN_NAME = "origin.test"
WILDCARD_DOMAIN = "wild.origin.test"
CLIENT_CN = "tlsgate origin client"

_CLIENT_EXT = """\
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""

# A CA folder for `openssl ca`, the one command of OpenSSL 3.0 that signs with chosen dates.
_CA_CONFIG = """\
[ca]
default_ca = backdating
[backdating]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = any_name
unique_subject = no
copy_extensions = none
[any_name]
commonName = supplied
"""


class OriginPki(Pki):
    """`crt(name)` / `key(name)` as in pki.py; `generate()` makes the layout above."""

    @property
    def ca(self) -> Path:
        return self.crt("origin-ca")

    def _self_signed_ca(self, name: str, cn: str) -> None:
        self._genkey(self.key(name), "ec")
        run_openssl("req", "-x509", "-new", "-config", str(self.root / "req.cnf"),
                    "-extensions", "v3_ca", "-key", str(self.key(name)), "-subj", f"/CN={cn}",
                    "-days", "30", "-sha256", "-set_serial", str(secrets.randbits(63) + 1),
                    "-out", str(self.crt(name)))

    def _leaf(self, name: str, cn: str, san: str, issuer: str, ext: str = _LEAF_EXT) -> None:
        self._genkey(self.key(name), "ec")
        self._sign(name, f"/CN={cn}", issuer, ext.format(san=san))

    def _expired_leaf(self, name: str, cn: str, san: str, issuer: str) -> None:
        """Validity from 10 days ago to yesterday, signed by `issuer` with `openssl ca`."""
        self._genkey(self.key(name), "ec")
        cadir = self.root / f"{name}-ca-dir"
        (cadir / "newcerts").mkdir(parents=True)
        (cadir / "index.txt").write_text("")
        (cadir / "serial").write_text(f"{secrets.randbits(63) | 1 << 62:016X}\n")
        cnf = cadir / "ca.cnf"
        cnf.write_text(_CA_CONFIG.format(dir=cadir))
        ext = cadir / "leaf.ext"
        ext.write_text(_LEAF_EXT.format(san=san))
        csr = cadir / "leaf.csr"
        run_openssl("req", "-new", "-config", str(self.root / "req.cnf"),
                    "-key", str(self.key(name)), "-subj", f"/CN={cn}", "-out", str(csr))
        now = datetime.datetime.now(datetime.timezone.utc)
        fmt = "%Y%m%d%H%M%SZ"
        run_openssl("ca", "-batch", "-config", str(cnf), "-cert", str(self.crt(issuer)),
                    "-keyfile", str(self.key(issuer)), "-in", str(csr),
                    "-out", str(self.crt(name)), "-notext", "-extfile", str(ext),
                    "-startdate", (now - datetime.timedelta(days=10)).strftime(fmt),
                    "-enddate", (now - datetime.timedelta(days=1)).strftime(fmt))

    def generate(self) -> "OriginPki":
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "req.cnf").write_text(_REQ_CONFIG)
        self._self_signed_ca("origin-ca", "tlsgate e2e origin CA")
        self._genkey(self.key("origin-inter"), "ec")
        self._sign("origin-inter", "/CN=tlsgate e2e origin intermediate", "origin-ca", _CA_EXT)
        self._self_signed_ca("rogue-ca", "a CA tlsgate does not trust")
        self._self_signed_ca("client-ca", "tlsgate e2e origin client CA")

        dns = f"DNS:{ORIGIN_NAME}"
        self._leaf("valid", ORIGIN_NAME, dns, "origin-ca")
        self._expired_leaf("expired", ORIGIN_NAME, dns, "origin-ca")
        self._leaf("unknown-ca", ORIGIN_NAME, dns, "rogue-ca")
        self._leaf("wrong-host", "wrong.test", "DNS:wrong.test", "origin-ca")
        self._leaf("wild", f"*.{WILDCARD_DOMAIN}", f"DNS:*.{WILDCARD_DOMAIN}", "origin-ca")
        self._leaf("ip", "origin by address", "IP:127.0.0.1", "origin-ca")
        self._leaf("chain-leaf", ORIGIN_NAME, dns, "origin-inter")
        self.crt("chain").write_text(self.crt("chain-leaf").read_text()
                                     + self.crt("origin-inter").read_text())
        self._genkey(self.key("deep-inter-1"), "ec")
        self._sign("deep-inter-1", "/CN=tlsgate e2e origin deep intermediate 1", "origin-ca",
                   _CA_EXT.replace("pathlen:0", "pathlen:1"))
        self._genkey(self.key("deep-inter-2"), "ec")
        self._sign("deep-inter-2", "/CN=tlsgate e2e origin deep intermediate 2", "deep-inter-1",
                   _CA_EXT)
        self._leaf("deep-leaf", ORIGIN_NAME, dns, "deep-inter-2")
        self.crt("deep").write_text("".join(self.crt(n).read_text() for n in
                                            ("deep-leaf", "deep-inter-2", "deep-inter-1")))
        self._leaf("client", CLIENT_CN, "", "client-ca", _CLIENT_EXT)
        self._leaf("stray-client", "stray client", "", "client-ca", _CLIENT_EXT)
        return self

    def check_dates(self) -> None:
        """Sanity check of the generated set: `openssl x509 -checkend 0` says expired.crt has
        expired and valid.crt has not."""
        out = run_openssl("x509", "-noout", "-checkend", "0", "-in", str(self.crt("valid")))
        assert "will not expire" in out, out
        try:
            run_openssl("x509", "-noout", "-checkend", "0", "-in", str(self.crt("expired")))
        except RuntimeError:
            return  # exit status 1: it expires within 0 seconds, i.e. it has expired
        raise AssertionError("expired.crt is not expired")
