-- Variants of one contig region, one row per sample per variant.
-- Coordinates are 0-based half-open, as in the variant store: a variant overlaps
-- [:region_start, :region_end) when start < :region_end AND "end" > :region_start.
-- @param contig varchar contig name as in the reference (e.g. 'q', 'chr22', '22')
-- @param region_start bigint 0-based inclusive start of the region
-- @param region_end bigint 0-based exclusive end of the region
SELECT sampleid,
       contigname,
       start,
       "end",
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
ORDER BY sampleid, start, referenceallele
