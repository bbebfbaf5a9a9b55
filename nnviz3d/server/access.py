"""Who may use the server: an access token off loopback, same-origin websockets, safe headers.

- **Token.** A server bound to a loopback address needs none (unless one is given). Any other
  bind gets one: given by the user (``--token``, ``NNVIZ3D_TOKEN``) or generated (32 bytes,
  URL-safe), printed in the URL like Jupyter's. A request carries it as ``?token=``, as the
  ``nnviz3d_token`` cookie the page sets on first load (HttpOnly, SameSite=Strict), or as
  ``Authorization: Bearer``; anything else gets 403. Compared in constant time.
- **Origin.** A websocket upgrade whose ``Origin`` is not this server's own origin is refused
  with 403: a page from another site must not drive the viewer's socket (cross-site websocket
  hijacking). Clients that send no Origin (scripts, not browsers) are let through; they still
  need the token where one is set.
- **Headers.** Every response has a Content-Security-Policy the viewer works under (scripts
  and connections to this origin only, no framing), ``nosniff`` and ``no-referrer``.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from urllib.parse import urlsplit

from aiohttp import web

COOKIE = "nnviz3d_token"
TOKEN_ENV = "NNVIZ3D_TOKEN"
CSP = ("default-src 'self'; script-src 'self' blob:; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
       "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
"""'unsafe-inline' styles: the panels set colours in style attributes. blob: workers and
scripts: the SDF text renderer (troika) builds its worker from blobs it imports. No eval."""
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
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
        raise ValueError("an access token must be at least 8 characters; leave it out to get "
                         "a generated one")
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(32)
    return token


class Access:
    """The access rules of one server (see the module docstring)."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def allows(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        offered = (request.query.get("token") or request.cookies.get(COOKIE)
                   or request.headers.get("Authorization", "").removeprefix("Bearer ").strip())
        return bool(offered) and hmac.compare_digest(offered.encode(), self.token.encode())

    @staticmethod
    def same_origin(request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        parts = urlsplit(origin)
        scheme = "https" if request.secure else "http"
        return parts.scheme == scheme and parts.netloc.lower() == request.host.lower()


@web.middleware
async def access_middleware(request: web.Request, handler):
    access: Access = request.app[ACCESS]
    if not access.allows(request):
        return _forbidden("this nnviz3d server needs its access token: open the URL it printed "
                          "(…/?token=…), or send Authorization: Bearer TOKEN")
    if request.path == "/ws" and not access.same_origin(request):
        return _forbidden(f"websocket from origin {request.headers.get('Origin')!r} refused: "
                          f"only pages served by this nnviz3d server may connect")
    response = await handler(request)
    if access.token is not None and request.query.get("token") and request.path == "/":
        response.set_cookie(COOKIE, access.token, httponly=True, samesite="Strict",
                            secure=request.secure, path="/")
    return response


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the headers of :data:`HEADERS` on every response."""
    for key, value in HEADERS.items():
        response.headers.setdefault(key, value)


def _forbidden(text: str) -> web.Response:
    return web.Response(status=403, text=f"403 Forbidden: {text}\n", content_type="text/plain")


CONTENT_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
                 ".woff": "font/woff", ".woff2": "font/woff2", ".wasm": "application/wasm"}
"""The viewer's asset types, registered so the static route never falls back to
application/octet-stream (which, with nosniff, a browser may refuse) whatever the system's
mime.types says."""


def install(app: web.Application, token: str | None) -> None:
    """Put the access rules and headers on ``app`` (before it starts)."""
    import mimetypes

    try:  # aiohttp's static route guesses with its own MimeTypes instance
        from aiohttp.web_fileresponse import CONTENT_TYPES as table
    except ImportError:
        table = mimetypes
    for suffix, ctype in CONTENT_TYPES.items():
        table.add_type(ctype, suffix)
    app[ACCESS] = Access(token)
    app.middlewares.append(access_middleware)
    app.on_response_prepare.append(security_headers)
