-- __silage_source_driver_hourly_stats: /data/driver_stats.parquet
WITH `e` AS (
  SELECT
    *,
    UNIX_MICROS(`event_timestamp`) AS `__silage_ts`
  FROM `__silage_entities`
), `v0_driver_hourly_stats_timeline` AS (
  SELECT
    `driver_id`,
    `__silage_ts`,
    CAST(NULL AS BIGINT) AS `__silage_row`,
    0 AS `__silage_side`,
    COALESCE(`__silage_created`, -9223372036854775807) AS `__silage_order`,
    STRUCT(
      `__silage_ts` AS `__silage_ts`,
      `conv_rate` AS `conv_rate`,
      `avg_daily_trips` AS `avg_daily_trips`
    ) AS `__silage_values`
  FROM (
    SELECT
      CAST(`driver_id` AS BIGINT) AS `driver_id`,
      UNIX_MICROS(CAST(`event_timestamp` AS TIMESTAMP)) AS `__silage_ts`,
      UNIX_MICROS(CAST(`created` AS TIMESTAMP)) AS `__silage_created`,
      CAST(`conv_rate` AS FLOAT) AS `conv_rate`,
      CAST(`avg_daily_trips` AS BIGINT) AS `avg_daily_trips`
    FROM `__silage_source_driver_hourly_stats`
  ) AS `s`
  UNION ALL
  SELECT
    `driver_id`,
    `__silage_ts`,
    `__silage_row`,
    1 AS `__silage_side`,
    CAST(NULL AS BIGINT) AS `__silage_order`,
    NULL AS `__silage_values`
  FROM `e`
), `v0_driver_hourly_stats` AS (
  SELECT
    `__silage_row`,
    `__silage_ts`,
    `__silage_carried`
  FROM (
    SELECT
      `__silage_row`,
      `__silage_ts`,
      `__silage_side`,
      LAST_VALUE(`__silage_values`) IGNORE NULLS OVER (
        PARTITION BY `driver_id`
        ORDER BY `__silage_ts` ASC, `__silage_side` ASC, `__silage_order` ASC
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
      ) AS `__silage_carried`
    FROM `v0_driver_hourly_stats_timeline`
  ) AS `w`
  WHERE
    `__silage_side` = 1
)
SELECT
  `e`.`driver_id`,
  `e`.`event_timestamp`,
  `v0_driver_hourly_stats`.`__silage_carried`.`conv_rate` AS `conv_rate`,
  `v0_driver_hourly_stats`.`__silage_carried`.`avg_daily_trips` AS `avg_daily_trips`
FROM `e`
LEFT JOIN `v0_driver_hourly_stats`
  ON `v0_driver_hourly_stats`.`__silage_row` = `e`.`__silage_row`
ORDER BY
  `e`.`__silage_row`;
