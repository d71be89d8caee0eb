-- __silage_source_driver_customer: /data/pairs/a.parquet, /data/pairs/b.parquet
SELECT
  CAST("driver_id" AS BIGINT) AS "driver_id",
  CAST("customer_id" AS TEXT) AS "customer_id",
  CAST("n_trips" AS BIGINT) AS "trips_together",
  CAST("ratings" AS DOUBLE[]) AS "ratings",
  EPOCH_US(CAST("ts" AS TIMESTAMPTZ)) AS "__event_ts",
  CAST(NULL AS BIGINT) AS "__created_ts"
FROM "__silage_source_driver_customer"
WHERE
  EPOCH_US(CAST("ts" AS TIMESTAMPTZ)) >= 0
  AND EPOCH_US(CAST("ts" AS TIMESTAMPTZ)) <= 86400000000
QUALIFY
  ROW_NUMBER() OVER (
    PARTITION BY CAST("driver_id" AS BIGINT), CAST("customer_id" AS TEXT)
    ORDER BY EPOCH_US(CAST("ts" AS TIMESTAMPTZ)) DESC, CAST(NULL AS BIGINT) DESC
  ) = 1
ORDER BY
  "driver_id",
  "customer_id";
