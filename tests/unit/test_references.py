"""The reference FASTA checks and contig renaming (omics_toolkit.references), on real files."""

from __future__ import annotations

import gzip
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from omics_toolkit.errors import UserError
from omics_toolkit.references import (
    auto_mapping,
    auto_name,
    check_fasta,
    describe_problems,
    mapping_tsv,
    name_problem,
    parse_mapping_tsv,
    read_mapping,
    renamed_digest,
    write_renamed,
)

NCBI = "gi|49175990|ref|NC_000913.2|_Escherichia_coli_str._K-12,_complete_genome"


def _check(path: Path):
    return check_fasta(lambda: path.open("rb"), str(path))


def _fa(tmp_path: Path, text: str | bytes, name: str = "ref.fa") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_a_valid_reference_has_no_problems(tmp_path: Path) -> None:
    check = _check(_fa(tmp_path, ">chr1 first contig\nACGTN\nAC\n>chrM\nacgtRYKM\n"))
    assert check.problems == [] and check.warnings == []
    assert (check.names, check.lengths, check.compression) == (["chr1", "chrM"], [7, 8], "none")


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        (NCBI, "has ','"),
        ("contig<1>", "has '<' '>'"),
        ("*chr1", "starts with '*'"),
        ("=chr1", "starts with '='"),
        ('chr"1', "has '\"'"),
        ("chr(1)", "has '(' ')'"),
        ("chr\\1", "has '\\\\'"),
        ("chré", "has 'é'"),
    ],
)
def test_names_outside_sam_and_vcf_rules_are_reported_with_the_reason(
    name: str, fragment: str
) -> None:
    why = name_problem(name)
    assert why is not None and fragment in why, why


@pytest.mark.parametrize(
    "name", ["chr1", "NC_000913.2", "HLA-A*01:01:01:01", "gi|1|ref|X.1|", "a=b"]
)
def test_valid_names_pass(name: str) -> None:
    assert name_problem(name) is None


def test_every_content_problem_is_found(tmp_path: Path) -> None:
    text = (
        "ACGT\n"  # before any header
        ">dup\nACGT\n"
        ">dup\nACGT\n"
        ">empty\n"
        ">protein\nMKVLAAGIW\n"
        ">wrapped\nACGTACGT\nACG\nACGTACGT\n"
        ">\nACGT\n"
    )
    check = _check(_fa(tmp_path, text))
    found = [(p.name, p.reason) for p in check.problems]
    assert [(n, r[:40]) for n, r in found] == [
        (None, "line 1: text before the first '>' header"),
        ("dup", "duplicate name (sequences 2 and 3): rena"),
        ("empty", "empty sequence (no bases)"),
        ("protein", "line 8: 'I' 'L' not IUPAC nucleotide cod"),
        ("wrapped", "line 11: a shorter or empty line inside "),
        (None, "line 13: '>' header without a name"),
    ]
    assert check.bad_names == []  # none of these is fixed by renaming


def test_crlf_line_endings_are_a_problem(tmp_path: Path) -> None:
    check = _check(_fa(tmp_path, b">chr1\r\nACGT\r\nAC\r\n"))
    assert [p.reason.split(",")[0] for p in check.content_problems] == [
        "Windows line endings (\\r\\n"
    ]
    assert check.lengths == [6]


def test_not_a_fasta_file(tmp_path: Path) -> None:
    check = _check(_fa(tmp_path, b""))
    assert [p.reason for p in check.problems] == [
        "no '>' header at all: not a FASTA file, or it is empty"
    ]


def test_gzip_and_bgzip_are_read_and_told_apart(tmp_path: Path) -> None:
    plain = _fa(tmp_path, f">{NCBI}\nACGT\n")
    gz = tmp_path / "ref.fa.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    bgz = tmp_path / "ref.bgz.fa.gz"
    subprocess.run(f"bgzip -c {plain} > {bgz}", shell=True, check=True)
    for path, kind in ((gz, "gzip"), (bgz, "bgzip")):
        check = _check(path)
        assert (check.compression, check.names, check.lengths) == (kind, [NCBI], [4])
        assert [p.name for p in check.bad_names] == [NCBI]
    assert any("plain gzip" in w for w in _check(gz).warnings)
    assert _check(bgz).warnings == []


