version 1.0

# Tasks of the GATK best-practices germline workflow (workflows/gatk-germline/main.wdl).
#
# GATK tools read the reference as ref.fa + ref.fa.fai + ref.dict (same stem), so each task links
# the localized files under those names. Java heaps are 3/4 of the task's memory.

task CreateSequenceDictionary {
  input {
    File reference
    String image
    Int memory_gib = 4
  }

  parameter_meta {
    reference: "Reference FASTA, uncompressed."
    image: "Container image with gatk."
    memory_gib: "Memory, GiB."
  }

  command <<<
    set -euo pipefail
    ln -s "~{reference}" ref.fa
    gatk --java-options "-Xmx~{memory_gib * 768}m" CreateSequenceDictionary -R ref.fa -O ref.dict
  >>>

  output {
    File dict = "ref.dict"
  }

  runtime {
    docker: image
    cpu: 1
    memory: "~{memory_gib} GiB"
  }
}

task FastqToSam {
  input {
    File fastq_1
    File fastq_2
    String sample_name
    String lane
    String image
    Int memory_gib = 8
  }

  parameter_meta {
    fastq_1: "Read 1 FASTQ (gzip allowed)."
    fastq_2: "Read 2 FASTQ (gzip allowed), same read order as fastq_1."
    sample_name: "Read group SM and LB; with the lane, the read group ID <sample>.<lane>."
    lane: "Lane name (read group PU)."
    image: "Container image with gatk."
    memory_gib: "Memory, GiB."
  }

  command <<<
    set -euo pipefail
    mkdir -p tmp
    # queryname-sorted unmapped BAM carrying the read group (MergeBamAlignment copies it)
    gatk --java-options "-Xmx~{memory_gib * 768}m" FastqToSam \
      --FASTQ "~{fastq_1}" \
      --FASTQ2 "~{fastq_2}" \
      --OUTPUT unmapped.bam \
      --READ_GROUP_NAME "~{sample_name}.~{lane}" \
      --SAMPLE_NAME "~{sample_name}" \
      --LIBRARY_NAME "~{sample_name}" \
      --PLATFORM_UNIT "~{lane}" \
      --PLATFORM ILLUMINA \
      --TMP_DIR tmp
  >>>

  output {
    File unmapped_bam = "unmapped.bam"
  }

  runtime {
    docker: image
    cpu: 1
    memory: "~{memory_gib} GiB"
  }
}

