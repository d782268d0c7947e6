version 1.0

# Germline short-variant calling with bwa + samtools + bcftools.
#
# one FASTQ pair per lane --bwa mem per lane (read group ID = <sample>.<lane>, SM/LB = sample_name,
#   PU = lane, PL = ILLUMINA)--> aligned.sam.gz per lane
#   --merged, samtools collate | fixmate -m | sort | markdup--> <sample>.bam + .bai
#   --bcftools mpileup | call -mv --ploidy <ploidy>--> <sample>.vcf.gz + .tbi
# `ploidy` is the copy number of every contig of the sample: 2 (diploid, GT 0/1, 1/1) or 1
# (haploid, e.g. a virus or a bacterium: GT 1). bcftools call's multiallelic caller knows no other.
#
# Container images are workflow inputs. Their defaults are the public BioContainers images
# (quay.io/biocontainers/...). AWS HealthOmics pulls only from private ECR in the run's region:
# either start the run with a containerRegistryMap that maps "quay.io" to an ECR pull-through
# cache, or pass `*_image` parameters naming private ECR copies, e.g.
# 123456789012.dkr.ecr.us-east-1.amazonaws.com/biocontainers/bwa:0.7.18--he4a0461_1.
# The bwa image needs only bwa and gzip (BioContainers images carry busybox gzip).
#
# Outputs `bam`, `bam_index`, `vcf`, `vcf_index` are shared by every germline workflow of
# omics-toolkit so that the pipeline can import them the same way.

workflow BcftoolsGermline {
  input {
    Array[File] fastq_1 = []
    Array[File] fastq_2 = []
    Array[String]? read_groups
    File? aligned_reads
    File reference
    String sample_name
    String bwa_image = "quay.io/biocontainers/bwa:0.7.18--he4a0461_1"
    String samtools_image = "quay.io/biocontainers/samtools:1.19--h50ea8bc_0"
    String bcftools_image = "quay.io/biocontainers/bcftools:1.17--haef29d1_0"
    Int ploidy = 2
    Int align_cpu = 8
    Int align_memory_gib = 16
  }

  parameter_meta {
    fastq_1: "Read 1 of each lane's pair, FASTQ (gzip allowed), one file per lane."
    fastq_2: "Read 2 of each lane's pair, FASTQ (gzip allowed), same lanes and read order as fastq_1."
    aligned_reads: "BAM or CRAM aligned to this reference, instead of FASTQs: no alignment; sorted by coordinate if it is not, indexed, called. The VCF sample is sample_name whatever the @RG SM."
    read_groups: "Lane name of each pair (e.g. L001), used in the read group ID <sample>.<lane> and PU; default 1, 2, ..."
    reference: "Reference genome, uncompressed FASTA; its .fai and bwa index are built by the workflow."
    sample_name: "Sample id; becomes the read group ID/SM, the VCF sample column and the output file names."
    bwa_image: "Container image with bwa and gzip (private ECR URI on HealthOmics)."
    samtools_image: "Container image with samtools >= 1.10 (private ECR URI on HealthOmics)."
    bcftools_image: "Container image with bcftools >= 1.10 (private ECR URI on HealthOmics)."
    ploidy: {
      description: "Copies of every contig in the sample: 2 (diploid) or 1 (haploid: viruses, bacteria); bcftools call --ploidy.",
      choices: [1, 2]
    }
    align_cpu: "vCPUs for bwa mem (also its thread count)."
    align_memory_gib: "Memory for bwa mem, GiB."
  }

  Boolean from_aligned = defined(aligned_reads)

  call FaidxReference {
    input:
      reference = reference,
      image = samtools_image
  }

  if (!from_aligned) {
  call BwaIndex {
    input:
      reference = reference,
      image = bwa_image
  }

  scatter (i in range(length(fastq_1))) {
    String lane = if defined(read_groups) then select_first([read_groups])[i] else "~{i + 1}"
    call BwaMem {
      input:
        fastq_1 = fastq_1[i],
        fastq_2 = fastq_2[i],
        reference = reference,
        bwt = BwaIndex.bwt,
        pac = BwaIndex.pac,
        ann = BwaIndex.ann,
        amb = BwaIndex.amb,
        sa = BwaIndex.sa,
        sample_name = sample_name,
        lane = lane,
        image = bwa_image,
        cpu = align_cpu,
        memory_gib = align_memory_gib
    }
  }

  call MarkDuplicates {
    input:
      aligned_sams = BwaMem.aligned_sam,
      sample_name = sample_name,
      image = samtools_image
  }
  }

  if (from_aligned) {
    call PrepareAligned {
      input:
        aligned = select_first([aligned_reads]),
        reference = reference,
        sample_name = sample_name,
        image = samtools_image
    }
  }

  File called_bam = select_first([MarkDuplicates.bam, PrepareAligned.bam])
  File called_bam_index = select_first([MarkDuplicates.bam_index, PrepareAligned.bam_index])

  call CallVariants {
    input:
      bam = called_bam,
      bam_index = called_bam_index,
      reference = reference,
      reference_fai = FaidxReference.fai,
      sample_name = sample_name,
      ploidy = ploidy,
      image = bcftools_image
  }

  output {
    File bam = called_bam
    File bam_index = called_bam_index
    File vcf = CallVariants.vcf
    File vcf_index = CallVariants.vcf_index
  }

  meta {
    description: "bwa mem + samtools markdup + bcftools mpileup/call germline SNV/indel calling for one sample"
  }
}

