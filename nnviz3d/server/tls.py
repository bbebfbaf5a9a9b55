"""HTTPS for headsets on the local network: WebXR needs a secure context, and a page from
``http://192.168.x.y`` is not one.

``--tls`` uses the certificate the user gives (``--certfile``/``--keyfile``) or a self-signed
one generated on first use and kept in ``~/.nnviz3d/tls`` (``NNVIZ3D_HOME`` moves it), valid
for ``localhost``, this machine's name and its addresses. The headset's browser warns once
about the self-signed certificate; accept it and the page is a secure context. The URL is
printed with the machine's LAN address and as a QR code for the headset's camera.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
from pathlib import Path

VALID_DAYS = 825
"""The longest validity Apple platforms accept for a TLS server certificate."""


def tls_home() -> Path:
    return Path(os.environ.get("NNVIZ3D_HOME") or Path.home() / ".nnviz3d") / "tls"


def lan_address() -> str | None:
    """This machine's address on its default route (no packet is sent), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.254.254.254", 1))
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def self_signed(directory: Path | None = None) -> tuple[Path, Path]:
    """``(certfile, keyfile)`` of the self-signed certificate, made on first use (or when this
    machine's LAN address is not among its names)."""
    from ..extras import require

    require("tls", "cryptography", "--tls without --certfile needs")
    directory = directory or tls_home()
    cert, key = directory / "cert.pem", directory / "key.pem"
    names = _names()
    if cert.is_file() and key.is_file() and _covers(cert, names):
        return cert, key
    directory.mkdir(parents=True, exist_ok=True)
    _generate(cert, key, names)
    return cert, key


def ssl_context(certfile, keyfile) -> ssl.SSLContext:
    """A server context for the certificate; ValueError with one sentence if it won't load."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(str(certfile), str(keyfile))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(
            f"cannot use the TLS certificate {certfile} with key {keyfile}: "
            f"{getattr(exc, 'strerror', None) or exc}; give a PEM certificate and "
            f"its private key, or leave both out for a self-signed one"
        ) from None
    return ctx


def _names() -> list[str]:
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname()]
    lan = lan_address()
    if lan:
        names.append(lan)
    return list(dict.fromkeys(names))


def _covers(cert: Path, names: list[str]) -> bool:
    from cryptography import x509

    try:
        c = x509.load_pem_x509_certificate(cert.read_bytes())
        sans = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound, OSError):
        return False
    have = {str(v) for v in sans.get_values_for_type(x509.IPAddress)} | set(
        sans.get_values_for_type(x509.DNSName)
    )
    still_valid = c.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    return still_valid and all(n in have for n in names)


def _generate(cert: Path, key: Path, names: list[str]) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nnviz3d local server")])
    sans = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(private, hashes.SHA256())
    )
    key.touch(mode=0o600, exist_ok=True)
    os.chmod(key, 0o600)
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def qr_text(url: str) -> str:
    """The URL as a QR code in terminal block characters."""
    import io

    from ..extras import MissingExtra, require

    try:
        segno = require("tls", "segno", "showing the URL as a QR code needs")
    except MissingExtra as exc:
        return f"{exc}\n"
    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True, border=2)
    return out.getvalue()
