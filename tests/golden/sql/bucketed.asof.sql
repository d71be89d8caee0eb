-- __silage_source_driver_hourly_stats: /data/driver_stats.parquet
CREATE TEMPORARY TABLE "__silage_matches" AS
WITH "e" AS (
  SELECT
    *,
    EPOCH_US("event_timestamp") AS "__silage_ts"
  FROM "__silage_entities"
)
SELECT
  "e"."__silage_row"
FROM "e";
WITH "p0_driver_hourly_stats" AS (
  SELECT
    "e"."__silage_row",
    ARG_MAX(
      {'conv_rate': "f"."conv_rate", 'avg_daily_trips': "f"."avg_daily_trips"},
      {'t': "f"."__silage_ts", 'c': COALESCE("f"."__silage_created", -9223372036854775807)}
    ) AS "__silage_values"
  FROM (
    SELECT
      "__silage_row",
      "driver_id",
      EPOCH_US("event_timestamp") AS "__silage_ts",
      EPOCH_US("event_timestamp") // 86400000000 AS "__silage_bucket"
    FROM "__silage_entities"
    UNION ALL
    SELECT
      "__silage_row",
      "driver_id",
      EPOCH_US("event_timestamp") AS "__silage_ts",
      EPOCH_US("event_timestamp") // 86400000000 - 1 AS "__silage_bucket"
    FROM "__silage_entities"
  ) AS "e"
  JOIN (
    SELECT
      CAST("driver_id" AS BIGINT) AS "driver_id",
      EPOCH_US(CAST("event_timestamp" AS TIMESTAMPTZ)) AS "__silage_ts",
      EPOCH_US(CAST("created" AS TIMESTAMPTZ)) AS "__silage_created",
      CAST("conv_rate" AS REAL) AS "conv_rate",
      CAST("avg_daily_trips" AS BIGINT) AS "avg_daily_trips",
      EPOCH_US(CAST("event_timestamp" AS TIMESTAMPTZ)) // 86400000000 AS "__silage_bucket"
    FROM "__silage_source_driver_hourly_stats"
  ) AS "f"
    ON "e"."driver_id" = "f"."driver_id"
    AND "f"."__silage_bucket" = "e"."__silage_bucket"
  WHERE
    "f"."__silage_ts" <= "e"."__silage_ts"
    AND "f"."__silage_ts" >= "e"."__silage_ts" - 86400000000
  GROUP BY
    "e"."__silage_row"
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
