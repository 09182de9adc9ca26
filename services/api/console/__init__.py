"""The SOC console: a single-page web application served by the API at ``/console``.

Everything the browser loads is in ``static/`` beside this module and shipped in the package:
hand-written ES modules, HTML and CSS, no CDN and no build step, so an air-gapped government
cloud serves it as is. The page signs in with an API key (kept in ``sessionStorage``, sent as
``Authorization: Bearer``) and only ever talks to ``/v1``; it holds no privilege the key lacks.

Alert fields are attacker-controlled (a WAF alert's ``matched.data`` is the attack), so the page
only ever inserts them as text nodes, and the Content-Security-Policy below forbids inline script
and any origin but this one: an injected ``<script>`` neither parses nor runs.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static"
PREFIX = "/console"
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                                "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                                "form-action 'self'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Assets change with the package: revalidate every load (the ETag-less static route answers
    # with Last-Modified, so an unchanged file is a cheap 304).
    "Cache-Control": "no-cache",
}


async def _index(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def _redirect(_: web.Request) -> web.Response:
    raise web.HTTPFound(PREFIX + "/")


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)


def add_console_routes(app: web.Application) -> None:
    """Mount the console on ``app``: ``/console/`` is the page, ``/console/assets/`` its files."""
    app.router.add_get(PREFIX, _redirect)
    app.router.add_get(PREFIX + "/", _index)
    app.router.add_static(PREFIX + "/assets/", STATIC, show_index=False, follow_symlinks=False)
    app.on_response_prepare.append(_security_headers)
