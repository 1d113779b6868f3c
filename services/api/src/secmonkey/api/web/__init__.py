"""The web console: server-rendered pages (Jinja2, a little htmx) served by the api service.

`secmonkey.api.web.console.mount(app)` adds it under `/console`; `templates/` and
`static/` hold its pages and assets (no external CDN: many deployments have no internet).
"""
