import json

import pytest

from omics_toolkit.errors import UserError
from omics_toolkit.pipeline.manifest import (
    ManifestError,
    check_folder,
    folder_of,
    is_manifest,
    parse_manifest,
)

B = "in-bucket"


def _csv(text: str, key: str = "runs/b1/samplesheet.csv"):
    return parse_manifest(text.encode(), bucket=B, key=key)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("manifest.csv", True),
        ("a/b/manifest.json", True),
        ("a/samplesheet.csv", True),
        ("a/batch 7.manifest.csv", True),
        ("a/x.manifest.json", True),
        ("a/x.samplesheet.csv", True),
        ("a/mymanifest.csv", False),
        ("a/manifest.csv.bak", False),
        ("a/manifest.tsv", False),
        ("a/samplesheet.json", False),
        ("manifest.csv/x_R1.fq", False),
        ("a/x_R1.fastq.gz", False),
    ],
)
def test_is_manifest(key, expected):
    assert is_manifest(key) is expected


def test_folder_of():
    assert folder_of("a/b/manifest.csv") == "a/b/"
    assert folder_of("manifest.csv") == ""


def test_csv_multi_lane_samples_sorted_by_lane():
    m = _csv(
        "sample,lane,fastq_1,fastq_2\n"
        "NA12878,L002,NA12878_L002_R1.fastq.gz,NA12878_L002_R2.fastq.gz\n"
        "NA12878,L001,NA12878_L001_R1.fastq.gz,NA12878_L001_R2.fastq.gz\n"
        "NA1,,a.fq,b.fq\n"
    )
    assert m.uri == f"s3://{B}/runs/b1/samplesheet.csv" and m.folder == "runs/b1/"
    assert [s.sample for s in m.samples] == ["NA12878", "NA1"]
    na12878 = m.samples[0]
    assert [(lane.lane, lane.fastq_1, lane.fastq_2, lane.where) for lane in na12878.lanes] == [
        ("L001", "runs/b1/NA12878_L001_R1.fastq.gz", "runs/b1/NA12878_L001_R2.fastq.gz", "line 3"),
        ("L002", "runs/b1/NA12878_L002_R1.fastq.gz", "runs/b1/NA12878_L002_R2.fastq.gz", "line 2"),
    ]
    assert m.samples[1].lanes[0].lane == "1"
    assert m.samples[1].keys == ("runs/b1/a.fq", "runs/b1/b.fq")
    assert len(m.relative) == 6


def test_csv_nf_core_header_without_lane_extra_columns_bom_crlf_and_s3_uris():
    text = (
        "\ufeffsample,fastq_1,fastq_2,strandedness\r\n"
        f"S 1,./é 1_R1.fq.gz,s3://{B}/elsewhere/é 1_R2.fq.gz,auto\r\n"
        "\r\n"
        ",,,\r\n"
    )
    m = _csv(text, key="manifest.csv")
    (sample,) = m.samples
    assert sample.sample == "S 1"
    assert sample.keys == ("é 1_R1.fq.gz", "elsewhere/é 1_R2.fq.gz")
    assert m.relative == frozenset({"é 1_R1.fq.gz"})


def test_csv_header_is_case_and_space_insensitive():
    m = _csv(" Sample , FASTQ_1 ,fastq_2, Lane\nS,a.fq,b.fq,3\n")
    assert (m.samples[0].sample, m.samples[0].lanes[0].lane) == ("S", "3")


def test_json_samples_form():
    doc = {
        "samples": [
            {
                "sample": "NA12878",
                "lanes": [
                    {"fastq_1": "L2_R1.fq.gz", "fastq_2": "L2_R2.fq.gz", "lane": "L002"},
                    {"fastq_1": "L1_R1.fq.gz", "fastq_2": "L1_R2.fq.gz", "lane": "L001"},
                ],
            },
            {"sample": "NA1", "lanes": [{"fastq_1": "a.fq", "fastq_2": "b.fq"}]},
        ]
    }
    m = parse_manifest(json.dumps(doc), bucket=B, key="x/run.manifest.json")
    assert [(s.sample, [lane.lane for lane in s.lanes]) for s in m.samples] == [
        ("NA12878", ["L001", "L002"]),
        ("NA1", ["1"]),
    ]
    assert m.samples[0].lanes[0].where == "samples[0].lanes[1]"
    assert m.samples[0].keys[0] == "x/L1_R1.fq.gz"


