"""Echo application (see package docstring)."""

from __future__ import annotations

import argparse
import base64
import hashlib

from aiohttp import web


def _raw_headers(request: web.Request) -> list[list[str]]:
    # raw_headers keeps order, duplicates and the client's spelling; latin-1 as HTTP/1.1 does.
    return [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.raw_headers]


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    payload = {
        "method": request.method,
        "path": request.raw_path,
        "query_string": request.query_string,
        "version": f"HTTP/{request.version.major}.{request.version.minor}",
        "headers": _raw_headers(request),
        "body_b64": base64.b64encode(body).decode("ascii"),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "body_length": len(body),
        "remote": request.remote,
    }
    return web.json_response(payload, headers={"X-Echo": "secchain-demo"})




@web.middleware
async def _every_request(request: web.Request, handler: object) -> web.StreamResponse:  # noqa: ARG001
    # Any request target is echoed, including ones a router would 404 (a decoded newline in the path).
    return await echo(request)


def make_app() -> web.Application:
    return web.Application(client_max_size=64 * 1024 * 1024, middlewares=[_every_request])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="secchain-demo-upstream", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    web.run_app(make_app(), host=args.host, port=args.port, print=None, access_log=None)
