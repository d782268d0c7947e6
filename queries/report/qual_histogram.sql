-- Histogram of QUAL (phred-scaled, as in the VCF QUAL column) of one sample's variant calls.
-- Calls: rows of the sample whose genotype carries an ALT allele (any GT allele index > 0).
-- Range: from the lowest QUAL to the QUAL at the :upper_fraction quantile (nearest rank over
-- the calls with a QUAL; 1.0 keeps the highest value), cut into :bins equal-width bins: bin i
-- covers [bin_start, bin_end), the last bin also holds the upper limit itself. Calls above the
-- range are counted in bin = :bins (bin_start = the limit, bin_end = the highest QUAL); calls
-- without a QUAL ('.') in bin NULL. One row per non-empty bin.
-- @param sample varchar sample id (the sampleid column)
-- @param bins integer number of bins (>= 1)
-- @param upper_fraction double quantile (0 < f <= 1) of QUAL where the binned range ends
WITH sample_calls AS (
  SELECT qual
  FROM variants
  WHERE sampleid = :sample
    AND cardinality(filter(calls, a -> a > 0)) > 0
),
ranked AS (
  SELECT qual,
         row_number() OVER (ORDER BY qual) AS rn,
         count(*) OVER () AS n
  FROM sample_calls
  WHERE qual IS NOT NULL
),
bounds AS (
  SELECT min(qual) AS lo,
         max(CASE WHEN rn <= ceil(:upper_fraction * n) THEN qual END) AS hi,
         max(qual) AS top
  FROM ranked
),
binned AS (
  SELECT CASE
           WHEN s.qual IS NULL THEN NULL
           WHEN s.qual > b.hi THEN :bins
           WHEN b.hi = b.lo THEN 0
           ELSE least(CAST(floor((s.qual - b.lo) / ((b.hi - b.lo) / :bins)) AS bigint), :bins - 1)
         END AS bin,
         b.lo,
         b.hi,
         b.top
  FROM sample_calls s
  CROSS JOIN bounds b
)
SELECT bin,
       CASE WHEN bin = :bins THEN hi ELSE lo + bin * ((hi - lo) / :bins) END AS bin_start,
       CASE WHEN bin = :bins THEN top ELSE lo + (bin + 1) * ((hi - lo) / :bins) END AS bin_end,
       count(*) AS variants
FROM binned
GROUP BY bin, lo, hi, top
ORDER BY bin NULLS LAST