task IndexReference {
  input {
    File reference
    File reference_dict
    String image
  }

  parameter_meta {
    reference: "Reference FASTA, uncompressed."
    reference_dict: "GATK sequence dictionary of the reference; its contigs must equal the .fai's."
    image: "Container image with bwa and samtools."
  }

  command <<<
    set -euo pipefail
    ln -s "~{reference}" ref.fa
    samtools faidx ref.fa
    # the dictionary (GATK) and the .fai (samtools) must list the same contigs and lengths
    awk -F '\t' -v OFS='\t' '$1 == "@SQ" {
      for (i = 2; i <= NF; i++) { if ($i ~ /^SN:/) sn = substr($i, 4); if ($i ~ /^LN:/) ln = substr($i, 4) }
      print sn, ln
    }' "~{reference_dict}" > dict.contigs
    cut -f 1,2 ref.fa.fai > fai.contigs
    if ! cmp -s dict.contigs fai.contigs; then
      echo "reference .dict and .fai disagree on contig names or lengths" >&2
      exit 1
    fi
    bwa index ref.fa
  >>>

  output {
    File fai = "ref.fa.fai"
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

task BwaMem {
  input {
    File unmapped_bam
    File reference
    File bwt
    File pac
    File ann
    File amb
    File sa
    String image
    Int cpu = 8
    Int memory_gib = 16
  }

  parameter_meta {
    unmapped_bam: "The lane's queryname-sorted unmapped BAM (FastqToSam)."
    reference: "Reference FASTA."
    bwt: "bwa index file ref.fa.bwt."
    pac: "bwa index file ref.fa.pac."
    ann: "bwa index file ref.fa.ann."
    amb: "bwa index file ref.fa.amb."
    sa: "bwa index file ref.fa.sa."
    image: "Container image with bwa and samtools."
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
    # interleaved pairs in the unmapped BAM's order, so MergeBamAlignment can zip the two
    # (-K: fixed batch size, reproducible across thread counts; -Y: soft-clip supplementary)
    samtools fastq "~{unmapped_bam}" \
      | bwa mem -K 100000000 -p -v 3 -Y -t ~{cpu} ref.fa /dev/stdin \
      | samtools view -1 -o aligned.bam -
  >>>

  output {
    File aligned_bam = "aligned.bam"
  }

  runtime {
    docker: image
    cpu: cpu
    memory: "~{memory_gib} GiB"
  }
}

task MergeBamAlignment {
  input {
    File aligned_bam
    File unmapped_bam
    File reference
    File reference_fai
    File reference_dict
    String image
    Int memory_gib = 8
  }

  parameter_meta {
    aligned_bam: "bwa mem output of the lane, in the unmapped BAM's read order."
    unmapped_bam: "The lane's unmapped BAM (read group, original read data)."
    reference: "Reference FASTA."
    reference_fai: "samtools faidx index of the reference."
    reference_dict: "GATK sequence dictionary of the reference."
    image: "Container image with gatk."
    memory_gib: "Memory, GiB."
  }

  command <<<
    set -euo pipefail
    ln -s "~{reference}" ref.fa
    ln -s "~{reference_fai}" ref.fa.fai
    ln -s "~{reference_dict}" ref.dict
    mkdir -p tmp
    gatk --java-options "-Xmx~{memory_gib * 768}m" MergeBamAlignment \
      --VALIDATION_STRINGENCY SILENT \
      --EXPECTED_ORIENTATIONS FR \
      --ATTRIBUTES_TO_RETAIN X0 \
      --ATTRIBUTES_TO_REMOVE NM \
      --ATTRIBUTES_TO_REMOVE MD \
      --ALIGNED_BAM "~{aligned_bam}" \
      --UNMAPPED_BAM "~{unmapped_bam}" \
      --OUTPUT merged.bam \
      --REFERENCE_SEQUENCE ref.fa \
      --PAIRED_RUN true \
      --SORT_ORDER unsorted \
      --IS_BISULFITE_SEQUENCE false \
      --ALIGNED_READS_ONLY false \
      --CLIP_ADAPTERS false \
      --ADD_MATE_CIGAR true \
      --MAX_INSERTIONS_OR_DELETIONS -1 \
      --PRIMARY_ALIGNMENT_STRATEGY MostDistant \
      --UNMAPPED_READ_STRATEGY COPY_TO_TAG \
      --ALIGNER_PROPER_PAIR_FLAGS true \
      --UNMAP_CONTAMINANT_READS true \
      --PROGRAM_RECORD_ID bwamem \
      --PROGRAM_GROUP_NAME bwamem \
      --PROGRAM_GROUP_COMMAND_LINE "bwa mem -K 100000000 -p -v 3 -Y" \
      --TMP_DIR tmp
  >>>

  output {
    File merged_bam = "merged.bam"
  }

  runtime {
    docker: image
    cpu: 1
    memory: "~{memory_gib} GiB"
  }
}

task MarkDuplicates {
  input {
    Array[File] merged_bams
    String image
    Int memory_gib = 16
  }

  parameter_meta {
    merged_bams: "MergeBamAlignment output of every lane of the sample (query-grouped)."
    image: "Container image with gatk."
    memory_gib: "Memory, GiB."
  }

  command <<<
    set -euo pipefail
    mkdir -p tmp
    # all lanes at once, so duplicates across lanes of one library are found
    gatk --java-options "-Xmx~{memory_gib * 768}m" MarkDuplicates \
      --INPUT "~{sep='" --INPUT "' merged_bams}" \
      --OUTPUT markdup.bam \
      --METRICS_FILE duplicate_metrics.txt \
      --VALIDATION_STRINGENCY SILENT \
      --OPTICAL_DUPLICATE_PIXEL_DISTANCE 2500 \
      --ASSUME_SORT_ORDER queryname \
      --TMP_DIR tmp
  >>>

  output {
    File bam = "markdup.bam"
    File metrics = "duplicate_metrics.txt"
  }

  runtime {
    docker: image
    cpu: 2
    memory: "~{memory_gib} GiB"
  }
}

task SortAndIndex {
  input {
    File bam
    File reference
    File reference_fai
    String image
    Int cpu = 4
    Int memory_gib = 8
  }

  parameter_meta {
    bam: "Duplicate-marked BAM in query-grouped order."
    reference: "Reference FASTA (to recompute the NM/MD tags MergeBamAlignment removed)."
    reference_fai: "samtools faidx index of the reference."
    image: "Container image with samtools."
    cpu: "samtools threads and vCPUs."
    memory_gib: "Memory, GiB."
  }

  command <<<
    set -euo pipefail
    ln -s "~{reference}" ref.fa
    ln -s "~{reference_fai}" ref.fa.fai
    mkdir -p tmp
    samtools sort -@ ~{cpu} -m 512M -T tmp/sort -u "~{bam}" \
      | samtools calmd -@ ~{cpu} -b - ref.fa > sorted.bam
    samtools index -@ ~{cpu} sorted.bam sorted.bam.bai
  >>>

  output {
    File sorted_bam = "sorted.bam"
    File sorted_bam_index = "sorted.bam.bai"
  }

  runtime {
    docker: image
    cpu: cpu
    memory: "~{memory_gib} GiB"
  }
}

task BaseRecalibrator {
  input {
    File bam
    File bam_index
    File reference
    File reference_fai
    File reference_dict
    Array[File] known_sites_vcfs
    Array[File] known_sites_indices
    String image
    Int memory_gib = 8
  }

  parameter_meta {
    bam: "Coordinate-sorted, duplicate-marked BAM."
    bam_index: "Its .bai index."
    reference: "Reference FASTA."
    reference_fai: "samtools faidx index of the reference."
    reference_dict: "GATK sequence dictionary of the reference."
    known_sites_vcfs: "Known variant sites, bgzipped VCFs on the reference's contigs."
    known_sites_indices: "Tabix index of each known-sites VCF, same order."
    image: "Container image with gatk."
    memory_gib: "Memory, GiB."
  }

  command <<<
    set -euo pipefail
    ln -s "~{reference}" ref.fa
    ln -s "~{reference_fai}" ref.fa.fai
    ln -s "~{reference_dict}" ref.dict
    ln -s "~{bam}" in.bam
    ln -s "~{bam_index}" in.bam.bai
    # GATK finds an index beside its VCF: link each pair under one stem
    vcfs=("~{sep='" "' known_sites_vcfs}")
    indices=("~{sep='" "' known_sites_indices}")
    if [ "${#vcfs[@]}" -ne "${#indices[@]}" ]; then
      echo "known_sites_vcfs and known_sites_indices differ in length" >&2
      exit 1
    fi
    known=()
    for i in "${!vcfs[@]}"; do
      ln -s "${vcfs[$i]}" "known_$i.vcf.gz"
      ln -s "${indices[$i]}" "known_$i.vcf.gz.tbi"
      known+=(--known-sites "known_$i.vcf.gz")
    done
    gatk --java-options "-Xmx~{memory_gib * 768}m" BaseRecalibrator \
      -R ref.fa -I in.bam "${known[@]}" -O recal.table
  >>>

  output {
    File recalibration_table = "recal.table"
  }

  runtime {
    docker: image
    cpu: 1
    memory: "~{memory_gib} GiB"
  }
}

task ApplyBQSR {
  input {
    File bam
    File bam_index
    File recalibration_table
    File reference
    File reference_fai
    File reference_dict
    String sample_name
    String image
    Int memory_gib = 8
  }

  parameter_meta {
    bam: "Coordinate-sorted, duplicate-marked BAM."
    bam_index: "Its .bai index."
    recalibration_table: "BaseRecalibrator output for this BAM."
    reference: "Reference FASTA."
    reference_fai: "samtools faidx index of the reference."
    reference_dict: "GATK sequence dictionary of the reference."
    sample_name: "Output file name stem."
    image: "Container image with gatk."
    memory_gib: "Memory, GiB."
  }

  command <<<
    set -euo pipefail
    ln -s "~{reference}" ref.fa
    ln -s "~{reference_fai}" ref.fa.fai
    ln -s "~{reference_dict}" ref.dict
    ln -s "~{bam}" in.bam
    ln -s "~{bam_index}" in.bam.bai
    gatk --java-options "-Xmx~{memory_gib * 768}m" ApplyBQSR \
      -R ref.fa -I in.bam --bqsr-recal-file "~{recalibration_table}" \
      --static-quantized-quals 10 --static-quantized-quals 20 --static-quantized-quals 30 \
      --add-output-sam-program-record \
      --create-output-bam-index true \
      -O "~{sample_name}.bam"
    # GATK names the index <stem>.bai; the germline workflows' outputs use <sample>.bam.bai
    mv "~{sample_name}.bai" "~{sample_name}.bam.bai"
  >>>

  output {
    File recalibrated_bam = "~{sample_name}.bam"
    File recalibrated_bam_index = "~{sample_name}.bam.bai"
  }

  runtime {
    docker: image
    cpu: 1
    memory: "~{memory_gib} GiB"
  }
}

task SplitIntervals {
  input {
    File reference
    File reference_fai
    File reference_dict
    File? calling_intervals
    Int scatter_count
    String image
  }

  parameter_meta {
    reference: "Reference FASTA."
    reference_fai: "samtools faidx index of the reference."
    reference_dict: "GATK sequence dictionary of the reference."
    calling_intervals: "Regions to call (Picard interval list or BED); default every contig of the dictionary."
    scatter_count: "Number of interval lists to make (at most; whole contigs are never split)."
    image: "Container image with gatk."
  }

  command <<<
    set -euo pipefail
    ln -s "~{reference}" ref.fa
    ln -s "~{reference_fai}" ref.fa.fai
    ln -s "~{reference_dict}" ref.dict
    intervals=()
    if [ -n "~{calling_intervals}" ]; then intervals=(-L "~{calling_intervals}"); fi
    # whole intervals per shard: no call straddles a shard boundary
    gatk --java-options "-Xmx1536m" SplitIntervals \
      -R ref.fa "${intervals[@]}" \
      --scatter-count ~{scatter_count} \
      --subdivision-mode BALANCING_WITHOUT_INTERVAL_SUBDIVISION_WITH_OVERFLOW \
      -O scatter
  >>>

  output {
    Array[File] interval_lists = glob("scatter/*.interval_list")
  }

  runtime {
    docker: image
    cpu: 1
    memory: "2 GiB"
  }
}

task HaplotypeCaller {
  input {
    File bam
    File bam_index
    File reference
    File reference_fai
    File reference_dict
    File interval_list
    Int ploidy
    String image
    Int cpu = 2
    Int memory_gib = 8
  }

  parameter_meta {
    bam: "Analysis-ready BAM (recalibrated)."
    bam_index: "Its .bai index."
    reference: "Reference FASTA."
    reference_fai: "samtools faidx index of the reference."
    reference_dict: "GATK sequence dictionary of the reference."
    interval_list: "The shard's intervals (SplitIntervals output)."
    ploidy: "Copies of every contig in the sample (HaplotypeCaller -ploidy, --sample-ploidy)."
    image: "Container image with gatk."
    cpu: "vCPUs (pair-HMM threads)."
    memory_gib: "Memory, GiB."
  }

  command <<<
    set -euo pipefail
    ln -s "~{reference}" ref.fa
    ln -s "~{reference_fai}" ref.fa.fai
    ln -s "~{reference_dict}" ref.dict
    ln -s "~{bam}" in.bam
    ln -s "~{bam_index}" in.bam.bai
    gatk --java-options "-Xmx~{memory_gib * 768}m" HaplotypeCaller \
      -R ref.fa -I in.bam -L "~{interval_list}" \
      -ploidy ~{ploidy} \
      --native-pair-hmm-threads ~{cpu} \
      -O shard.vcf.gz
  >>>

  output {
    File vcf = "shard.vcf.gz"
  }

  runtime {
    docker: image
    cpu: cpu
    memory: "~{memory_gib} GiB"
  }
}

task MergeVcfs {
  input {
    Array[File] vcfs
    String sample_name
    String image
  }

  parameter_meta {
    vcfs: "HaplotypeCaller output of every shard, bgzipped VCF."
    sample_name: "Output file name stem."
    image: "Container image with gatk."
  }

  command <<<
    set -euo pipefail
    # a sorted merge: shard order does not matter; the .vcf.gz output is bgzipped and indexed
    gatk --java-options "-Xmx3g" MergeVcfs \
      -I "~{sep='" -I "' vcfs}" \
      -O "~{sample_name}.vcf.gz"
  >>>

  output {
    File vcf = "~{sample_name}.vcf.gz"
    File vcf_index = "~{sample_name}.vcf.gz.tbi"
  }

  runtime {
    docker: image
    cpu: 1
    memory: "4 GiB"
  }
}
