"""Read sets without downloading genomes: regions, index statistics, exports and htsget."""
