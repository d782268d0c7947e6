-- Per-sample summary: variant counts by class, het/hom-alt ratio and Ti/Tv of biallelic SNVs.
-- No parameters. SNV = REF and ALT of length 1; transitions are A<->G and C<->T.
SELECT sampleid,
       count(*) AS variants,
       count_if(length(referenceallele) = 1 AND length(alternatealleles[1]) = 1) AS snvs,
       count_if(length(referenceallele) <> length(alternatealleles[1])) AS indels,
       count_if(cardinality(calls) = 2 AND calls[1] <> calls[2]) AS het,
       count_if(cardinality(calls) = 2 AND calls[1] = calls[2] AND calls[1] > 0) AS hom_alt,
       CAST(count_if(cardinality(calls) = 2 AND calls[1] <> calls[2]) AS double)
         / nullif(count_if(cardinality(calls) = 2 AND calls[1] = calls[2] AND calls[1] > 0), 0) AS het_hom_ratio,
       CAST(count_if(length(referenceallele) = 1 AND length(alternatealleles[1]) = 1
                     AND (referenceallele || alternatealleles[1]) IN ('AG', 'GA', 'CT', 'TC')) AS double)
         / nullif(count_if(length(referenceallele) = 1 AND length(alternatealleles[1]) = 1
                           AND (referenceallele || alternatealleles[1]) NOT IN ('AG', 'GA', 'CT', 'TC')), 0) AS ti_tv,
       avg(qual) AS mean_qual,
       avg(depth) AS mean_depth
FROM variants
GROUP BY sampleid
ORDER BY sampleid
