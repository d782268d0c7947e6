-- Variant calls inside chosen genes: one row per sample, variant record and gene.
-- Reads: variants, annotations_genes (features of a gene annotation: contigname, start, "end",
-- strand, gene_id, gene_name, feature).
-- Coordinates: 0-based half-open on both sides, as in HealthOmics stores (variant start = POS - 1,
-- "end" = start + length(REF); a GFF/TSV feature [Start, End] 1-based inclusive is
-- [Start - 1, End)). A variant is in a gene when it overlaps any of the gene's features:
-- v.start < g."end" AND v."end" > g.start (an insertion at POS overlaps a feature containing POS).
-- Contig names must agree (the annotation import maps chr22 -> 22 onto the variants' naming).
-- Only calls are returned: rows whose GT carries an ALT allele (any allele index > 0);
-- 0/0 and ./. rows are not.
-- Genes are chosen by gene_id or gene_name, e.g. '23523,SOX10' (whitespace around names is
-- ignored; a gene without gene_name, such as a RefSeq TSV's Entrez ids, matches by id only).
-- Output: gene_id, gene_name, strand, features (the overlapped feature types, ','-joined, e.g.
--   'exon'), sampleid, contigname, start, end, names (';'-joined), referenceallele,
--   alternatealleles (','-joined), gt ('/' or '|' joined allele indexes), qual, filters
--   (';'-joined). Ordered by gene_id, sampleid, start, referenceallele, alternatealleles.
-- @param genes varchar comma-separated gene ids and/or gene names, e.g. '23523,SOX10'
WITH wanted AS (
    SELECT transform(split(:genes, ','), g -> trim(g)) AS ids
),
features AS (
    SELECT g.contigname, g.start, g."end", g.strand, g.gene_id, g.gene_name, g.feature
    FROM annotations_genes g
    CROSS JOIN wanted w
    WHERE contains(w.ids, g.gene_id) OR contains(w.ids, g.gene_name)
),
hits AS (
    SELECT f.gene_id,
           f.gene_name,
           f.strand,
           f.feature,
           v.sampleid,
           v.contigname,
           v.start,
           v."end",
           array_join(v.names, ';') AS names,
           v.referenceallele,
           array_join(v.alternatealleles, ',') AS alternatealleles,
           CASE WHEN v.phased THEN array_join(transform(v.calls, c -> CAST(c AS varchar)), '|')
                ELSE array_join(transform(v.calls, c -> CAST(c AS varchar)), '/') END AS gt,
           v.qual,
           array_join(v.filters, ';') AS filters
    FROM variants v
    JOIN features f
      ON v.contigname = f.contigname
     AND v.start < f."end"
     AND v."end" > f.start
    WHERE cardinality(filter(v.calls, a -> a > 0)) > 0
),
distinct_hits AS (
    SELECT DISTINCT gene_id, gene_name, strand, feature, sampleid, contigname, start, "end",
           names, referenceallele, alternatealleles, gt, qual, filters
    FROM hits
)
SELECT gene_id,
       gene_name,
       strand,
       array_join(array_agg(feature ORDER BY feature), ',') AS features,
       sampleid,
       contigname,
       start,
       "end",
       names,
       referenceallele,
       alternatealleles,
       gt,
       qual,
       filters
FROM distinct_hits
GROUP BY gene_id, gene_name, strand, sampleid, contigname, start, "end", names,
         referenceallele, alternatealleles, gt, qual, filters
ORDER BY gene_id, sampleid, start, referenceallele, alternatealleles
