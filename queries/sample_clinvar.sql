-- One sample's variant calls that are in ClinVar, with their ClinVar assertions.
-- Reads: variants, annotations_clinvar (a ClinVar VCF imported as a VCF annotation: one row per
-- record, INFO in attributes, the ClinVar id in names).
-- Coordinates: 0-based half-open on both sides, as in HealthOmics stores (start = POS - 1,
-- "end" = start + length(REF)).
-- Matching, per ALT allele the sample carries (GT allele index > 0; 0/0 and ./. rows never
-- match): same contigname, start and REF, and the carried ALT allele is among the ClinVar
-- record's ALT alleles. Alleles are compared as imported: no left-normalisation and no contig
-- renaming here ('22' does not match 'chr22'; the annotation import maps names).
-- INFO fields missing from a ClinVar record come back NULL (element_at, not attributes[...],
-- which fails on a missing key in Athena).
-- Output: sampleid, contigname, start, end, referenceallele, alternateallele (the matched ALT),
--   gt ('/' or '|' joined allele indexes), qual, filters (';'-joined), depth, gq,
--   clnsig (INFO CLNSIG as written: text or the numeric codes of older ClinVar VCFs),
--   clnrevstat (INFO CLNREVSTAT), clnacc (INFO CLNACC, RCV accessions), clinvar_names (ClinVar
--   record's ID column, ';'-joined). Ordered by contigname, start, alternateallele.
-- @param sample varchar sample id (the sampleid column)
WITH carried AS (
    SELECT v.sampleid,
           v.contigname,
           v.start,
           v."end",
           v.referenceallele,
           element_at(v.alternatealleles, a.alt_index) AS alternateallele,
           CASE WHEN v.phased THEN array_join(transform(v.calls, c -> CAST(c AS varchar)), '|')
                ELSE array_join(transform(v.calls, c -> CAST(c AS varchar)), '/') END AS gt,
           v.qual,
           array_join(v.filters, ';') AS filters,
           v.depth,
           v.conditionalquality AS gq
    FROM variants v
    CROSS JOIN UNNEST(sequence(1, greatest(cardinality(v.alternatealleles), 1))) AS a (alt_index)
    WHERE v.sampleid = :sample
      AND contains(v.calls, a.alt_index)
)
SELECT c.sampleid,
       c.contigname,
       c.start,
       c."end",
       c.referenceallele,
       c.alternateallele,
       c.gt,
       c.qual,
       c.filters,
       c.depth,
       c.gq,
       element_at(k.attributes, 'CLNSIG') AS clnsig,
       element_at(k.attributes, 'CLNREVSTAT') AS clnrevstat,
       element_at(k.attributes, 'CLNACC') AS clnacc,
       array_join(k.names, ';') AS clinvar_names
FROM carried c
JOIN annotations_clinvar k
  ON k.contigname = c.contigname
 AND k.start = c.start
 AND k.referenceallele = c.referenceallele
 AND contains(k.alternatealleles, c.alternateallele)
ORDER BY c.contigname, c.start, c.alternateallele