def test_an_extension_healthomics_does_not_document_is_a_warning(tmp_path: Path) -> None:
    check = _check(_fa(tmp_path, ">chr1\nACGT\n", name="ref.dna"))
    assert check.problems == [] and "HealthOmics reference stores document" in check.warnings[0]


def test_auto_names() -> None:
    assert auto_name(NCBI) == "NC_000913.2"
    assert auto_name("gi|9|gb|AE000111.1|ECAE000111") == "AE000111.1"
    assert auto_name("contig,1<x>") == "contig_1_x_"
    assert auto_name("*chr1") == "_chr1"


def test_auto_mapping_renames_only_the_invalid_names(tmp_path: Path) -> None:
    check = _check(_fa(tmp_path, f">{NCBI} description, with commas\nACGT\n>chr2\nAC\n"))
    assert auto_mapping(check) == {NCBI: "NC_000913.2"}


def test_auto_mapping_refuses_names_that_collide(tmp_path: Path) -> None:
    check = _check(_fa(tmp_path, ">a,b\nACGT\n>a_b\nAC\n>c<d\nA\n>c>d\nA\n"))
    with pytest.raises(UserError) as exc:
        auto_mapping(check)
    assert "'a,b' and 'a_b' would all be named 'a_b'" in str(exc.value)
    assert "'c<d' and 'c>d' would all be named 'c_d'" in str(exc.value)


def test_a_mapping_file_is_checked(tmp_path: Path) -> None:
    check = _check(_fa(tmp_path, f">{NCBI}\nACGT\n>x,y\nAC\n>chr3\nA\n"))
    mapping = tmp_path / "names.tsv"
    mapping.write_text(f"# original\tnew\n{NCBI}\tecoli\nx,y\tchr3\n")
    with pytest.raises(UserError, match="would all be named 'chr3'"):
        read_mapping(mapping, check)
    mapping.write_text(f"{NCBI}\tecoli\n")
    with pytest.raises(UserError, match="not mapped: 'x,y'"):
        read_mapping(mapping, check)
    mapping.write_text(f"{NCBI}\tecoli\nx,y\tbad,name\nnope\tz\n")
    with pytest.raises(UserError) as exc:
        read_mapping(mapping, check)
    assert "'nope' is not a sequence name of the FASTA" in str(exc.value)
    mapping.write_text(f"{NCBI}\tecoli\nx,y\tbad,name\n")
    with pytest.raises(UserError, match="the new name has ','"):
        read_mapping(mapping, check)
    mapping.write_text(f"{NCBI}\tecoli\nx,y\tchr2\nchr3\tchr3\n")
    assert read_mapping(mapping, check) == {NCBI: "ecoli", "x,y": "chr2"}
    with pytest.raises(UserError, match="no such file"):
        read_mapping(tmp_path / "missing.tsv", check)


def test_the_renamed_copy_changes_headers_only_and_is_deterministic(tmp_path: Path) -> None:
    src = _fa(tmp_path, f">{NCBI} a description\nACGT\nAC\n>chr2 kept as is\nGG\n")
    before = src.read_bytes()
    chunks: list[bytes] = []
    write_renamed(lambda: src.open("rb"), {NCBI: "NC_000913.2"}, chunks.append)
    assert b"".join(chunks) == b">NC_000913.2\nACGT\nAC\n>chr2 kept as is\nGG\n"
    assert src.read_bytes() == before
    digest = renamed_digest(lambda: src.open("rb"), {NCBI: "NC_000913.2"})
    assert digest == renamed_digest(lambda: src.open("rb"), {NCBI: "NC_000913.2"})
    assert digest != renamed_digest(lambda: src.open("rb"), {NCBI: "ecoli"})
    assert parse_mapping_tsv(mapping_tsv({NCBI: "NC_000913.2"})) == {NCBI: "NC_000913.2"}


