-- __silage_source_driver_customer: /data/pairs/a.parquet, /data/pairs/b.parquet
WITH `e` AS (
  SELECT
    *,
    UNIX_MICROS(`event_timestamp`) AS `__silage_ts`
  FROM `__silage_entities`
), `v0_driver_customer_src` AS (
  SELECT
    CAST(`driver_id` AS BIGINT) AS `driver_id`,
    CAST(`customer_id` AS STRING) AS `customer_id`,
    UNIX_MICROS(CAST(`ts` AS TIMESTAMP)) AS `__silage_ts`,
    CAST(NULL AS BIGINT) AS `__silage_created`,
    CAST(`n_trips` AS BIGINT) AS `trips_together`,
    CAST(`ratings` AS ARRAY<DOUBLE>) AS `ratings`
  FROM `__silage_source_driver_customer`
  WHERE
    UNIX_MICROS(CAST(`ts` AS TIMESTAMP)) <= 1767312000000000
), `v0_driver_customer` AS (
  SELECT
    `e`.`__silage_row`,
    `f`.`trips_together`,
    `f`.`ratings`,
    ROW_NUMBER() OVER (
      PARTITION BY `e`.`__silage_row`
      ORDER BY `f`.`__silage_ts` DESC, `f`.`__silage_created` DESC
    ) AS `__silage_rank`
  FROM `e`
  JOIN `v0_driver_customer_src` AS `f`
    ON `e`.`driver_id` = `f`.`driver_id`
    AND `e`.`customer_id` = `f`.`customer_id`
    AND `f`.`__silage_ts` <= `e`.`__silage_ts`
)
SELECT
  `e`.`driver_id`,
  `e`.`customer_id`,
  `e`.`event_timestamp`,
  `v0_driver_customer`.`trips_together` AS `driver_customer__trips_together`,
  `v0_driver_customer`.`ratings` AS `driver_customer__ratings`
FROM `e`
LEFT JOIN `v0_driver_customer`
  ON `v0_driver_customer`.`__silage_row` = `e`.`__silage_row`
  AND `v0_driver_customer`.`__silage_rank` = 1
ORDER BY
  `e`.`__silage_row`;
