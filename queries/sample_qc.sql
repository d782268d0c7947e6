-- Per-sample genotype QC: missing-genotype rate, FORMAT DP and GQ distributions, FILTER mix.
-- Reads: variants (one row per sample per VCF record). No parameters.
-- Coordinates are not used (0-based half-open in the table: start = POS - 1).
--
-- Definitions (GT allele indexes are in calls; -1 is a missing allele '.'):
--   genotypes          every row of the sample (0/0 and ./. rows of a multi-sample VCF included).
--   missing_genotypes  rows whose GT has a missing allele ('./.', './1') or no GT at all;
--   missing_rate       missing_genotypes / genotypes.
--   depth_*, gq_*      FORMAT DP and FORMAT GQ over the called genotypes (missing ones and NULL
--                      values excluded): min, approximate quartiles (approx_percentile 0.25, 0.5,
--                      0.75; Athena's approximation, not exact order statistics), max and mean.
--   variants           called-or-partly-called rows carrying an ALT allele (any allele index > 0).
--   pass               variants whose FILTER is PASS; filtered: variants with any other FILTER;
--                      no_filter: variants with FILTER '.' (filters NULL or empty).
--   filter_counts      variants per FILTER value, 'NAME=count' joined by ';', sorted by name
--                      (a record with two filters counts once under each); NULL without variants.
-- Output: sampleid, genotypes, missing_genotypes, missing_rate, depth_min, depth_q1,
--   depth_median, depth_q3, depth_max, depth_mean, gq_min, gq_q1, gq_median, gq_q3, gq_max,
--   gq_mean, variants, pass, filtered, no_filter, filter_counts.
WITH genotypes AS (
    SELECT sampleid,
           filters,
           calls IS NULL OR cardinality(calls) = 0 OR contains(calls, -1) AS missing,
           coalesce(cardinality(filter(calls, a -> a > 0)), 0) > 0 AS is_variant,
           depth,
           conditionalquality AS gq
    FROM variants
),
called AS (
    SELECT sampleid,
           missing,
           is_variant,
           filters,
           CASE WHEN NOT missing THEN depth END AS depth,
           CASE WHEN NOT missing THEN gq END AS gq
    FROM genotypes
),
per_sample AS (
    SELECT sampleid,
           count(*) AS genotypes,
           count_if(missing) AS missing_genotypes,
           min(depth) AS depth_min,
           approx_percentile(depth, 0.25) AS depth_q1,
           approx_percentile(depth, 0.5) AS depth_median,
           approx_percentile(depth, 0.75) AS depth_q3,
           max(depth) AS depth_max,
           avg(depth) AS depth_mean,
           min(gq) AS gq_min,
           approx_percentile(gq, 0.25) AS gq_q1,
           approx_percentile(gq, 0.5) AS gq_median,
           approx_percentile(gq, 0.75) AS gq_q3,
           max(gq) AS gq_max,
           avg(gq) AS gq_mean,
           count_if(is_variant) AS variants,
           count_if(is_variant AND contains(filters, 'PASS')) AS pass,
           count_if(is_variant AND cardinality(filters) > 0 AND NOT contains(filters, 'PASS')) AS filtered,
           count_if(is_variant AND coalesce(cardinality(filters), 0) = 0) AS no_filter
    FROM called
    GROUP BY sampleid
),
per_filter AS (
    SELECT g.sampleid, f.name, count(*) AS n
    FROM genotypes g
    CROSS JOIN UNNEST(g.filters) AS f (name)
    WHERE g.is_variant
    GROUP BY g.sampleid, f.name
),
filter_mix AS (
    SELECT sampleid,
           array_join(array_agg(name || '=' || CAST(n AS varchar) ORDER BY name), ';') AS filter_counts
    FROM per_filter
    GROUP BY sampleid
)
SELECT p.sampleid,
       p.genotypes,
       p.missing_genotypes,
       CAST(p.missing_genotypes AS double) / p.genotypes AS missing_rate,
       p.depth_min,
       p.depth_q1,
       p.depth_median,
       p.depth_q3,
       p.depth_max,
       p.depth_mean,
       p.gq_min,
       p.gq_q1,
       p.gq_median,
       p.gq_q3,
       p.gq_max,
       p.gq_mean,
       p.variants,
       p.pass,
       p.filtered,
       p.no_filter,
       m.filter_counts
FROM per_sample p
LEFT JOIN filter_mix m ON m.sampleid = p.sampleid
ORDER BY p.sampleid
