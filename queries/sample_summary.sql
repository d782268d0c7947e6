-- Per-sample summary: variant counts by class, het/hom-alt, Ti/Tv, mean QUAL and depth.
-- Reads: variants (one row per sample per VCF record). No parameters.
-- Coordinates are not used (0-based half-open in the table: start = POS - 1).
--
-- Definitions (GT allele indexes are in calls; -1 is a missing allele '.'):
--   records     every row of the sample, including 0/0 and ./. rows of a multi-sample VCF.
--   variants    rows whose GT carries an ALT allele: any allele index > 0 (0/1, 1/1, 1/2, ./1).
--               For a variants-only VCF (bcftools call -v) this equals records minus no-calls.
--   no_calls    rows whose GT has a missing allele ('./.', './1') or no GT at all.
--   hom_ref     fully called rows with every allele 0.
--   het         fully called rows with two or more different allele indexes (0/1, 1/2).
--   hom_alt     fully called rows with one allele index, > 0 (1/1, 2/2, haploid 1).
--               So variants = het + hom_alt + partially missing carriers (./1).
--   Multi-allelic records: only the ALT alleles the sample carries are classified.
--   snvs        variants with a one-base REF whose carried ALT alleles are all one of A, C, G, T.
--   indels      variants with a carried ALT allele of a different length than REF (symbolic
--               alleles '<...>' and the spanning deletion '*' excepted); MNPs are neither.
--   multiallelic  variants whose record has more than one ALT allele.
--   ti_tv       transitions (A<->G, C<->T) / transversions over the sample's biallelic SNV
--               variants (records with exactly one ALT); NULL without transversions.
--   het_hom_ratio  het / hom_alt; NULL without hom_alt.
--   mean_qual, mean_depth  mean QUAL and FORMAT DP over the sample's variants (NULLs ignored).
--   Counts are over rows as imported: a record repeated in the VCF counts each time (as in
--   bcftools stats).
-- Output: sampleid, variants, snvs, indels, het, hom_alt, het_hom_ratio, ti_tv, mean_qual,
--   mean_depth, records, hom_ref, no_calls, multiallelic, transitions, transversions.
WITH genotypes AS (
    SELECT sampleid,
           upper(referenceallele) AS ref,
           cardinality(alternatealleles) AS n_alt,
           qual,
           depth,
           calls IS NULL OR cardinality(calls) = 0 OR contains(calls, -1) AS missing,
           cardinality(array_distinct(calls)) AS n_distinct,
           element_at(calls, 1) AS first_allele,
           transform(filter(array_distinct(calls), a -> a > 0),
                     a -> upper(element_at(alternatealleles, a))) AS carried
    FROM variants
),
classified AS (
    SELECT sampleid, ref, n_alt, qual, depth, missing, n_distinct, first_allele, carried,
           coalesce(cardinality(carried), 0) > 0 AS is_variant,
           length(ref) = 1 AND cardinality(carried) > 0
             AND cardinality(filter(carried, x -> x NOT IN ('A', 'C', 'G', 'T'))) = 0 AS is_snv,
           cardinality(filter(carried, x -> length(x) <> length(ref)
                                            AND x <> '*' AND substr(x, 1, 1) <> '<')) > 0 AS is_indel
    FROM genotypes
),
per_sample AS (
    SELECT sampleid,
           count(*) AS records,
           count_if(is_variant) AS variants,
           count_if(is_variant AND is_snv) AS snvs,
           count_if(is_variant AND is_indel) AS indels,
           count_if(missing) AS no_calls,
           count_if(NOT missing AND n_distinct = 1 AND first_allele = 0) AS hom_ref,
           count_if(NOT missing AND n_distinct > 1) AS het,
           count_if(NOT missing AND n_distinct = 1 AND first_allele > 0) AS hom_alt,
           count_if(is_variant AND n_alt > 1) AS multiallelic,
           count_if(is_variant AND is_snv AND n_alt = 1
                    AND ref || element_at(carried, 1) IN ('AG', 'GA', 'CT', 'TC')) AS transitions,
           count_if(is_variant AND is_snv AND n_alt = 1
                    AND ref || element_at(carried, 1) NOT IN ('AG', 'GA', 'CT', 'TC')) AS transversions,
           avg(CASE WHEN is_variant THEN qual END) AS mean_qual,
           avg(CASE WHEN is_variant THEN depth END) AS mean_depth
    FROM classified
    GROUP BY sampleid
)
SELECT sampleid,
       variants,
       snvs,
       indels,
       het,
       hom_alt,
       CAST(het AS double) / nullif(hom_alt, 0) AS het_hom_ratio,
       CAST(transitions AS double) / nullif(transversions, 0) AS ti_tv,
       mean_qual,
       mean_depth,
       records,
       hom_ref,
       no_calls,
       multiallelic,
       transitions,
       transversions
FROM per_sample
ORDER BY sampleid
