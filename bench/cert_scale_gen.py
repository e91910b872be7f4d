"""The certificates of bench/cert_scale.sh, made with python3-cryptography on every core.

A folder holds:
  ca.pem                       the CA (certificate, then key) that signs every leaf
  default.pem                  default.scale.test, the default entry (dest_ip=*)
  certs/n<i>.scale.test.pem    one per name: an ECDSA P-256 certificate (CN and SAN the name,
                               a random serial), then its key (PKCS#8), in one file
  spare/n<i>.scale.test.pem    another key and certificate for each name: swap_all() trades
                               the two folders' files, which changes every certificate in
                               renames instead of generating them again
A file is written under another name and renamed into place, so that no server ever reads
half of one. When it replaces a file, the old one is removed first: ext4 (auto_da_alloc)
writes a file's data out before it renames it over another one, 2.5 ms a file here, so a
rename over 100,000 files would take minutes. (Nothing reads the files while they are
rewritten: the bench rewrites them between reloads.)
"""

from __future__ import annotations

import datetime
import os
from multiprocessing import Pool
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SUFFIX = ".scale.test"
CHUNK = 500  # names per task: few enough tasks to keep the pool's overhead small


def name(i: int) -> str:
    return f"n{i}{SUFFIX}"


def leaf_path(folder: Path, i: int, kind: str = "certs") -> Path:
    return folder / kind / f"{name(i)}.pem"


def _pem(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bytes:
    """The certificate, then its key (PKCS#8), as one PEM file holds them."""
    return cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


class _Signer:
    """The CA's key and name, loaded once per process."""

    def __init__(self, folder: Path):
        pem = (folder / "ca.pem").read_bytes()
        self.key = serialization.load_pem_private_key(pem, None)
        self.name = x509.load_pem_x509_certificate(pem).subject
        now = datetime.datetime.now(datetime.timezone.utc)
        self.not_before = now - datetime.timedelta(hours=1)
        self.not_after = now + datetime.timedelta(days=30)
        self.folder = folder

    def pem(self, host: str) -> bytes:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
                .issuer_name(self.name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(self.not_before).not_valid_after(self.not_after)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
                .sign(self.key, hashes.SHA256()))
        return _pem(cert, key)

    def write(self, target: Path, host: str) -> None:
        temporary = self.folder / f".{os.getpid()}.tmp"  # same file system as the target
        temporary.write_bytes(self.pem(host))
        try:
            os.unlink(target)
        except FileNotFoundError:
            pass
        os.replace(temporary, target)


_signer: _Signer | None = None


def _start_worker(folder: Path) -> None:
    global _signer
    _signer = _Signer(folder)


def _write_chunk(task: tuple[str, list[int]]) -> int:
    kind, indices = task
    for i in indices:
        _signer.write(leaf_path(_signer.folder, i, kind), name(i))
    return len(indices)


def _write_ca(folder: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cert_scale bench CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (folder / "ca.pem").write_bytes(_pem(cert, key))


def write_leaves(folder: Path, indices: list[int], processes: int,
                 kind: str = "certs") -> None:
    """(Re)writes the leaves of `indices` with fresh keys and certificates."""
    chunks = [(kind, indices[k:k + CHUNK]) for k in range(0, len(indices), CHUNK)]
    if len(chunks) <= 1 or processes <= 1:
        _start_worker(folder)
        for chunk in chunks:
            _write_chunk(chunk)
        return
    with Pool(processes, initializer=_start_worker, initargs=(folder,)) as pool:
        for _ in pool.imap_unordered(_write_chunk, chunks):
            pass


def ensure(folder: Path, n: int, processes: int, kinds: tuple[str, ...]) -> int:
    """Makes `folder` hold the CA, the default and names 0..n-1 in each of `kinds` ("certs",
    "spare"); keeps what is there. Returns how many leaves were generated."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "ca.pem").exists():
        _write_ca(folder)
    if not (folder / "default.pem").exists():
        _Signer(folder).write(folder / "default.pem", f"default{SUFFIX}")
    made = 0
    for kind in kinds:
        (folder / kind).mkdir(exist_ok=True)
        present = set(os.listdir(folder / kind))
        missing = [i for i in range(n) if f"{name(i)}.pem" not in present]
        write_leaves(folder, missing, processes, kind)
        made += len(missing)
    return made


def swap_all(folder: Path, n: int) -> None:
    """Trades the files of certs/ and spare/ for names 0..n-1: every name gets another key
    and certificate. Renames onto free names only (see above: no forced write-out)."""
    temporary = folder / ".swap.tmp"
    for i in range(n):
        current, spare = leaf_path(folder, i), leaf_path(folder, i, "spare")
        os.rename(current, temporary)
        os.rename(spare, current)
        os.rename(temporary, spare)
