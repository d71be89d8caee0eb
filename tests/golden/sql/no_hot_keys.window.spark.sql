-- __silage_source_driver_hourly_stats: /data/driver_stats.parquet
WITH `e` AS (
  SELECT
    *,
    UNIX_MICROS(`event_timestamp`) AS `__silage_ts`
  FROM `__silage_entities`
), `v0_driver_hourly_stats_src` AS (
  SELECT
    CAST(`driver_id` AS BIGINT) AS `driver_id`,
    UNIX_MICROS(CAST(`event_timestamp` AS TIMESTAMP)) AS `__silage_ts`,
    UNIX_MICROS(CAST(`created` AS TIMESTAMP)) AS `__silage_created`,
    CAST(`conv_rate` AS FLOAT) AS `conv_rate`,
    CAST(`avg_daily_trips` AS BIGINT) AS `avg_daily_trips`
  FROM `__silage_source_driver_hourly_stats`
), `v0_driver_hourly_stats` AS (
  SELECT
    `e`.`__silage_row`,
    `f`.`conv_rate`,
    `f`.`avg_daily_trips`,
    ROW_NUMBER() OVER (
      PARTITION BY `e`.`__silage_row`
      ORDER BY `f`.`__silage_ts` DESC, `f`.`__silage_created` DESC
    ) AS `__silage_rank`
  FROM `e`
  JOIN `v0_driver_hourly_stats_src` AS `f`
    ON `e`.`driver_id` = `f`.`driver_id` AND `f`.`__silage_ts` <= `e`.`__silage_ts`
)
SELECT
  `e`.`driver_id`,
  `e`.`event_timestamp`,
  `v0_driver_hourly_stats`.`conv_rate` AS `conv_rate`,
  `v0_driver_hourly_stats`.`avg_daily_trips` AS `avg_daily_trips`
FROM `e`
LEFT JOIN `v0_driver_hourly_stats`
  ON `v0_driver_hourly_stats`.`__silage_row` = `e`.`__silage_row`
  AND `v0_driver_hourly_stats`.`__silage_rank` = 1
ORDER BY
  `e`.`__silage_row`;
