version 1.0

# Germline short-variant calling after the GATK best practices (data pre-processing + HaplotypeCaller).
#
# one FASTQ pair per lane --gatk FastqToSam (read group ID = <sample>.<lane>, SM/LB = sample_name,
#   PU = lane, PL = ILLUMINA)--> unmapped BAM per lane
#   --samtools fastq | bwa mem -K 100000000 -p -Y | samtools view--> aligned BAM per lane
#   --gatk MergeBamAlignment--> merged BAM per lane
#   --gatk MarkDuplicates (all lanes together)--> samtools sort | calmd, index
#   --gatk BaseRecalibrator (known sites) + ApplyBQSR--> <sample>.bam + .bai
#   --gatk HaplotypeCaller -ploidy <ploidy>, scattered over gatk SplitIntervals shards--> gatk MergeVcfs
#   --> <sample>.vcf.gz + .tbi
# The reference's .dict (gatk CreateSequenceDictionary), .fai and bwa index are built here from the
# uncompressed FASTA. The first tasks to run call gatk, so an environment without GATK fails in
# seconds rather than after the bwa index.
#
# Container images are workflow inputs. Their defaults are the public BioContainers images
# (quay.io/biocontainers/...). AWS HealthOmics pulls only from private ECR in the run's region:
# either start the run with a containerRegistryMap that maps "quay.io" to an ECR pull-through
# cache (omics-toolkit provisions one: omics_toolkit/provisioning/containers.py), or pass `*_image`
# parameters naming private ECR copies, e.g.
# 123456789012.dkr.ecr.us-east-1.amazonaws.com/biocontainers/gatk4:4.6.1.0--py310hdfd78af_0.
# bwa_image must hold both bwa and samtools (the aligner's output is piped into samtools), hence
# the default is the BioContainers "mulled" bwa + samtools image, not the bwa-only one.
#
# Inputs fastq_1, fastq_2, read_groups, reference and sample_name, and outputs `bam`, `bam_index`,
# `vcf`, `vcf_index`, are shared by every germline workflow of omics-toolkit so that the pipeline
# starts and imports them the same way.

import "tasks/gatk.wdl" as gatk

