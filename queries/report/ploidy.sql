-- Ploidy of one sample's genotypes: rows per number of GT alleles (1 for a haploid call such as
-- "1", 2 for "0/1" or "1/1"), as the caller wrote them (`omics-toolkit report` header).
-- Rows without a GT (an empty calls array) are not counted.
-- @param sample varchar sample id (the sampleid column)
SELECT cardinality(calls) AS ploidy,
       count(*) AS calls
FROM variants
WHERE sampleid = :sample
  AND cardinality(calls) > 0
GROUP BY cardinality(calls)
ORDER BY ploidy
