"""Which names this server answers to: the guard against DNS rebinding.

A page on ``attacker.example`` that re-resolves its name to 127.0.0.1 reaches a local server
with ``Host: attacker.example``; the browser then treats the server as that page's own origin.
So every request's ``Host`` must name this machine:

- ``localhost`` and any loopback address (``127.0.0.1``, ``[::1]``);
- the address the server is bound to, and the address the connection actually arrived on;
- when bound beyond loopback: the LAN address of the printed URL, this machine's name
  (and ``NAME.local``);
- the names the user allows (``--allow-host NAME``, ``allow_hosts=[...]``,
  ``$NNVIZ3D_ALLOW_HOSTS`` comma-separated); ``*`` turns the check off.

Names are compared case-insensitively, without a trailing dot; the Host's port is ignored
(a rebinding page can use any port). ``Origin`` (sent by browsers on websockets and
cross-origin requests) must name an allowed host too, and for the built-in names also this
server's port or exactly the ``Host`` the request was sent to: another local web app on
another port (``http://localhost:3000``) is a different origin. An origin on a name the user
allowed may use any port (a reverse proxy on 443). ``Origin: null`` (sandboxed frames,
``file://`` pages) is refused.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

ENV = "NNVIZ3D_ALLOW_HOSTS"
LOCAL_NAMES = ("localhost", "ip6-localhost")
WILDCARDS = ("", "0.0.0.0", "::")


def normalise(name: str) -> str | None:
    """``name`` as compared: lowercase, no brackets, no trailing dot; None if it is no host
    name or address at all."""
    name = name.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name.endswith(".") and not name.endswith(".."):
        name = name[:-1]
    if not name or any(c in name for c in "/\\@?#%[] \t") or name.startswith("."):
        return None
    address = _address(name)
    if address is not None:
        return str(address)
    if ":" in name or not all(c.isalnum() or c in "-._*" for c in name) or not name.isascii():
        return None
    return name


def split_host(header: str) -> str | None:
    """The host name of a ``Host`` header (``name``, ``name:port``, ``[v6]:port``), or None
    when it is malformed."""
    header = header.strip()
    if header.startswith("["):
        end = header.find("]")
        rest = header[end + 1 :]
        if end < 0 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        return normalise(header[: end + 1])
    name, colon, port = header.rpartition(":")
    if not colon:
        name = header
    elif not port.isdigit():
        return None
    return normalise(name)


def _address(name: str):
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def given_hosts(allow_hosts=None) -> list[str]:
    """The user's names: ``allow_hosts`` and ``$NNVIZ3D_ALLOW_HOSTS``; ValueError with one
    sentence for one that is no host name."""
    names = list(allow_hosts or [])
    names += [n for n in os.environ.get(ENV, "").split(",") if n.strip()]
    out = []
    for raw in names:
        name = "*" if raw.strip() == "*" else normalise(str(raw))
        if name is None or ("*" in name and name != "*"):
            raise ValueError(
                f"--allow-host takes a host name or address (like nnviz.lan or "
                f"192.168.1.20, no port or scheme), or * for any; got {raw!r}"
            )
        out.append(name)
    return out


class AllowedHosts:
    """The names one server answers to (see the module docstring)."""

    def __init__(self, allow_hosts=()) -> None:
        self.given = set(allow_hosts)
        self.names = set(LOCAL_NAMES) | self.given
        self.addresses: set = set()

    def bind(self, host: str | None) -> None:
        """Add what binding to ``host`` makes reachable (called when the server starts)."""
        host = host or ""
        address = _address(host.strip("[]"))
        if host not in WILDCARDS and address is not None and not address.is_unspecified:
            self.addresses.add(address)
        elif host not in WILDCARDS:
            name = normalise(host)
            if name:
                self.names.add(name)
        if address is not None and address.is_loopback or host in LOCAL_NAMES:
            return
        from .tls import lan_address

        lan = lan_address()
        if lan:
            self.addresses.add(_address(lan))
        machine = normalise(socket.gethostname())
        if machine:
            self.names |= {machine, f"{machine}.local"}

    def allows(self, name: str | None, local_address: str | None = None) -> bool:
        """True for a normalised host name this server answers to; ``local_address`` is the
        address the connection arrived on (a name for this machine by definition)."""
        if "*" in self.given:
            return True
        if name is None:
            return False
        address = _address(name)
        if address is None:
            return name in self.names
        if address.is_loopback or address in self.addresses:
            return True
        return local_address is not None and address == _address(str(local_address))

    def allows_origin(
        self,
        origin: str,
        host_header: str,
        server_port: int | None,
        local_address: str | None = None,
    ) -> bool:
        """True for an ``Origin`` header naming an allowed host (rules in the docstring)."""
        if "*" in self.given:
            return True
        try:
            parts = urlsplit(origin.strip())
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        except ValueError:
            return False
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username
            or parts.password is not None
            or parts.path
            or parts.query
        ):
            return False
        name = normalise(parts.hostname)
        if not self.allows(name, local_address):
            return False
        return (
            name in self.given
            or port == server_port
            or parts.netloc.lower() == host_header.strip().lower()
        )


def refusal(host_header: str | None) -> str:
    """The one sentence a refused Host gets."""
    if host_header is None:
        return (
            "request without a Host header refused: nnviz3d answers only to the names of "
            "this machine"
        )
    shown = host_header[:80]
    name = split_host(host_header) or shown
    return (
        f"this nnviz3d server does not answer to host {shown!r} (a guard against DNS "
        f"rebinding); if that name reaches it on purpose, restart it with "
        f"--allow-host {name} (allow_hosts=[{name!r}] from Python)"
    )