workflow GatkGermline {
  input {
    Array[File] fastq_1
    Array[File] fastq_2
    Array[String]? read_groups
    File reference
    String sample_name
    Array[File] known_sites_vcfs
    Array[File] known_sites_indices
    File? calling_intervals
    Int scatter_count = 24
    Int ploidy = 2
    String gatk_image = "quay.io/biocontainers/gatk4:4.6.1.0--py310hdfd78af_0"
    String bwa_image = "quay.io/biocontainers/mulled-v2-fe8faa35dbf6dc65a0f7f5d4ea12e31a79f73e40:219b6c272b25e7e642ae3ff0bf0c5c81a5135ab4-0"
    String samtools_image = "quay.io/biocontainers/samtools:1.19--h50ea8bc_0"
    Int align_cpu = 8
    Int align_memory_gib = 16
    Int markdup_memory_gib = 16
    Int bqsr_memory_gib = 8
    Int haplotypecaller_cpu = 2
    Int haplotypecaller_memory_gib = 8
  }

  parameter_meta {
    fastq_1: "Read 1 of each lane's pair, FASTQ (gzip allowed), one file per lane."
    fastq_2: "Read 2 of each lane's pair, FASTQ (gzip allowed), same lanes and read order as fastq_1."
    read_groups: "Lane name of each pair (e.g. L001), used in the read group ID <sample>.<lane> and PU; default 1, 2, ..."
    reference: "Reference genome, uncompressed FASTA; its .dict, .fai and bwa index are built by the workflow."
    sample_name: "Sample id; becomes the read group ID/SM, the VCF sample column and the output file names."
    known_sites_vcfs: "Known variant sites for base recalibration, bgzipped VCFs on the reference's contigs (e.g. dbSNP, Mills and 1000G gold standard indels, 1000G phase 1 SNPs)."
    known_sites_indices: "Tabix (.tbi) index of each known_sites_vcfs file, same order."
    calling_intervals: "Regions to call, Picard interval list or BED (e.g. exome targets); default every contig of the reference."
    scatter_count: "Number of HaplotypeCaller shards (at most; contigs or given intervals are not split)."
    ploidy: "Copies of every contig in the sample: 2 (diploid), 1 (haploid: viruses, bacteria) or more (polyploid); HaplotypeCaller -ploidy."
    gatk_image: "Container image with GATK 4 (gatk wrapper on the PATH; private ECR URI on HealthOmics)."
    bwa_image: "Container image with bwa and samtools (private ECR URI on HealthOmics)."
    samtools_image: "Container image with samtools >= 1.10 (private ECR URI on HealthOmics)."
    align_cpu: "vCPUs for bwa mem (also its thread count)."
    align_memory_gib: "Memory for bwa mem, GiB."
    markdup_memory_gib: "Memory for MarkDuplicates, GiB (3/4 of it is Java heap)."
    bqsr_memory_gib: "Memory for BaseRecalibrator and ApplyBQSR, GiB."
    haplotypecaller_cpu: "vCPUs of each HaplotypeCaller shard (pair-HMM threads)."
    haplotypecaller_memory_gib: "Memory of each HaplotypeCaller shard, GiB."
  }

  call gatk.CreateSequenceDictionary {
    input:
      reference = reference,
      image = gatk_image
  }

  scatter (i in range(length(fastq_1))) {
    String lane = if defined(read_groups) then select_first([read_groups])[i] else "~{i + 1}"
    call gatk.FastqToSam {
      input:
        fastq_1 = fastq_1[i],
        fastq_2 = fastq_2[i],
        sample_name = sample_name,
        lane = lane,
        image = gatk_image
    }
  }

  call gatk.IndexReference {
    input:
      reference = reference,
      reference_dict = CreateSequenceDictionary.dict,
      image = bwa_image
  }

  scatter (unmapped_bam in FastqToSam.unmapped_bam) {
    call gatk.BwaMem {
      input:
        unmapped_bam = unmapped_bam,
        reference = reference,
        bwt = IndexReference.bwt,
        pac = IndexReference.pac,
        ann = IndexReference.ann,
        amb = IndexReference.amb,
        sa = IndexReference.sa,
        image = bwa_image,
        cpu = align_cpu,
        memory_gib = align_memory_gib
    }

    call gatk.MergeBamAlignment {
      input:
        aligned_bam = BwaMem.aligned_bam,
        unmapped_bam = unmapped_bam,
        reference = reference,
        reference_fai = IndexReference.fai,
        reference_dict = CreateSequenceDictionary.dict,
        image = gatk_image
    }
  }

  call gatk.MarkDuplicates {
    input:
      merged_bams = MergeBamAlignment.merged_bam,
      image = gatk_image,
      memory_gib = markdup_memory_gib
  }

  call gatk.SortAndIndex {
    input:
      bam = MarkDuplicates.bam,
      reference = reference,
      reference_fai = IndexReference.fai,
      image = samtools_image
  }

  call gatk.BaseRecalibrator {
    input:
      bam = SortAndIndex.sorted_bam,
      bam_index = SortAndIndex.sorted_bam_index,
      reference = reference,
      reference_fai = IndexReference.fai,
      reference_dict = CreateSequenceDictionary.dict,
      known_sites_vcfs = known_sites_vcfs,
      known_sites_indices = known_sites_indices,
      image = gatk_image,
      memory_gib = bqsr_memory_gib
  }

  call gatk.ApplyBQSR {
    input:
      bam = SortAndIndex.sorted_bam,
      bam_index = SortAndIndex.sorted_bam_index,
      recalibration_table = BaseRecalibrator.recalibration_table,
      reference = reference,
      reference_fai = IndexReference.fai,
      reference_dict = CreateSequenceDictionary.dict,
      sample_name = sample_name,
      image = gatk_image,
      memory_gib = bqsr_memory_gib
  }

  call gatk.SplitIntervals {
    input:
      reference = reference,
      reference_fai = IndexReference.fai,
      reference_dict = CreateSequenceDictionary.dict,
      calling_intervals = calling_intervals,
      scatter_count = scatter_count,
      image = gatk_image
  }

  scatter (interval_list in SplitIntervals.interval_lists) {
    call gatk.HaplotypeCaller {
      input:
        bam = ApplyBQSR.recalibrated_bam,
        bam_index = ApplyBQSR.recalibrated_bam_index,
        reference = reference,
        reference_fai = IndexReference.fai,
        reference_dict = CreateSequenceDictionary.dict,
        interval_list = interval_list,
        ploidy = ploidy,
        image = gatk_image,
        cpu = haplotypecaller_cpu,
        memory_gib = haplotypecaller_memory_gib
    }
  }

  call gatk.MergeVcfs {
    input:
      vcfs = HaplotypeCaller.vcf,
      sample_name = sample_name,
      image = gatk_image
  }

  output {
    File bam = ApplyBQSR.recalibrated_bam
    File bam_index = ApplyBQSR.recalibrated_bam_index
    File vcf = MergeVcfs.vcf
    File vcf_index = MergeVcfs.vcf_index
  }

  meta {
    description: "GATK best-practices germline SNV/indel calling for one sample: FastqToSam, bwa mem, MergeBamAlignment, MarkDuplicates, BQSR, scattered HaplotypeCaller"
  }
}