task BwaIndex {
  input {
    File reference
    String image
  }

  parameter_meta {
    reference: "Reference FASTA."
    image: "Container image with bwa."
  }

  command <<<
    set -euo pipefail
    ln -s "~{reference}" ref.fa
    bwa index ref.fa
  >>>

  output {
    File bwt = "ref.fa.bwt"
    File pac = "ref.fa.pac"
    File ann = "ref.fa.ann"
    File amb = "ref.fa.amb"
    File sa = "ref.fa.sa"
  }

  runtime {
    docker: image
    cpu: 2
    memory: "8 GiB"
  }
}

task FaidxReference {
  input {
    File reference
    String image
  }

  parameter_meta {
    reference: "Reference FASTA."
    image: "Container image with samtools."
  }

  command <<<
    set -euo pipefail
    ln -s "~{reference}" ref.fa
    samtools faidx ref.fa
  >>>

  output {
    File fai = "ref.fa.fai"
  }

  runtime {
    docker: image
    cpu: 1
    memory: "2 GiB"
  }
}

task BwaMem {
  input {
    File fastq_1
    File fastq_2
    File reference
    File bwt
    File pac
    File ann
    File amb
    File sa
    String sample_name
    String lane
    String image
    Int cpu = 8
    Int memory_gib = 16
  }

  parameter_meta {
    fastq_1: "Read 1 FASTQ."
    fastq_2: "Read 2 FASTQ."
    reference: "Reference FASTA."
    bwt: "bwa index file ref.fa.bwt."
    pac: "bwa index file ref.fa.pac."
    ann: "bwa index file ref.fa.ann."
    amb: "bwa index file ref.fa.amb."
    sa: "bwa index file ref.fa.sa."
    sample_name: "Read group SM and LB; with the lane, the read group ID <sample>.<lane>."
    lane: "Lane name (read group PU)."
    image: "Container image with bwa and gzip."
    cpu: "bwa threads and vCPUs."
    memory_gib: "Memory, GiB."
  }

  command <<<
    set -euo pipefail
    # bwa expects the index files beside the FASTA under one prefix
    ln -s "~{reference}" ref.fa
    ln -s "~{bwt}" ref.fa.bwt
    ln -s "~{pac}" ref.fa.pac
    ln -s "~{ann}" ref.fa.ann
    ln -s "~{amb}" ref.fa.amb
    ln -s "~{sa}" ref.fa.sa
    # -K: a fixed batch of input bases, so the alignments (insert-size estimates are made per
    # batch) do not depend on the thread count
    bwa mem -t ~{cpu} -K 100000000 \
      -R "@RG\tID:~{sample_name}.~{lane}\tSM:~{sample_name}\tLB:~{sample_name}\tPU:~{lane}\tPL:ILLUMINA" \
      ref.fa "~{fastq_1}" "~{fastq_2}" \
      | gzip -1 > aligned.sam.gz
  >>>

  output {
    File aligned_sam = "aligned.sam.gz"
  }

  runtime {
    docker: image
    cpu: cpu
    memory: "~{memory_gib} GiB"
  }
}