def test_json_rows_form_with_numeric_lanes():
    rows = [
        {"sample": "S", "fastq_1": "a_R1.fq", "fastq_2": "a_R2.fq", "lane": 2},
        {"sample": "S", "fastq_1": "b_R1.fq", "fastq_2": "b_R2.fq", "lane": 10},
    ]
    m = parse_manifest(json.dumps(rows).encode(), bucket=B, key="manifest.json")
    assert [lane.lane for lane in m.samples[0].lanes] == ["2", "10"]


BAD_CSV = [
    ("", "", "is empty"),
    ("sample,fastq_1\nS,a.fq\n", "line 1", "missing column.*fastq_2"),
    ("sample,fastq_1,fastq_2,fastq_1\n", "line 1", "fastq_1 appear twice"),
    ("sample,fastq_1,fastq_2\n", "", "lists no samples"),
    ("sample,fastq_1,fastq_2\nS,a_R1.fq\n", "line 2", "fastq_2 is empty.*both mates"),
    ("sample,fastq_1,fastq_2\nS,,b.fq\n", "line 2", "fastq_1 is empty"),
    ("sample,fastq_1,fastq_2\n,a.fq,b.fq\n", "line 2", "sample is empty"),
    ("sample,fastq_1,fastq_2\nS,a.fq,a.fq\n", "line 2", "same file"),
    ("sample,fastq_1,fastq_2\nS,a.fq,./a.fq\n", "line 2", "same file"),
    (
        "sample,lane,fastq_1,fastq_2\nS,1,a.fq,b.fq\nT,1,c.fq,a.fq\n",
        "line 3",
        r"listed twice \(also at line 2\)",
    ),
    (
        "sample,lane,fastq_1,fastq_2\nS,L001,a.fq,b.fq\nS,L001,c.fq,d.fq\n",
        "line 3",
        r"sample S lists lane L001 twice \(also at line 2\)",
    ),
    (
        "sample,fastq_1,fastq_2\nS,a.fq,b.fq\nS,c.fq,d.fq\n",
        "line 2",
        "sample S has 2 rows.*lane",
    ),
    ("sample,fastq_1,fastq_2\nS,a.fq,s3://other/b.fq\n", "line 2", "bucket 'other'.*in-bucket"),
    ("sample,fastq_1,fastq_2\nS,a.fq,/abs/b.fq\n", "line 2", "relative to the manifest's folder"),
    ("sample,fastq_1,fastq_2\nS,a.fq,https://x/b.fq\n", "line 2", "relative"),
    ("sample,fastq_1,fastq_2\nS,a.fq,sub/b.fq\n", "line 2", "subfolder"),
    ("sample,fastq_1,fastq_2\nS,a.fq,../b.fq\n", "line 2", "subfolder"),
    ("sample,fastq_1,fastq_2\nS,a.fq,b.bam\n", "line 2", "not a FASTQ"),
    (f"sample,fastq_1,fastq_2\nS,a.fq,s3://{B}\n", "line 2", "not a FASTQ|names no object"),
    ("sample,fastq_1,fastq_2\nS,a.fq,b.fq,extra\n", "line 2", "4 fields"),
]


@pytest.mark.parametrize(("text", "where", "message"), BAD_CSV)
def test_bad_csv_names_manifest_row_and_fix(text, where, message):
    with pytest.raises(ManifestError, match=message) as info:
        _csv(text)
    assert info.value.where == where
    assert str(info.value).startswith(f"s3://{B}/runs/b1/samplesheet.csv: ")
    assert isinstance(info.value, UserError)


def test_not_utf8():
    with pytest.raises(ManifestError, match="not UTF-8"):
        parse_manifest(b"sample,fastq_1,fastq_2\nS,\xff.fq,b.fq\n", bucket=B, key="manifest.csv")


