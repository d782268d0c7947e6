-- Variant calls of one sample per contig (bar chart of `omics-toolkit report`).
-- A call counts when its genotype carries an ALT allele: any GT allele index > 0 (0/1, 1/1, 1/2,
-- ./1, 1 ...). The 0/0 and ./. rows that a multi-sample VCF gives every sample are not counted.
-- Coordinates are 0-based half-open: first_start/last_end span the sample's calls on the contig.
-- @param sample varchar sample id (the sampleid column)
SELECT contigname,
       count(*) AS variants,
       min(start) AS first_start,
       max("end") AS last_end
FROM variants
WHERE sampleid = :sample
  AND cardinality(filter(calls, a -> a > 0)) > 0
GROUP BY contigname
ORDER BY contigname
