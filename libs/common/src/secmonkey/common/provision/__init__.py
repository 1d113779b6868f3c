"""`secmonkey admin provision`: what the services need, made once with admin credentials.

It creates every collection's indexes, the RabbitMQ exchanges and queues (DESIGN §4),
one MongoDB role and user per service (`mongo_roles`, from the collection table) and one
RabbitMQ user per service (`rabbit_users`, from the topology). The services then run
with `SECMONKEY_DECLARE_AT_START=false` and least privilege: they only check that what
they need exists. Locally (`make run`, tests) the services still declare at start.
"""

from secmonkey.common.provision.run import ProvisionSettings, Report, provision

__all__ = ["ProvisionSettings", "Report", "provision"]
