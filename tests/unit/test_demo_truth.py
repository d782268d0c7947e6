"""The demo's truth check compares CHROM, POS, REF, ALT and GT of every GIAB record with the calls.

The truth is read by ``bcftools query`` (:func:`omics_toolkit.data.truth_records`), never by the
toolkit's VCF reader. The calls are the 16 rows the real demo's Athena query returned for NA12878
(14 SNVs and 2 deletions), in the shape it returns them: arrays as Athena's text (``[C]``,
``[0, 1]``). Breaking one record's ALT or GT in a copy of the real truth VCF must make the check
fail and name that record and field; the cached original is never modified.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from omics_toolkit import data, demo
from omics_toolkit.data import TruthRecord
from omics_toolkit.demo import DemoResult, FieldDiff, TruthCheck, compare_truth, normalise_gt
from omics_toolkit.errors import UserError

needs_bcftools = pytest.mark.skipif(shutil.which("bcftools") is None, reason="bcftools missing")

# `omics-toolkit demo`'s query (SELECT contigname, start, "end", referenceallele,
# alternatealleles, qual, calls FROM variants WHERE sampleid = 'NA12878' ORDER BY contigname,
# start) on the local stack after a real run, as PyAthena's PandasCursor returned it.
CALLED_CSV = """\
contigname,start,end,referenceallele,alternatealleles,qual,calls
q,185,186,T,[C],222.36399841308594,"[0, 1]"
q,1007,1008,C,[T],222.406005859375,"[0, 1]"
q,1816,1817,G,[A],145.13999938964844,"[0, 1]"
q,1819,1820,C,[T],148.9550018310547,"[0, 1]"
q,1916,1917,A,[G],222.38299560546875,"[0, 1]"
q,4448,4449,G,[A],201.3249969482422,"[0, 1]"
q,5008,5009,C,[T],221.71800231933594,"[0, 1]"
q,5637,5641,CATA,[CA],221.73399353027344,"[0, 1]"
q,6417,6418,G,[A],198.28799438476562,"[0, 1]"
q,8845,8846,T,[C],194.87899780273438,"[0, 1]"
q,9250,9261,GTTCTTTCTTT,[GTTCTTT],222.3249969482422,"[0, 1]"
q,9790,9791,A,[C],222.39700317382812,"[0, 1]"
q,10531,10532,C,[A],115.10700225830078,"[0, 1]"
q,11260,11261,T,[C],222.20799255371094,"[0, 1]"
q,11535,11536,T,[C],222.04200744628906,"[0, 1]"
q,12124,12125,T,[C],50.974700927734375,"[0, 1]"
"""

TRUTH_POSITIONS = [186, 1008, 1817, 1820, 1917, 4449, 5009, 6418, 8846, 9791, 10532, 11261]
TRUTH_POSITIONS += [11536, 12125]


def called() -> pd.DataFrame:
    return pd.read_csv(io.StringIO(CALLED_CSV), dtype={"alternatealleles": str, "calls": str})


@pytest.fixture(scope="module")
def truth_vcf(request: pytest.FixtureRequest) -> Path:
    """The real GIAB truth VCF of the demo (downloaded once into pytest's cache)."""
    if shutil.which("bcftools") is None:
        pytest.skip("bcftools missing")
    store = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider (CI)
    cache = Path(store.mkdir("omics-toolkit-demo-data")) if store is not None else None
    if cache is None or not data._cached_ok(cache):
        if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
            pytest.skip("the demo data is not cached and apt-get/dpkg-deb are missing")
    return data.fetch_demo_data(cache).truth_vcf


def broken_copy(truth_vcf: Path, tmp_path: Path, pos: int, column: int, value: str) -> Path:
    """A copy of ``truth_vcf`` whose record at ``pos`` has tab-separated ``column`` (0-based)
    set to ``value`` (for column 9, the sample's GT:... field gets ``value`` as its GT)."""
    lines = truth_vcf.read_text().splitlines(keepends=True)
    changed = 0
    for i, line in enumerate(lines):
        cols = line.rstrip("\n").split("\t")
        if not line.startswith("#") and int(cols[1]) == pos:
            if column == 9:
                value = ":".join([value, *cols[9].split(":")[1:]])
            cols[column] = value
            lines[i] = "\t".join(cols) + "\n"
            changed += 1
    assert changed == 1
    copy = tmp_path / "truth.broken.vcf"
    copy.write_text("".join(lines))
    return copy


# --- normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gt", "want"),
    [
        ("0/1", "0/1"),
        ("0|1", "0/1"),
        ("1|0", "0/1"),
        ("1/0", "0/1"),
        ("[1, 0]", "0/1"),
        ([1, 0], "0/1"),
        ("2/1", "1/2"),
        ("./1", "1/."),
        ("[-1, 1]", "1/."),
        ("1", "1"),
        ("1/1", "1/1"),
        (None, "."),
        (float("nan"), "."),
        ("[]", "."),
    ],
)
def test_normalise_gt(gt: object, want: str) -> None:
    assert normalise_gt(gt) == want  # type: ignore[arg-type]


