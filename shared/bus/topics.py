"""Topic names of the alert pipeline (the contract in DESIGN.md) and their default partition counts."""

ALERTS_TOPIC = "secchain.alerts"
DLQ_TOPIC = "secchain.dlq"

# Alerts are keyed by tenant.id: the partition count bounds how many indexers share the load and
# must not change once tenants are spread over it (a new count moves keys and breaks their order).
DEFAULT_PARTITIONS: dict[str, int] = {ALERTS_TOPIC: 3, DLQ_TOPIC: 1}
