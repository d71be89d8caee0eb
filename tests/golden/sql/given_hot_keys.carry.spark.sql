-- __silage_source_driver_customer: /data/pairs/a.parquet, /data/pairs/b.parquet
WITH `e` AS (
  SELECT
    *,
    UNIX_MICROS(`event_timestamp`) AS `__silage_ts`
  FROM `__silage_entities`
), `v0_driver_customer_timeline` AS (
  SELECT
    `driver_id`,
    `customer_id`,
    `__silage_ts`,
    CAST(NULL AS BIGINT) AS `__silage_row`,
    0 AS `__silage_side`,
    COALESCE(`__silage_created`, -9223372036854775807) AS `__silage_order`,
    STRUCT(
      `__silage_ts` AS `__silage_ts`,
      `trips_together` AS `trips_together`,
      `ratings` AS `ratings`
    ) AS `__silage_values`,
    CASE
      WHEN (
        `driver_id` = 1 AND `customer_id` = 'a'
      )
      OR (
        `driver_id` = 2 AND `customer_id` = 'it\'s'
      )
      THEN `__silage_ts` DIV 1350000001
    END AS `__silage_bucket`
  FROM (
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
  ) AS `s`
  UNION ALL
  SELECT
    `driver_id`,
    `customer_id`,
    `__silage_ts`,
    `__silage_row`,
    1 AS `__silage_side`,
    CAST(NULL AS BIGINT) AS `__silage_order`,
    NULL AS `__silage_values`,
    CASE
      WHEN (
        `driver_id` = 1 AND `customer_id` = 'a'
      )
      OR (
        `driver_id` = 2 AND `customer_id` = 'it\'s'
      )
      THEN `__silage_ts` DIV 1350000001
    END AS `__silage_bucket`
  FROM `e`
), `v0_driver_customer_kept` AS (
  SELECT
    `driver_id`,
    `customer_id`,
    `__silage_bucket`,
    `__silage_row`,
    `__silage_ts`,
    `__silage_side`,
    `__silage_carried`,
    `__silage_last` AND NOT `__silage_bucket` IS NULL AS `__silage_last`
  FROM (
    SELECT
      `driver_id`,
      `customer_id`,
      `__silage_bucket`,
      `__silage_row`,
      `__silage_ts`,
      `__silage_side`,
      LAST_VALUE(`__silage_values`) IGNORE NULLS OVER (
        PARTITION BY `driver_id`, `customer_id`, `__silage_bucket`
        ORDER BY `__silage_ts` ASC, `__silage_side` ASC, `__silage_order` ASC
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
      ) AS `__silage_carried`,
      LEAD(`__silage_side`) OVER (
        PARTITION BY `driver_id`, `customer_id`, `__silage_bucket`
        ORDER BY `__silage_ts` ASC, `__silage_side` ASC, `__silage_order` ASC
      ) IS NULL AS `__silage_last`
    FROM `v0_driver_customer_timeline`
  ) AS `w`
  WHERE
    `__silage_side` = 1 OR (
      `__silage_last` AND NOT `__silage_bucket` IS NULL
    )
), `v0_driver_customer` AS (
  SELECT
    `__silage_row`,
    `__silage_ts`,
    `__silage_carried`
  FROM (
    SELECT
      `__silage_row`,
      `__silage_ts`,
      `__silage_side`,
      COALESCE(
        `__silage_carried`,
        LAST_VALUE(CASE WHEN `__silage_last` THEN `__silage_carried` END) IGNORE NULLS OVER (
          PARTITION BY `driver_id`, `customer_id`
          ORDER BY `__silage_bucket` ASC, `__silage_last` ASC
          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        )
      ) AS `__silage_carried`
    FROM `v0_driver_customer_kept`
  ) AS `a`
  WHERE
    `__silage_side` = 1
)
SELECT
  `e`.`driver_id`,
  `e`.`customer_id`,
  `e`.`event_timestamp`,
  `v0_driver_customer`.`__silage_carried`.`trips_together` AS `driver_customer__trips_together`,
  `v0_driver_customer`.`__silage_carried`.`ratings` AS `driver_customer__ratings`
FROM `e`
LEFT JOIN `v0_driver_customer`
  ON `v0_driver_customer`.`__silage_row` = `e`.`__silage_row`
ORDER BY
  `e`.`__silage_row`;