# --- the real truth against the real calls -------------------------------------------------------


def test_real_truth_is_read_by_bcftools(truth_vcf: Path) -> None:
    truth = data.truth_records(truth_vcf, "NA12878")
    assert [r.pos for r in truth] == TRUTH_POSITIONS
    assert truth[0] == TruthRecord("q", 186, "T", ("C",), "0/1")
    assert {r.gt for r in truth} == {"0/1"} and all(len(r.ref) == 1 for r in truth)


def test_real_calls_match_all_14(truth_vcf: Path) -> None:
    checks = compare_truth(called(), data.truth_records(truth_vcf, "NA12878"))
    assert [c.status for c in checks] == ["found"] * 14
    assert [c.truth.pos for c in checks] == TRUTH_POSITIONS


def test_broken_alt_in_a_copy_fails_and_names_it(truth_vcf: Path, tmp_path: Path) -> None:
    original = truth_vcf.read_bytes()
    broken = broken_copy(truth_vcf, tmp_path, 1817, 4, "T")  # G>A in the truth, now G>T
    checks = compare_truth(called(), data.truth_records(broken, "NA12878"))
    failed = [c for c in checks if c.status != "found"]
    assert len(failed) == 1 and sum(c.status == "found" for c in checks) == 13
    assert failed[0].status == "mismatched"
    assert failed[0].diffs == (FieldDiff("ALT", "T", "A"),)
    assert failed[0].describe() == "q:1817 ALT: truth T, called A"
    assert truth_vcf.read_bytes() == original


def test_broken_gt_in_a_copy_fails_and_names_it(truth_vcf: Path, tmp_path: Path) -> None:
    broken = broken_copy(truth_vcf, tmp_path, 9791, 9, "1/1")  # het in the truth, now hom-alt
    checks = compare_truth(called(), data.truth_records(broken, "NA12878"))
    failed = [c for c in checks if c.status != "found"]
    assert [c.describe() for c in failed] == ["q:9791 GT: truth 1/1, called 0/1"]


def test_phase_and_allele_order_do_not_count(truth_vcf: Path, tmp_path: Path) -> None:
    broken = broken_copy(truth_vcf, tmp_path, 186, 9, "1|0")
    checks = compare_truth(called(), data.truth_records(broken, "NA12878"))
    assert [c.status for c in checks] == ["found"] * 14


def test_a_missing_call_and_a_wrong_ref(truth_vcf: Path) -> None:
    calls = called()
    calls = calls[calls["start"] != 4448].copy()  # no call at POS 4449
    calls.loc[calls["start"] == 11260, "referenceallele"] = "G"
    checks = compare_truth(calls, data.truth_records(truth_vcf, "NA12878"))
    assert [c.describe() for c in checks if c.status != "found"] == [
        "q:4449 missing: no call at this position (truth REF G, ALT A, GT 0/1)",
        "q:11261 REF: truth T, called G",
    ]


# --- a small bgzipped VCF written here -----------------------------------------------------------


