"""`ocsd account|bundle|tariff|ledger ...` (being written)."""

GROUPS: tuple[object, ...] = ()
