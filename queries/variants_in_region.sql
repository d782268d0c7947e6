-- Variants of one contig region: one row per sample per variant record overlapping the region.
-- Coordinates: 0-based half-open, as in HealthOmics variant stores (start = POS - 1,
-- "end" = start + length(REF)). A record overlaps [:region_start, :region_end) when
-- start < :region_end AND "end" > :region_start, so a deletion starting before the region but
-- reaching into it is included (bcftools view -r CONTIG:region_start+1-region_end, whose default
-- --regions-overlap 1 is the same rule).
-- Every genotype row is returned, including 0/0 and ./. rows of a multi-sample VCF.
-- Reads: variants.
-- Output: sampleid, contigname, start, end, names (ID, ';'-joined), referenceallele,
--   alternatealleles (','-joined), qual, filters (';'-joined, NULL for FILTER '.'),
--   gt (VCF GT text: allele indexes joined by '/' or '|' when phased, -1 for a missing allele),
--   depth (FORMAT DP), gq (FORMAT GQ). Ordered by sampleid, start, referenceallele, ALT.
-- @param contig varchar contig name as in the variants (e.g. 'q', 'chr22', '22')
-- @param region_start bigint 0-based inclusive start of the region
-- @param region_end bigint 0-based exclusive end of the region
SELECT sampleid,
       contigname,
       start,
       "end",
       array_join(names, ';') AS names,
       referenceallele,
       array_join(alternatealleles, ',') AS alternatealleles,
       qual,
       array_join(filters, ';') AS filters,
       CASE WHEN phased THEN array_join(transform(calls, c -> CAST(c AS varchar)), '|')
            ELSE array_join(transform(calls, c -> CAST(c AS varchar)), '/') END AS gt,
       depth,
       conditionalquality AS gq
FROM variants
WHERE contigname = :contig
  AND start < :region_end
  AND "end" > :region_start
ORDER BY sampleid, start, referenceallele, array_join(alternatealleles, ',')
