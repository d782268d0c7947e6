-- Histogram of read depth (FORMAT DP, reads; the depth column) of one sample's variant calls.
-- Calls: rows of the sample whose genotype carries an ALT allele (any GT allele index > 0).
-- Range: from the lowest DP to the DP at the :upper_fraction quantile (nearest rank over the
-- calls with a DP; 1.0 keeps the highest value), cut into at most :bins bins of equal integer
-- width (>= 1 read): bin i covers depths [bin_start, bin_end). Calls above the range are counted
-- in bin = :bins (bin_start = the limit + 1, bin_end = the highest DP + 1); calls without a
-- FORMAT DP in bin NULL. One row per non-empty bin.
-- @param sample varchar sample id (the sampleid column)
-- @param bins integer largest number of bins (>= 1)
-- @param upper_fraction double quantile (0 < f <= 1) of DP where the binned range ends
WITH sample_calls AS (
  SELECT depth
  FROM variants
  WHERE sampleid = :sample
    AND cardinality(filter(calls, a -> a > 0)) > 0
),
ranked AS (
  SELECT depth,
         row_number() OVER (ORDER BY depth) AS rn,
         count(*) OVER () AS n
  FROM sample_calls
  WHERE depth IS NOT NULL
),
bounds AS (
  SELECT min(depth) AS lo,
         max(CASE WHEN rn <= ceil(:upper_fraction * n) THEN depth END) AS hi,
         max(depth) AS top
  FROM ranked
),
sized AS (
  SELECT lo, hi, top,
         greatest(CAST(ceil(CAST(hi - lo + 1 AS double) / :bins) AS bigint), 1) AS width
  FROM bounds
),
binned AS (
  SELECT CASE
           WHEN s.depth IS NULL THEN NULL
           WHEN s.depth > z.hi THEN :bins
           ELSE CAST(floor(CAST(s.depth - z.lo AS double) / z.width) AS bigint)
         END AS bin,
         z.lo,
         z.hi,
         z.top,
         z.width
  FROM sample_calls s
  CROSS JOIN sized z
)
SELECT bin,
       CASE WHEN bin = :bins THEN hi + 1 ELSE lo + bin * width END AS bin_start,
       CASE WHEN bin = :bins THEN top + 1 ELSE lo + (bin + 1) * width END AS bin_end,
       count(*) AS variants
FROM binned
GROUP BY bin, lo, hi, top, width
ORDER BY bin NULLS LAST
