"""Room for the web console (server-rendered pages): `web/templates/` and `web/static/`.

Not built yet; `create_app` is where its router and static files will be mounted.
"""
