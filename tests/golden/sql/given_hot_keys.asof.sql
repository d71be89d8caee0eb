-- __silage_source_driver_customer: /data/pairs/a.parquet, /data/pairs/b.parquet
CREATE TEMPORARY TABLE "__silage_matches" AS
WITH "e" AS (
  SELECT
    *,
    EPOCH_US("event_timestamp") AS "__silage_ts"
  FROM "__silage_entities"
), "v0_driver_customer" AS (
  SELECT
    CAST("driver_id" AS BIGINT) AS "driver_id",
    CAST("customer_id" AS TEXT) AS "customer_id",
    EPOCH_US(CAST("ts" AS TIMESTAMPTZ)) AS "__silage_ts",
    CAST("n_trips" AS BIGINT) AS "trips_together",
    CAST("ratings" AS DOUBLE[]) AS "ratings"
  FROM "__silage_source_driver_customer"
  WHERE
    EPOCH_US(CAST("ts" AS TIMESTAMPTZ)) <= 1767312000000000
)
SELECT
  "e"."__silage_row",
  "v0_driver_customer"."trips_together" AS "driver_customer__trips_together",
  "v0_driver_customer"."ratings" AS "driver_customer__ratings"
FROM "e"
ASOF LEFT JOIN "v0_driver_customer"
  ON "e"."driver_id" = "v0_driver_customer"."driver_id"
  AND "e"."customer_id" = "v0_driver_customer"."customer_id"
  AND "e"."__silage_ts" >= "v0_driver_customer"."__silage_ts";
SELECT
  "e"."driver_id",
  "e"."customer_id",
  "e"."event_timestamp",
  "m"."driver_customer__trips_together" AS "driver_customer__trips_together",
  "m"."driver_customer__ratings" AS "driver_customer__ratings"
FROM "__silage_matches" AS "m"
JOIN "__silage_entities" AS "e"
  ON "e"."__silage_row" = "m"."__silage_row"
ORDER BY
  "m"."__silage_row";