def test_the_error_lists_every_name_with_its_reason_and_what_to_do(tmp_path: Path) -> None:
    check = _check(_fa(tmp_path, f">{NCBI}\nACGT\n>ok\nA\n>bad<1>\nA\n"))
    message = describe_problems(check, rename_hint=True)
    assert f"  {NCBI}: has ','" in message
    assert "  bad<1>: has '<' '>'" in message
    assert "ok:" not in message
    assert "--rename-contigs auto" in message and "--rename-contigs MAPPING.tsv" in message


def test_a_few_megabytes_check_in_well_under_a_second(tmp_path: Path) -> None:
    line = b"ACGTTGCAAC" * 6 + b"\n"
    path = tmp_path / "big.fa"
    with path.open("wb") as out:
        for i in range(4):
            out.write(f">gi|{i}|ref|NC_00000{i}.1|_x,_y\n".encode())
            out.write(line * 20_000)  # 1.2 Mb per contig, ~5 MB in all
    start = time.monotonic()
    check = _check(path)
    elapsed = time.monotonic() - start
    assert check.lengths == [1_200_000] * 4 and len(check.bad_names) == 4
    assert elapsed < 2.0, elapsed


def _gz_reference(tmp_path: Path) -> bytes:
    import gzip
    import random

    rng = random.Random(16)
    seq = "".join(rng.choice("ACGT") for _ in range(200_000))
    text = ">chr1\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n"
    return gzip.compress(text.encode(), mtime=0)


def _plan_cli(path: Path) -> Any:
    from typer.testing import CliRunner

    from omics_toolkit.cli.main import app

    return CliRunner().invoke(
        app, ["plan", "--reference", str(path)], env={"COLUMNS": "200"}, catch_exceptions=True
    )


def test_a_truncated_gzip_reference_is_one_user_error_naming_the_file(tmp_path: Path) -> None:
    data = _gz_reference(tmp_path)
    path = tmp_path / "half.fa.gz"
    path.write_bytes(data[: len(data) // 2])
    result = _plan_cli(path)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, UserError), repr(result.exception)
    message = str(result.exception)
    assert f"reference {path} is truncated (the gzip stream ends early" in message


def test_a_corrupt_gzip_reference_is_one_user_error_with_the_offset(tmp_path: Path) -> None:
    data = bytearray(_gz_reference(tmp_path))
    middle = len(data) // 2
    data[middle : middle + 64] = b"\xff" * 64
    path = tmp_path / "corrupt.fa.gz"
    path.write_bytes(bytes(data))
    result = _plan_cli(path)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, UserError), repr(result.exception)
    message = str(result.exception)
    assert f"reference {path}: corrupt gzip data at ~byte " in message
    offset = int(message.split("at ~byte ")[1].split()[0])
    assert 0 < offset <= len(data)


def test_plan_destroy_refuses_reference_options_in_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from omics_toolkit.cli.main import app

    fasta = tmp_path / "ref.fa"
    fasta.write_text(">chr1\nACGT\n")
    for extra in (["--reference", str(fasta)], ["--rename-contigs", "auto"]):
        result = CliRunner().invoke(app, ["plan", "--destroy", *extra], catch_exceptions=True)
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, UserError), repr(result.exception)
        assert "mean nothing with --destroy" in str(result.exception)
        assert "\n" not in str(result.exception)


def test_no_plain_gzip_warning_when_rename_contigs_writes_an_uncompressed_copy(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from omics_toolkit.cli.main import app

    path = tmp_path / "ecoli.fa.gz"
    path.write_bytes(gzip.compress(f">{NCBI}\nACGT\n".encode()))
    env = {"COLUMNS": "300", "OMICS_TOOLKIT_HOME": str(tmp_path / "home")}
    renamed = CliRunner().invoke(
        app, ["plan", "--reference", str(path), "--rename-contigs", "auto"], env=env
    )
    assert "contig(s) renamed" in renamed.output, renamed.output
    assert "plain gzip" not in renamed.output
