-- __silage_source_driver_hourly_stats: /data/driver_stats.parquet
CACHE TABLE `__silage_matches` AS
WITH `e` AS (
  SELECT
    *,
    UNIX_MICROS(`event_timestamp`) AS `__silage_ts`
  FROM `__silage_entities`
), `v0_driver_hourly_stats` AS (
  SELECT
    CAST(`driver_id` AS BIGINT) AS `driver_id`,
    UNIX_MICROS(CAST(`event_timestamp` AS TIMESTAMP)) AS `__silage_ts`
  FROM `__silage_source_driver_hourly_stats`
  WHERE
    UNIX_MICROS(CAST(`event_timestamp` AS TIMESTAMP)) <= 1767312000000000
    AND UNIX_MICROS(CAST(`event_timestamp` AS TIMESTAMP)) >= 1767139200000000
)
SELECT
  `e`.`__silage_row`,
  CASE
    WHEN `v0_driver_hourly_stats`.`__silage_ts` >= `e`.`__silage_ts` - 86400000000
    THEN `v0_driver_hourly_stats`.`__silage_ts`
  END AS `__silage_match_0`,
  `e`.`driver_id`
FROM `e`
LEFT ASOF JOIN `v0_driver_hourly_stats` MATCH_CONDITION (`e`.`__silage_ts` >= `v0_driver_hourly_stats`.`__silage_ts`)
  ON `e`.`driver_id` = `v0_driver_hourly_stats`.`driver_id`;
WITH `p0_driver_hourly_stats` AS (
  SELECT
    `m`.`__silage_row`,
    MAX_BY(
      STRUCT(`s`.`conv_rate` AS `conv_rate`, `s`.`avg_daily_trips` AS `avg_daily_trips`),
      COALESCE(`s`.`__silage_created`, -9223372036854775807)
    ) AS `__silage_values`
  FROM `__silage_matches` AS `m`
  JOIN (
    SELECT
      CAST(`driver_id` AS BIGINT) AS `driver_id`,
      UNIX_MICROS(CAST(`event_timestamp` AS TIMESTAMP)) AS `__silage_ts`,
      UNIX_MICROS(CAST(`created` AS TIMESTAMP)) AS `__silage_created`,
      CAST(`conv_rate` AS FLOAT) AS `conv_rate`,
      CAST(`avg_daily_trips` AS BIGINT) AS `avg_daily_trips`
    FROM `__silage_source_driver_hourly_stats`
    WHERE
      UNIX_MICROS(CAST(`event_timestamp` AS TIMESTAMP)) <= 1767312000000000
      AND UNIX_MICROS(CAST(`event_timestamp` AS TIMESTAMP)) >= 1767139200000000
  ) AS `s`
    ON `m`.`driver_id` = `s`.`driver_id` AND `s`.`__silage_ts` = `m`.`__silage_match_0`
  GROUP BY
    `m`.`__silage_row`
)
SELECT
  `e`.`driver_id`,
  `e`.`event_timestamp`,
  `e`.`label`,
  `p0_driver_hourly_stats`.`__silage_values`.conv_rate AS `conv_rate`,
  `p0_driver_hourly_stats`.`__silage_values`.avg_daily_trips AS `avg_daily_trips`
FROM `__silage_matches` AS `m`
JOIN `__silage_entities` AS `e`
  ON `e`.`__silage_row` = `m`.`__silage_row`
LEFT JOIN `p0_driver_hourly_stats`
  ON `p0_driver_hourly_stats`.`__silage_row` = `m`.`__silage_row`
ORDER BY
  `m`.`__silage_row`;
