"""Feature views and services of the ride-hailing example.

Three views: hourly driver statistics (a one-day ttl), customer profiles (refreshed
daily, a week's ttl) and driver-customer history, keyed by both entities. The first two
declare expectations: checked when they are materialized, pushed or read into a training
set (a failure rejects the load) and on demand (`silage validate driver_hourly_stats`).

One on-demand view, `trip_load`, combines a stored feature with a value that only exists
when a trip is requested (its distance, from the request source `trip_request`). The same
function computes it for the training set (from the trips' own distances) and for every
prediction (from the request): nothing to re-implement on the serving side.
"""

from datetime import timedelta

import pandas as pd
from entities import customer, driver

from store import (
    AllowedValues,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    NullShare,
    QuantileRange,
    RequestSource,
    ValueRange,
    on_demand_feature_view,
)
from store.types import Float32, Float64, Int64, String

driver_stats_source = FileSource(
    name="driver_stats_source",
    path="data/driver_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
    description="Hourly driver statistics; rows can arrive late and be corrected",
)

customer_profile_source = FileSource(
    name="customer_profile_source",
    path="data/customer_profile.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

driver_customer_source = FileSource(
    name="driver_customer_source",
    path="data/driver_customer_stats.parquet",
    timestamp_field="event_timestamp",
)

driver_hourly_stats = FeatureView(
    name="driver_hourly_stats",
    entities=[driver],
    ttl=timedelta(days=1),
    schema=[
        Field(name="conv_rate", dtype=Float32, description="Share of offers accepted"),
        Field(name="acc_rate", dtype=Float32, description="Share of trips completed"),
        Field(name="avg_daily_trips", dtype=Int64),
    ],
    source=driver_stats_source,
    owner="marketplace@example.com",
    tags={"team": "marketplace"},
    expectations=[
        ValueRange("conv_rate", min=0, max=1),
        ValueRange("acc_rate", min=0, max=1),
        NullShare("conv_rate"),
        QuantileRange("avg_daily_trips", min=1, max=40),
    ],
)

customer_profile = FeatureView(
    name="customer_profile",
    entities=[customer],
    ttl=timedelta(days=7),
    schema=[
        Field(name="avg_rating_given", dtype=Float64),
        Field(name="lifetime_trips", dtype=Int64),
        Field(name="tier", dtype=String),
    ],
    source=customer_profile_source,
    owner="growth@example.com",
    expectations=[
        ValueRange("avg_rating_given", min=1, max=5),
        AllowedValues("tier", ["basic", "plus", "premium"]),
    ],
)

driver_customer_stats = FeatureView(
    name="driver_customer_stats",
    entities=[driver, customer],
    schema=[
        Field(name="trips_together", dtype=Int64),
        Field(name="avg_rating_between", dtype=Float64),
    ],
    source=driver_customer_source,
    description="History of one driver with one customer; no ttl: old history still counts",
)

trip_request = RequestSource(
    name="trip_request",
    schema=[Field(name="trip_distance_km", dtype=Float64, description="Requested distance")],
)


@on_demand_feature_view(
    sources=[driver_hourly_stats[["avg_daily_trips"]], trip_request],
    schema=[Field(name="km_per_daily_trip", dtype=Float64)],
    description="The requested distance against how many trips the driver does in a day",
)
def trip_load(inputs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=inputs.index)
    out["km_per_daily_trip"] = inputs["trip_distance_km"] / inputs["avg_daily_trips"].clip(lower=1)
    return out


trip_completion = FeatureService(
    name="trip_completion",
    features=[
        driver_hourly_stats,
        customer_profile[["avg_rating_given", "tier"]],
        driver_customer_stats,
        trip_load,
    ],
    description="Features of the trip-completion model",
)
