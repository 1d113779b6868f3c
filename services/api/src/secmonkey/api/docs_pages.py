"""`/docs` (Swagger UI), served with its assets from an installed package: the browser loads
nothing from a third-party origin on the API's (and the console's) origin.

The assets are the ones `fastapi-offline` ships; the page carries no inline script, so a
strict Content-Security-Policy applies to it too. ReDoc is not offered: even served from
the package it fetches its logo from its vendor's CDN.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from secmonkey.api.http_headers import DOCS_POLICY

ASSETS = "/docs-assets"
_OFFLINE = Path(fastapi_offline.__file__).parent / "static"
_OWN = Path(__file__).parent / "docs_static"


def mount_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    # The more specific mount first: `/docs-assets` would otherwise answer for it.
    app.mount(f"{ASSETS}/own", StaticFiles(directory=_OWN), name="docs-own")
    app.mount(ASSETS, StaticFiles(directory=_OFFLINE), name="docs-assets")
    title = escape(app.title)
    url = escape(openapi_url)

    async def swagger() -> HTMLResponse:
        return HTMLResponse(
            f"""<!doctype html><html><head><meta charset="utf-8"><title>{title} · API</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
<link rel="icon" href="{ASSETS}/favicon.png"></head>
<body data-openapi="{url}"><div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="{ASSETS}/own/swagger-init.js"></script></body></html>""",
            headers={"Content-Security-Policy": DOCS_POLICY},
        )

    app.add_api_route("/docs", swagger, include_in_schema=False)
