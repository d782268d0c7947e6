-- ClinVar clinical significance (INFO CLNSIG) of one sample's variant calls.
-- Calls: rows of the sample whose genotype carries an ALT allele (any GT allele index > 0).
-- A call matches a record of the annotations_clinvar table with the same contig name, 0-based
-- start, REF and ALT list, exactly as imported (no normalisation: '22' does not match 'chr22').
-- One row per CLNSIG value as written in the ClinVar VCF (text such as 'Pathogenic', or the numeric
-- codes of older ClinVar VCFs); clnsig NULL counts matched records without CLNSIG.
-- Fails with TABLE_NOT_FOUND when no ClinVar annotations were imported.
-- @param sample varchar sample id (the sampleid column)
SELECT element_at(c.attributes, 'CLNSIG') AS clnsig,
       count(*) AS variants
FROM variants v
JOIN annotations_clinvar c
  ON c.contigname = v.contigname
 AND c.start = v.start
 AND c.referenceallele = v.referenceallele
 AND c.alternatealleles = v.alternatealleles
WHERE v.sampleid = :sample
  AND cardinality(filter(v.calls, a -> a > 0)) > 0
GROUP BY element_at(c.attributes, 'CLNSIG')
ORDER BY variants DESC, clnsig NULLS LAST
