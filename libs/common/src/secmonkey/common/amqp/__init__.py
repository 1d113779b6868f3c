"""RabbitMQ plumbing on aio-pika: topology, a confirming publisher, a safe consumer.

Topology (DESIGN §4): topic exchanges `secmonkey.snapshots` and `secmonkey.events`,
the `secmonkey.sweeps` work queue, and one durable quorum queue per consumer with a
delivery limit and its own dead-letter exchange `<queue>.dlx` bound only to `<queue>.dead`,
so a dead letter can only be replayed into the queue it came from (`dead_letters`).
`secmonkey.dlx` stays for queues of an earlier release and the notifier's undelivered
queue. Dead-lettering is `at-least-once` (with the `reject-publish` overflow it needs);
the consumer's dead letters carry their reason in `x-secmonkey-reason`. Every message
carries the validated AMQP `user_id` of the broker user that published it.
"""

from secmonkey.common.amqp.consumer import (
    Consumer,
    Handler,
    RetryPolicy,
    dead_letter,
    delivery_count,
)
from secmonkey.common.amqp.publisher import Publisher, broker_user, encode
from secmonkey.common.amqp.topology import (
    AUDITOR_QUEUE,
    DEAD_LETTERED_AT_HEADER,
    DEFAULT_DELIVERY_LIMIT,
    NOTIFIER_QUEUE,
    PUBLISHED_BY_HEADER,
    REASON_HEADER,
    REPUBLISHED_HEADER,
    SOURCE_QUEUE_HEADER,
    SWEEPS,
    TOPOLOGY,
    NotProvisioned,
    QueueSpec,
    auditor_queues,
    check_queues,
    check_topology,
    connect,
    dead_letter_exchange,
    declare_exchanges,
    declare_queue,
    declare_topology,
    queue_exists,
    retire_unpartitioned,
    topology,
    undelivered_queue,
    with_partition_queues,
)

__all__ = [
    "AUDITOR_QUEUE",
    "DEAD_LETTERED_AT_HEADER",
    "DEFAULT_DELIVERY_LIMIT",
    "NOTIFIER_QUEUE",
    "PUBLISHED_BY_HEADER",
    "REASON_HEADER",
    "REPUBLISHED_HEADER",
    "SOURCE_QUEUE_HEADER",
    "SWEEPS",
    "TOPOLOGY",
    "Consumer",
    "Handler",
    "NotProvisioned",
    "Publisher",
    "QueueSpec",
    "RetryPolicy",
    "auditor_queues",
    "broker_user",
    "check_queues",
    "check_topology",
    "connect",
    "dead_letter",
    "dead_letter_exchange",
    "declare_exchanges",
    "declare_queue",
    "declare_topology",
    "topology",
    "delivery_count",
    "encode",
    "queue_exists",
    "undelivered_queue",
    "retire_unpartitioned",
    "with_partition_queues",
]
