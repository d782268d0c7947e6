-- Cohort allele frequencies in a region: one row per variant record and ALT allele.
-- Reads: variants (one row per sample per VCF record; all samples of all imports).
-- Coordinates: 0-based half-open, as in HealthOmics variant stores (start = POS - 1,
-- "end" = start + length(REF)); a record is counted when it overlaps [:region_start, :region_end)
-- (start < :region_end AND "end" > :region_start). For a whole contig pass region_start 0 and
-- region_end 2147483647.
-- A record is identified by contigname, start, "end", REF and its ALT list; GT allele indexes
-- (calls; -1 = missing allele) refer to that ALT list, so a multi-allelic record gives one row per
-- ALT allele, each with the record's AN. A sample's identical genotype rows for one record
-- (duplicate VCF records, or the same sample imported twice) count once; different genotypes of
-- one sample for the same record (conflicting duplicates) count separately.
--   an              allele number: called (non-missing) alleles over all samples' genotypes
--                   (0/1 gives 2, ./1 gives 1, ./. gives 0).
--   ac              allele count of this ALT allele: GT alleles equal to alt_index.
--   af              ac / an (NULL when an = 0).
--   samples         genotype rows of the record (samples with the record imported).
--   samples_called  rows with a fully called GT (no missing allele).
--   carriers        rows whose GT contains this ALT allele at least once.
-- Output: contigname, start, end, referenceallele, alternatealleles (','-joined ALT list),
--   alt_index (1-based), alternateallele, an, ac, af, samples, samples_called, carriers.
--   Ordered by contigname, start, referenceallele, alternatealleles, alt_index.
-- @param contig varchar contig name as in the variants (e.g. '22')
-- @param region_start bigint 0-based inclusive start of the region
-- @param region_end bigint 0-based exclusive end of the region
WITH genotypes AS (
    SELECT DISTINCT contigname, start, "end", referenceallele, alternatealleles, sampleid, calls
    FROM variants
    WHERE contigname = :contig
      AND start < :region_end
      AND "end" > :region_start
),
alleles AS (
    SELECT g.contigname,
           g.start,
           g."end",
           g.referenceallele,
           array_join(g.alternatealleles, ',') AS alternatealleles,
           a.alt_index,
           element_at(g.alternatealleles, a.alt_index) AS alternateallele,
           g.calls
    FROM genotypes g
    CROSS JOIN UNNEST(sequence(1, greatest(cardinality(g.alternatealleles), 1))) AS a (alt_index)
),
counts AS (
    SELECT contigname,
           start,
           "end",
           referenceallele,
           alternatealleles,
           alt_index,
           alternateallele,
           coalesce(sum(cardinality(filter(calls, c -> c >= 0))), 0) AS an,
           coalesce(sum(cardinality(filter(calls, c -> c = alt_index))), 0) AS ac,
           count(*) AS samples,
           count_if(cardinality(calls) > 0 AND NOT contains(calls, -1)) AS samples_called,
           count_if(contains(calls, alt_index)) AS carriers
    FROM alleles
    WHERE alternateallele IS NOT NULL
    GROUP BY contigname, start, "end", referenceallele, alternatealleles, alt_index, alternateallele
)
SELECT contigname,
       start,
       "end",
       referenceallele,
       alternatealleles,
       alt_index,
       alternateallele,
       an,
       ac,
       CAST(ac AS double) / nullif(an, 0) AS af,
       samples,
       samples_called,
       carriers
FROM counts
ORDER BY contigname, start, referenceallele, alternatealleles, alt_index
