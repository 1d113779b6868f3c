"""Well-known ports: the administrative and database defaults, and names for messages."""

from __future__ import annotations

from secmonkey.auditor.rules.rule_settings import PortSpec

PORT_NAMES: dict[tuple[str, int, int], str] = {
    ("tcp", 20, 21): "FTP",
    ("tcp", 22, 22): "SSH",
    ("tcp", 23, 23): "Telnet",
    ("tcp", 135, 135): "MS RPC",
    ("tcp", 139, 139): "NetBIOS",
    ("tcp", 445, 445): "SMB",
    ("tcp", 1433, 1434): "SQL Server",
    ("tcp", 1521, 1521): "Oracle",
    ("tcp", 2375, 2376): "Docker API",
    ("tcp", 2379, 2380): "etcd",
    ("tcp", 2483, 2484): "Oracle",
    ("tcp", 3306, 3306): "MySQL",
    ("tcp", 3389, 3389): "RDP",
    ("tcp", 5432, 5432): "PostgreSQL",
    ("tcp", 5601, 5601): "Kibana",
    ("tcp", 5900, 5900): "VNC",
    ("tcp", 5984, 5984): "CouchDB",
    ("tcp", 6379, 6379): "Redis",
    ("tcp", 6443, 6443): "Kubernetes API",
    ("tcp", 7199, 7199): "Cassandra JMX",
    ("tcp", 8888, 8888): "Jupyter",
    ("tcp", 9042, 9042): "Cassandra",
    ("tcp", 9092, 9092): "Kafka",
    ("tcp", 9160, 9160): "Cassandra Thrift",
    ("tcp", 9200, 9200): "Elasticsearch",
    ("tcp", 9300, 9300): "Elasticsearch transport",
    ("tcp", 10250, 10250): "kubelet",
    ("tcp", 11211, 11211): "Memcached",
    ("udp", 11211, 11211): "Memcached",
    ("tcp", 27017, 27018): "MongoDB",
}

DEFAULT_ADMIN_PORTS: tuple[PortSpec, ...] = tuple(
    PortSpec(protocol=protocol, low=low, high=high) for protocol, low, high in PORT_NAMES
)
DEFAULT_LOW_PORTS: tuple[PortSpec, ...] = (
    PortSpec(protocol="tcp", low=80, high=80),
    PortSpec(protocol="tcp", low=443, high=443),
)


def port_label(spec: PortSpec) -> str:
    name = PORT_NAMES.get((spec.protocol, spec.low, spec.high))
    return f"{name} ({spec.text()})" if name else spec.text()
