"""The root error of a failed task's log, over the real stderr of the tools the workflows run.

``task_logs/*.log`` are what the tools printed on this machine (Debian bwa 0.7.17, samtools
1.16.1, bcftools 1.16), produced with ``set -o pipefail`` as the workflows' tasks run them:

- callvariants: ``bcftools mpileup -f ref.fa -Ou in.bam | bcftools call -mv -Oz -o s.vcf.gz``
  with a reference named ``gi|49175990|ref|NC_000913.2|_Escherichia_coli_str._K-12,_complete_genome``
  (exit status 141: the reader failed, the writer got SIGPIPE);
- bwa_noindex: ``bwa mem missing.fa r1.fq r2.fq``;
- samtools_sort_bad: ``samtools sort -o o.bam bad.bam`` of a text file;
- samtools_index_sam: ``samtools index in.sam``;
- mpileup_noref: ``bcftools mpileup -f nope.fa in.bam | bcftools call -mv``;
- samtools_markdup_unsorted: ``samtools markdup in.sam out.bam`` without fixmate;
- python_tb: ``python3 -c 'import json; json.loads("{bad")'``;
- bcftools_view_missing: ``bcftools view missing.vcf.gz``;
- gatk_user_error: GATK 4's user-error report as its ``CommandLineProgram`` prints it
  (``A USER ERROR has occurred: ...`` between rows of ``*``), transcribed: GATK is not
  installed here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from omics_toolkit.pipeline.root_errors import MAX_ROOT_ERROR, TaskError, root_error, task_cause

LOGS = Path(__file__).parent / "task_logs"

COMMA_CONTIG = (
    '[E::bcf_hdr_parse_line] Could not parse the header line: "##contig=<ID=gi|49175990|ref|'
    'NC_000913.2|_Escherichia_coli_str._K-12,_complete_genome,length=2000>"'
)


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        ("callvariants", COMMA_CONTIG),
        ("bwa_noindex", "[E::bwa_idx_load_from_disk] fail to locate the index files"),
        # no error form: the tail
        ("samtools_sort_bad", 'samtools sort: failed to read header from "bad.bam"'),
        # the htslib error, not samtools' summary after it
        ("samtools_index_sam", '[E::sam_index_build3] SAM file "in.sam" not BGZF compressed'),
        # the htslib error, not the downstream reader's "Failed to read from standard input"
        ("mpileup_noref", "[E::fai_build3_core] Failed to open the file nope.fa"),
        (
            "samtools_markdup_unsorted",
            "[markdup] error: no ms score tag. Please run samtools fixmate on file first.",
        ),
        (
            "python_tb",
            "json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
        (
            "bcftools_view_missing",
            '[E::hts_open_format] Failed to open file "missing.vcf.gz" : No such file or directory',
        ),
        (
            "gatk_user_error",
            "A USER ERROR has occurred: Input files reference and reads have incompatible "
            "contigs: No overlapping contigs found.",
        ),
    ],
)
def test_root_error_of_real_tool_logs(log: str, expected: str) -> None:
    lines = (LOGS / f"{log}.log").read_text().splitlines()
    assert root_error(lines) == expected


def test_the_comma_contig_error_wins_over_the_warning_and_the_sigpipe_after_it() -> None:
    # As the emulator and HealthOmics log a task: stdout, then stderr, then the engine's verdict.
    lines = (LOGS / "callvariants.log").read_text().splitlines()
    lines += ["Task CallVariants failed (exit status 141)", "bash: line 1: 12 Broken pipe"]
    assert lines[-3].startswith("[W::bcf_record_check]")  # what the old cause showed
    assert root_error(lines) == COMMA_CONTIG


def test_a_message_of_several_lines_is_split_and_noise_alone_is_no_error() -> None:
    assert root_error(["[M::x] loading\n[E::f] broken input\n[W::g] later warning"]) == (
        "[E::f] broken input"
    )
    assert root_error(["", "[W::bcf_record_check] Bad BCF record", "exit status 141"]) is None
    assert root_error([]) is None


def test_a_traceback_ends_at_its_exception_line_whatever_its_form() -> None:
    lines = [
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        "    main()",
        "KeyboardInterrupt",
        "cleaning up",
    ]
    assert root_error(lines) == "KeyboardInterrupt"


def test_a_long_line_is_cut() -> None:
    assert root_error(["[E::x] " + "A" * 5000]) == ("[E::x] " + "A" * 5000)[:MAX_ROOT_ERROR]


def test_the_cause_starts_with_the_task_and_its_root_error() -> None:
    error = TaskError("CallVariants", "7654321", COMMA_CONTIG, "run/1/task/7654321")
    assert task_cause(error, "1234567") == (
        f"CallVariants failed: {COMMA_CONTIG} (run 1234567 FAILED)"
    )