BAD_JSON = [
    ("{", "line 1 column 2", "not valid JSON"),
    ('{"rows": []}', "", "samples"),
    ("3", "", "samples"),
    ('{"samples": []}', "", "lists no samples"),
    ('{"samples": [3]}', "samples[0]", "must be an object"),
    ('{"samples": [{"lanes": []}]}', "samples[0]", "has no sample"),
    ('{"samples": [{"sample": "S"}]}', "samples[0]", "lanes"),
    ('{"samples": [{"sample": "S", "lanes": [7]}]}', "samples[0].lanes[0]", "must be an object"),
    (
        '{"samples": [{"sample": "S", "lanes": [{"fastq_1": "a.fq"}]}]}',
        "samples[0].lanes[0]",
        "fastq_2 is empty",
    ),
    (
        '{"samples": [{"sample": "S", "lanes": [{"fastq_1": ["a.fq"], "fastq_2": "b.fq"}]}]}',
        "samples[0].lanes[0]",
        "fastq_1 must be a string",
    ),
    (
        '[{"sample": "S", "fastq_1": "a.fq", "fastq_2": "b.fq", "lane": "1"},'
        ' {"sample": "S", "fastq_1": "c.fq", "fastq_2": "d.fq", "lane": 1}]',
        "[1]",
        "lane 1 twice",
    ),
    (
        '{"samples": [{"sample": "S", "lanes": [{"fastq_1": "a.fq", "fastq_2": "b.fq"},'
        ' {"fastq_1": "c.fq", "fastq_2": "d.fq"}]}]}',
        "samples[0].lanes[0]",
        "has 2 rows",
    ),
]


@pytest.mark.parametrize(("text", "where", "message"), BAD_JSON)
def test_bad_json_names_manifest_row_and_fix(text, where, message):
    with pytest.raises(ManifestError, match=message) as info:
        parse_manifest(text, bucket=B, key="in/run.manifest.json", name="local/run.manifest.json")
    assert info.value.where == where
    assert info.value.manifest == "local/run.manifest.json"


def test_manifests_of_one_folder_share_no_sample_and_no_file():
    a = _csv("sample,fastq_1,fastq_2\nS,a.fq,b.fq\n", key="f/a.manifest.csv")
    b = _csv("sample,fastq_1,fastq_2\nT,c.fq,d.fq\n", key="f/b.manifest.csv")
    check_folder([a, b])
    same_sample = _csv("sample,fastq_1,fastq_2\nS,e.fq,f.fq\n", key="f/c.manifest.csv")
    with pytest.raises(ManifestError, match="sample S is also listed by s3://in-bucket/f/a"):
        check_folder([a, same_sample])
    same_file = _csv("sample,fastq_1,fastq_2\nU,a.fq,g.fq\n", key="f/c.manifest.csv")
    with pytest.raises(ManifestError, match="f/a.fq is also listed by"):
        check_folder([same_file, a])


def test_local_manifest_validated_before_any_upload(tmp_path):
    from omics_toolkit.pipeline.upload import manifest_folder, plan_manifest_upload

    run = tmp_path / "run 42"
    run.mkdir()
    sheet = run / "samplesheet.csv"
    sheet.write_text(f"sample,fastq_1,fastq_2\nS,a_R1.fq,s3://{B}/elsewhere/a_R2.fq\n")
    (run / "a_R1.fq").write_text("@r\nA\n+\nI\n")
    assert manifest_folder(sheet) == "fastq/run-42/"
    plan = plan_manifest_upload(sheet, B)
    assert plan.manifest.key == "fastq/run-42/samplesheet.csv"
    assert plan.files == ((run / "a_R1.fq", "fastq/run-42/a_R1.fq"),)
    assert plan_manifest_upload(sheet, B, "/batches/7").manifest.key == "batches/7/samplesheet.csv"
    (run / "a_R1.fq").unlink()
    with pytest.raises(UserError, match=r"line 2: .*a_R1.fq does not exist"):
        plan_manifest_upload(sheet, B)
    other = run / "list.csv"
    other.write_text("x")
    with pytest.raises(UserError, match="call it manifest.csv"):
        plan_manifest_upload(other, B)
    sheet.write_text("sample,fastq_1,fastq_2\nS,a_R1.fq,s3://elsewhere/a_R2.fq\n")
    with pytest.raises(ManifestError, match=f"^{sheet}: line 2: fastq_2 .*bucket 'elsewhere'"):
        plan_manifest_upload(sheet, B)


def test_local_digest_matches_s3_etags(tmp_path):
    import hashlib

    from omics_toolkit.pipeline.upload import MULTIPART_CHUNK_BYTES, local_digest

    small = tmp_path / "small"
    small.write_bytes(b"abc")
    md5 = hashlib.md5(b"abc").hexdigest()
    assert local_digest(small) == (3, md5, md5)
    big = tmp_path / "big"
    data = bytes(range(256)) * (MULTIPART_CHUNK_BYTES // 256) + b"tail"
    big.write_bytes(data)
    parts = [data[:MULTIPART_CHUNK_BYTES], data[MULTIPART_CHUNK_BYTES:]]
    combined = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert local_digest(big) == (len(data), hashlib.md5(data).hexdigest(), f"{combined}-2")
