"""Who may use the server: known Host names, same-origin pages, an access token off loopback,
safe headers.

- **Host.** A request whose ``Host`` does not name this machine (or a name the user allowed
  with ``--allow-host``) is refused with 403 and a sentence saying how to allow it: the guard
  against DNS rebinding (rules in nnviz3d/server/hosts.py).
- **Origin.** A request with an ``Origin`` (every websocket, every cross-origin request of a
  browser) must come from a page of this server: an allowed host on this server's port, or
  exactly the ``Host`` it was sent to (hosts.py). A page from another site must not drive the
  viewer's socket (cross-site websocket hijacking). Clients that send no Origin (scripts, not
  browsers) are let through; they still need the token where one is set.
- **Fetch metadata.** A browser's cross-site or same-site request other than a top-level
  navigation (``Sec-Fetch-Site``/``Sec-Fetch-Mode``) is refused: another site's
  ``<img src=".../export.glb">`` must not make the server build exports.
- **Token.** A server bound to a loopback address needs none (unless one is given). Any other
  bind gets one: given by the user (``--token``, ``NNVIZ3D_TOKEN``) or generated (32 bytes,
  URL-safe), printed in the URL like Jupyter's. A request carries it as ``?token=``, as the
  ``nnviz3d_token`` cookie, or as ``Authorization: Bearer``; anything else gets 403. Compared
  in constant time. ``GET /?token=…`` answers 303 to ``/`` (other query parameters kept) with
  the cookie set, so the token never stays in the address bar, the history or a shared
  ``#cam`` link. The cookie is HttpOnly and SameSite=Lax: Lax, not Strict, because the
  redirect is the second leg of a navigation that may start on another site (a notebook's
  link, the local file the server opens the browser on), where a Strict cookie would not be
  sent; cross-site subresources and websockets still never carry it.
- **Headers.** Every response has a Content-Security-Policy the viewer works under (scripts
  and connections to this origin only, no framing), ``nosniff`` and ``no-referrer``.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets

from aiohttp import hdrs, web
from yarl import URL

from .hosts import AllowedHosts, refusal, split_host

COOKIE = "nnviz3d_token"
TOKEN_ENV = "NNVIZ3D_TOKEN"
CSP = (
    "default-src 'self'; script-src 'self' blob:; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
"""'unsafe-inline' styles: the panels set colours in style attributes. blob: workers and
scripts: the SDF text renderer (troika) builds its worker from blobs it imports. No eval."""
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
ACCESS = web.AppKey("access", object)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def choose_token(host: str, token: str | None) -> str | None:
    """The token the server will require: the given one, ``$NNVIZ3D_TOKEN``, or a new one
    when binding beyond loopback; None for a loopback server without one."""
    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    if token is not None and len(token) < 8:
        raise ValueError(
            "an access token must be at least 8 characters; leave it out to get a generated one"
        )
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(32)
    return token


class Access:
    """The access rules of one server (see the module docstring)."""

    def __init__(self, token: str | None, allow_hosts=()) -> None:
        self.token = token
        self.hosts = AllowedHosts(allow_hosts)
        """Names the server answers to; the runner adds what its bind address reaches."""

    def host_allowed(self, request: web.Request) -> bool:
        header = request.headers.get(hdrs.HOST)
        return header is not None and self.hosts.allows(split_host(header), _local_address(request))

    def origin_allowed(self, request: web.Request) -> bool:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is None:
            return True
        sockname = _sockname(request)
        return self.hosts.allows_origin(
            origin,
            request.headers.get(hdrs.HOST, ""),
            sockname[1] if sockname else None,
            sockname[0] if sockname else None,
        )

    def allows(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        offered = (
            request.query.get("token")
            or request.cookies.get(COOKIE)
            or request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        )
        return bool(offered) and hmac.compare_digest(offered.encode(), self.token.encode())


def _sockname(request: web.Request) -> tuple | None:
    """(address, port) the connection arrived on: this machine's, whatever its interfaces."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    return sockname if isinstance(sockname, tuple) and len(sockname) >= 2 else None


def _local_address(request: web.Request) -> str | None:
    sockname = _sockname(request)
    return sockname[0] if sockname else None


def cross_site(request: web.Request) -> bool:
    """True for a browser's request from another site that is not a top-level navigation."""
    site = request.headers.get("Sec-Fetch-Site")
    if site not in ("cross-site", "same-site"):  # none (typed), same-origin, or no browser
        return False
    return not (
        request.headers.get("Sec-Fetch-Mode") == "navigate"
        and request.headers.get("Sec-Fetch-Dest", "document") == "document"
        and request.method in ("GET", "HEAD")
    )


@web.middleware
async def access_middleware(request: web.Request, handler):
    access: Access = request.app[ACCESS]
    if not access.host_allowed(request):
        return _forbidden(refusal(request.headers.get(hdrs.HOST)))
    if not access.origin_allowed(request):
        return _forbidden(
            f"request from origin {request.headers[hdrs.ORIGIN][:100]!r} "
            f"refused: only pages served by this nnviz3d server may use it"
        )
    if cross_site(request):
        return _forbidden("cross-site request refused: open the viewer's own page")
    if not access.allows(request):
        return _forbidden(
            "this nnviz3d server needs its access token: open the URL it printed "
            "(…/?token=…), or send Authorization: Bearer TOKEN"
        )
    if request.path == "/" and "token" in request.query and request.method in ("GET", "HEAD"):
        return _without_token(request, access)
    return await handler(request)


def _without_token(request: web.Request, access: Access) -> web.Response:
    """303 to the same page without ``?token``, the token now in the cookie."""
    query = [(k, v) for k, v in request.query.items() if k != "token"]
    response = web.Response(
        status=303,
        headers={"Location": str(URL.build(path="/", query=query)), "Cache-Control": "no-store"},
    )
    if access.token is not None:
        response.set_cookie(
            COOKIE, access.token, httponly=True, samesite="Lax", secure=request.secure, path="/"
        )
    return response


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the headers of :data:`HEADERS` on every response."""
    for key, value in HEADERS.items():
        response.headers.setdefault(key, value)


def _forbidden(text: str) -> web.Response:
    return web.Response(status=403, text=f"403 Forbidden: {text}\n", content_type="text/plain")


CONTENT_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".wasm": "application/wasm",
}
"""The viewer's asset types, registered so the static route never falls back to
application/octet-stream (which, with nosniff, a browser may refuse) whatever the system's
mime.types says."""


def install(app: web.Application, token: str | None, allow_hosts=()) -> None:
    """Put the access rules and headers on ``app`` (before it starts); ``allow_hosts``: names
    it answers to beyond this machine's (hosts.py)."""
    import mimetypes

    try:  # aiohttp's static route guesses with its own MimeTypes instance
        from aiohttp.web_fileresponse import CONTENT_TYPES as table
    except ImportError:
        table = mimetypes
    for suffix, ctype in CONTENT_TYPES.items():
        table.add_type(ctype, suffix)
    app[ACCESS] = Access(token, allow_hosts)
    app.middlewares.append(access_middleware)
    app.on_response_prepare.append(security_headers)