@needs_bcftools
@pytest.mark.skipif(shutil.which("bgzip") is None, reason="bgzip missing")
def test_bgzipped_multiallelic_truth(tmp_path: Path) -> None:
    text = (
        "##fileformat=VCFv4.2\n"
        "##contig=<ID=chr20,length=64444167>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tOTHER\tNA12878\n"
        "chr20\t1234\t.\tA\tC,G\t50\tPASS\t.\tGT\t0/0\t2|1\n"
        "chr20\t2000\t.\tAT\tA\t50\tPASS\t.\tGT\t0/1\t1/1\n"
    )
    plain = tmp_path / "truth.vcf"
    plain.write_text(text)
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    truth = data.truth_records(tmp_path / "truth.vcf.gz", "NA12878")
    assert truth == [
        TruthRecord("chr20", 1234, "A", ("C", "G"), "2|1"),
        TruthRecord("chr20", 2000, "AT", ("A",), "1/1"),
    ]
    calls = pd.DataFrame(
        {
            "contigname": ["chr20", "chr20", "chr20"],
            "start": [1233, 1233, 1999],
            "referenceallele": ["A", "A", "AT"],
            "alternatealleles": [["G"], ["C", "G"], ["A"]],  # a closer call wins
            "calls": [[0, 1], [1, 2], [0, 1]],
        }
    )
    checks = compare_truth(calls, truth)
    assert [c.describe() for c in checks] == [
        "chr20:1234 found",
        "chr20:2000 GT: truth 1/1, called 0/1",
    ]


@needs_bcftools
def test_unknown_sample_is_a_user_error(tmp_path: Path) -> None:
    vcf = tmp_path / "truth.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tHG002\n"
    )
    with pytest.raises(UserError, match="bcftools query -s NA12878 .* failed"):
        data.truth_records(vcf, "NA12878")


# --- the CLI -------------------------------------------------------------------------------------


def _result(checks: list[TruthCheck]) -> DemoResult:
    from datetime import UTC, datetime

    from omics_toolkit.pipeline.status import ExecutionStatus

    status = ExecutionStatus(
        "NA12878-x", "NA12878", "SUCCEEDED", "Done", datetime.now(UTC), None, None, None, "arn"
    )
    return DemoResult(checks=checks, variants=called(), execution=status, seconds={"query": 0.5})


def _invoke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, result: DemoResult, *args: str):
    from omics_toolkit.cli.main import app

    monkeypatch.setenv("OMICS_TOOLKIT_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(demo, "run_demo", lambda settings, **_: result)
    return CliRunner().invoke(app, [*args, "demo"])


def _checks(broken: str | None = None) -> list[TruthCheck]:
    out = []
    for pos in TRUTH_POSITIONS:
        record = TruthRecord("q", pos, "T", ("C",), "0/1")
        if str(pos) == broken:
            out.append(TruthCheck(record, "mismatched", (FieldDiff("ALT", "C", "G"),)))
        else:
            out.append(TruthCheck(record, "found"))
    return out


def test_cli_prints_14_of_14(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    r = _invoke(monkeypatch, tmp_path, _result(_checks()))
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[-1] == "GIAB truth SNVs matched (CHROM, POS, REF, ALT, GT): 14/14"


def test_cli_names_the_mismatch_and_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    r = _invoke(monkeypatch, tmp_path, _result(_checks(broken="1817")))
    assert isinstance(r.exception, UserError)
    assert "q:1817 ALT: truth C, called G" in str(r.exception)
    lines = r.stdout.splitlines()
    assert lines[-2:] == [
        "  q:1817 ALT: truth C, called G",
        "GIAB truth SNVs matched (CHROM, POS, REF, ALT, GT): 13/14",
    ]


def test_cli_json_carries_each_record(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    r = _invoke(monkeypatch, tmp_path, _result(_checks(broken="1817")), "--json")
    assert isinstance(r.exception, UserError)
    body = json.loads(r.stdout)
    assert (body["found"], body["total"], body["variants"]) == (13, 14, 16)
    assert body["failed"] == ["q:1817 ALT: truth C, called G"]
    record = next(t for t in body["truth"] if t["pos"] == 1817)
    assert record == {
        "chrom": "q",
        "pos": 1817,
        "ref": "T",
        "alt": ["C"],
        "gt": "0/1",
        "status": "mismatched",
        "diffs": [{"field": "ALT", "truth": "C", "called": "G"}],
        "message": "q:1817 ALT: truth C, called G",
    }
    assert sum(t["status"] == "found" for t in body["truth"]) == 13
