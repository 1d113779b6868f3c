"""The query layer: what the API reads and writes, one module per resource.

Both faces of the service call it: the REST routes (`routes/`) and the web console
(`web/`); nothing here imports either. A function takes plain, already-validated values
and returns the API's response models (`secmonkey.api.schemas`); its errors are the
shared ones (`NotFound`, `InvalidInput`, `Conflict`, `Problem`), which the REST API turns
into problem details and the console into a page or a message on one.
"""
