-- __silage_source_driver_hourly_stats: /data/driver_stats.parquet
CREATE TEMPORARY TABLE "__silage_matches" AS
WITH "e" AS (
  SELECT
    *,
    EPOCH_US("event_timestamp") AS "__silage_ts"
  FROM "__silage_entities"
), "v0_driver_hourly_stats" AS (
  SELECT
    CAST("driver_id" AS BIGINT) AS "driver_id",
    EPOCH_US(CAST("event_timestamp" AS TIMESTAMPTZ)) AS "__silage_ts"
  FROM "__silage_source_driver_hourly_stats"
)
SELECT
  "e"."__silage_row",
  "v0_driver_hourly_stats"."__silage_ts" AS "__silage_match_0",
  "e"."driver_id"
FROM "e"
ASOF LEFT JOIN "v0_driver_hourly_stats"
  ON "e"."driver_id" = "v0_driver_hourly_stats"."driver_id"
  AND "e"."__silage_ts" >= "v0_driver_hourly_stats"."__silage_ts";
WITH "p0_driver_hourly_stats" AS (
  SELECT
    "m"."__silage_row",
    ARG_MAX(
      {'conv_rate': "s"."conv_rate", 'avg_daily_trips': "s"."avg_daily_trips"},
      COALESCE("s"."__silage_created", -9223372036854775807)
    ) AS "__silage_values"
  FROM "__silage_matches" AS "m"
  JOIN (
    SELECT
      CAST("driver_id" AS BIGINT) AS "driver_id",
      EPOCH_US(CAST("event_timestamp" AS TIMESTAMPTZ)) AS "__silage_ts",
      EPOCH_US(CAST("created" AS TIMESTAMPTZ)) AS "__silage_created",
      CAST("conv_rate" AS REAL) AS "conv_rate",
      CAST("avg_daily_trips" AS BIGINT) AS "avg_daily_trips"
    FROM "__silage_source_driver_hourly_stats"
  ) AS "s"
    ON "m"."driver_id" = "s"."driver_id" AND "s"."__silage_ts" = "m"."__silage_match_0"
  GROUP BY
    "m"."__silage_row"
)
SELECT
  "e"."driver_id",
  "e"."event_timestamp",
  STRUCT_EXTRACT("p0_driver_hourly_stats"."__silage_values", 'conv_rate') AS "conv_rate",
  STRUCT_EXTRACT("p0_driver_hourly_stats"."__silage_values", 'avg_daily_trips') AS "avg_daily_trips"
FROM "__silage_matches" AS "m"
JOIN "__silage_entities" AS "e"
  ON "e"."__silage_row" = "m"."__silage_row"
LEFT JOIN "p0_driver_hourly_stats"
  ON "p0_driver_hourly_stats"."__silage_row" = "m"."__silage_row"
ORDER BY
  "m"."__silage_row";
