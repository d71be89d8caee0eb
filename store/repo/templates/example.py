"""Feature definitions of this repository. `silage apply` records them in the registry."""

from datetime import timedelta

from store import Entity, FeatureService, FeatureView, Field, FileSource
from store.types import Float32, Int64

driver = Entity(name="driver", join_keys=["driver_id"], description="A driver")

driver_stats_source = FileSource(
    name="driver_hourly_stats_source",
    path="data/driver_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

driver_hourly_stats = FeatureView(
    name="driver_hourly_stats",
    entities=[driver],
    ttl=timedelta(days=1),
    schema=[
        Field(name="conv_rate", dtype=Float32),
        Field(name="acc_rate", dtype=Float32),
        Field(name="avg_daily_trips", dtype=Int64),
    ],
    source=driver_stats_source,
    online=True,
)

driver_activity = FeatureService(name="driver_activity", features=[driver_hourly_stats])
