WITH "e" AS (
  SELECT
    *,
    EPOCH_US("event_timestamp") AS "__silage_ts",
    CAST(EPOCH_US("event_timestamp") AS INT128) * 18446744073709551616 + 18446744073709551615 AS "__silage_order"
  FROM "__silage_entities"
), "v0_driver_hourly_stats" AS (
  SELECT
    CAST("driver_id" AS BIGINT) AS "driver_id",
    EPOCH_US(CAST("event_timestamp" AS TIMESTAMPTZ)) AS "__silage_ts",
    EPOCH_US(CAST("created" AS TIMESTAMPTZ)) AS "__silage_created",
    CAST(EPOCH_US(CAST("event_timestamp" AS TIMESTAMPTZ)) AS INT128) * 18446744073709551616 + COALESCE(CAST(EPOCH_US(CAST("created" AS TIMESTAMPTZ)) AS INT128) + 9223372036854775808, 0) AS "__silage_order",
    CAST("conv_rate" AS REAL) AS "conv_rate",
    CAST("avg_daily_trips" AS BIGINT) AS "avg_daily_trips"
  FROM READ_PARQUET(['/data/driver_stats.parquet'], union_by_name = TRUE)
  WHERE
    EPOCH_US(CAST("event_timestamp" AS TIMESTAMPTZ)) <= 1767312000000000
    AND EPOCH_US(CAST("event_timestamp" AS TIMESTAMPTZ)) >= 1767139200000000
)
SELECT
  "e"."driver_id",
  "e"."event_timestamp",
  "e"."label",
  CASE
    WHEN "v0_driver_hourly_stats"."__silage_ts" >= "e"."__silage_ts" - 86400000000
    THEN "v0_driver_hourly_stats"."conv_rate"
  END AS "conv_rate",
  CASE
    WHEN "v0_driver_hourly_stats"."__silage_ts" >= "e"."__silage_ts" - 86400000000
    THEN "v0_driver_hourly_stats"."avg_daily_trips"
  END AS "avg_daily_trips"
FROM "e"
ASOF LEFT JOIN "v0_driver_hourly_stats"
  ON "e"."driver_id" = "v0_driver_hourly_stats"."driver_id"
  AND "e"."__silage_order" >= "v0_driver_hourly_stats"."__silage_order"
ORDER BY
  "e"."__silage_row"