task MarkDuplicates {
  input {
    Array[File] aligned_sams
    String sample_name
    String image
    Int cpu = 4
  }

  parameter_meta {
    aligned_sams: "bwa mem output of each lane, SAM (gzip allowed), any order, same reference."
    sample_name: "Output file name stem."
    image: "Container image with samtools >= 1.10."
    cpu: "samtools threads and vCPUs."
  }

  command <<<
    set -euo pipefail
    mkdir -p tmp
    # one header: the first file's @HD/@SQ lines and every lane's @RG line
    samtools view -H "~{aligned_sams[0]}" | grep -v -e '^@RG' -e '^@PG' > header.sam
    for f in "~{sep='" "' aligned_sams}"; do samtools view -H "$f" | grep '^@RG'; done >> header.sam
    { cat header.sam; for f in "~{sep='" "' aligned_sams}"; do samtools view "$f"; done; } \
      | samtools collate -@ ~{cpu} -O -u - tmp/collate \
      | samtools fixmate -@ ~{cpu} -m -u - - \
      | samtools sort -@ ~{cpu} -m 512M -u -T tmp/sort - \
      | samtools markdup -@ ~{cpu} -T tmp/markdup - "~{sample_name}.bam"
    samtools index -@ ~{cpu} "~{sample_name}.bam" "~{sample_name}.bam.bai"
  >>>

  output {
    File bam = "~{sample_name}.bam"
    File bam_index = "~{sample_name}.bam.bai"
  }

  runtime {
    docker: image
    cpu: cpu
    memory: "8 GiB"
  }
}

task PrepareAligned {
  input {
    File aligned
    File reference
    String sample_name
    String image
    Int cpu = 2
  }

  parameter_meta {
    aligned: "Aligned reads, BAM or CRAM (an imported read set's source1)."
    reference: "Reference FASTA the reads were aligned to (decodes a CRAM)."
    sample_name: "Output file name stem."
    image: "Container image with samtools >= 1.10."
    cpu: "samtools threads and vCPUs."
  }

  command <<<
    set -euo pipefail
    mkdir -p tmp
    ln -s "~{reference}" ref.fa
    # a CRAM is decoded to BAM with the reference (bcftools reads the BAM below)
    if [ "$(head -c 4 "~{aligned}")" = "CRAM" ]; then
      samtools view -@ ~{cpu} -b -T ref.fa -o input.bam "~{aligned}"
    else
      ln -s "~{aligned}" input.bam
    fi
    # bcftools mpileup needs a coordinate-sorted, indexed BAM: sort one that is not
    if samtools view -H input.bam | grep -q '^@HD.*SO:coordinate'; then
      cp -L input.bam "~{sample_name}.bam"
    else
      echo "aligned input not sorted by coordinate (@HD SO): sorting" >&2
      samtools sort -@ ~{cpu} -m 512M -T tmp/sort -o "~{sample_name}.bam" input.bam
    fi
    samtools index -@ ~{cpu} "~{sample_name}.bam" "~{sample_name}.bam.bai"
  >>>

  output {
    File bam = "~{sample_name}.bam"
    File bam_index = "~{sample_name}.bam.bai"
  }

  runtime {
    docker: image
    cpu: cpu
    memory: "4 GiB"
  }
}

task CallVariants {
  input {
    File bam
    File bam_index
    File reference
    File reference_fai
    String sample_name
    Int ploidy
    String image
    Int cpu = 2
  }

  parameter_meta {
    bam: "Coordinate-sorted, duplicate-marked BAM."
    bam_index: "Its .bai index."
    reference: "Reference FASTA the reads were aligned to."
    reference_fai: "samtools faidx index of the reference."
    sample_name: "Output file name stem."
    ploidy: "Copies of every contig: 1 or 2 (bcftools call --ploidy, a predefined ploidy name)."
    image: "Container image with bcftools >= 1.10."
    cpu: "vCPUs (bcftools compression threads)."
  }

  command <<<
    set -euo pipefail
    case "~{ploidy}" in
      1|2) ;;
      *) echo "Error: ploidy ~{ploidy}: bcftools call calls ploidy 1 or 2 only" >&2; exit 2 ;;
    esac
    ln -s "~{reference}" ref.fa
    ln -s "~{reference_fai}" ref.fa.fai
    ln -s "~{bam}" in.bam
    ln -s "~{bam_index}" in.bam.bai
    # --ignore-RG: one sample whatever the read groups say (an uploaded BAM's SM may differ
    # from the pipeline's sample); reheader names it sample_name
    bcftools mpileup --ignore-RG -f ref.fa -a FORMAT/AD,FORMAT/DP -Ou in.bam \
      | bcftools call -mv --ploidy ~{ploidy} --threads ~{cpu} -Oz -o called.vcf.gz
    printf '%s\n' "~{sample_name}" > samples.txt
    bcftools reheader -s samples.txt -o "~{sample_name}.vcf.gz" called.vcf.gz
    bcftools index -t "~{sample_name}.vcf.gz"
  >>>

  output {
    File vcf = "~{sample_name}.vcf.gz"
    File vcf_index = "~{sample_name}.vcf.gz.tbi"
  }

  runtime {
    docker: image
    cpu: cpu
    memory: "4 GiB"
  }
}
