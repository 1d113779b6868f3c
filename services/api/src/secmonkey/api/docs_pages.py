"""`/docs` (Swagger UI) and `/redoc`, served with their assets from installed packages: the
browser loads nothing from a third-party origin on the API's (and the console's) origin.

The assets are the ones `fastapi-offline` ships; the pages carry no inline script, so a
strict Content-Security-Policy applies to them too.
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
    app.mount(ASSETS, StaticFiles(directory=_OFFLINE), name="docs-assets")
    app.mount(f"{ASSETS}/own", StaticFiles(directory=_OWN), name="docs-own")
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

    async def redoc() -> HTMLResponse:
        return HTMLResponse(
            f"""<!doctype html><html><head><meta charset="utf-8"><title>{title} · API</title>
<link rel="icon" href="{ASSETS}/favicon.png"></head>
<body><redoc spec-url="{url}"></redoc>
<script src="{ASSETS}/redoc.standalone.js"></script></body></html>""",
            headers={"Content-Security-Policy": DOCS_POLICY},
        )

    app.add_api_route("/docs", swagger, include_in_schema=False)
    app.add_api_route("/redoc", redoc, include_in_schema=False)
