"""Entities: the things the features describe."""

from store import Entity

driver = Entity(
    name="driver",
    join_keys=["driver_id"],
    description="A driver on the platform",
    owner="marketplace@example.com",
)

customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    description="A rider who books trips",
    owner="growth@example.com",
)
