"""Request and response bodies of the REST API (the OpenAPI schema is generated from them)."""
