WITH "e" AS (
  SELECT
    *,
    EPOCH_US("event_timestamp") AS "__silage_ts",
    CAST(EPOCH_US("event_timestamp") AS INT128) * 18446744073709551616 + 18446744073709551615 AS "__silage_order"
  FROM "__silage_entities"
), "v0_driver_customer" AS (
  SELECT
    CAST("driver_id" AS BIGINT) AS "driver_id",
    CAST("customer_id" AS TEXT) AS "customer_id",
    EPOCH_US(CAST("ts" AS TIMESTAMPTZ)) AS "__silage_ts",
    CAST(NULL AS BIGINT) AS "__silage_created",
    CAST(EPOCH_US(CAST("ts" AS TIMESTAMPTZ)) AS INT128) * 18446744073709551616 + 0 AS "__silage_order",
    CAST("n_trips" AS BIGINT) AS "trips_together",
    CAST("ratings" AS DOUBLE[]) AS "ratings"
  FROM READ_PARQUET(['/data/pairs/a.parquet', '/data/pairs/b.parquet'], union_by_name = TRUE)
)
SELECT
  "v0_driver_customer"."trips_together" AS "driver_customer__trips_together",
  "v0_driver_customer"."ratings" AS "driver_customer__ratings"
FROM "e"
ASOF LEFT JOIN "v0_driver_customer"
  ON "e"."driver_id" = "v0_driver_customer"."driver_id"
  AND "e"."customer_id" = "v0_driver_customer"."customer_id"
  AND "e"."__silage_order" >= "v0_driver_customer"."__silage_order"
ORDER BY
  "e"."__silage_row"
