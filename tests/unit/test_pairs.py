import re

import pytest

from omics_toolkit.config import load_settings, resolve_settings
from omics_toolkit.errors import ConfigError, UserError
from omics_toolkit.pipeline.pairs import (
    LanePair,
    base_execution_name,
    execution_name,
    lane_sort_key,
    names_sample,
    parse_mate,
)


@pytest.mark.parametrize(
    ("key", "sample", "mate", "mate_key", "lane"),
    [
        ("fastq/NA12878_R1.fastq.gz", "NA12878", 1, "fastq/NA12878_R2.fastq.gz", "1"),
        ("NA12878_R2.fastq.gz", "NA12878", 2, "NA12878_R1.fastq.gz", "1"),
        ("NA12878_R1.fastq", "NA12878", 1, "NA12878_R2.fastq", "1"),
        ("NA12878_R2.fq", "NA12878", 2, "NA12878_R1.fq", "1"),
        ("a/b/s1_1.fq", "s1", 1, "a/b/s1_2.fq", "1"),
        ("a/b/s1_2.fq.gz", "s1", 2, "a/b/s1_1.fq.gz", "1"),
        ("s1_1.fastq.gz", "s1", 1, "s1_2.fastq.gz", "1"),
        ("s1.R2.fq.gz", "s1", 2, "s1.R1.fq.gz", "1"),
        ("x/s1.R1.fastq", "s1", 1, "x/s1.R2.fastq", "1"),
        ("run/NA1_S3_L001_R1_001.fastq.gz", "NA1", 1, "run/NA1_S3_L001_R2_001.fastq.gz", "L001"),
        ("NA12878_S1_L004_R2_001.fastq", "NA12878", 2, "NA12878_S1_L004_R1_001.fastq", "L004"),
        # bcl2fastq --no-lane-splitting: no lane in the name
        ("NA12878_S1_R1_001.fastq.gz", "NA12878", 1, "NA12878_S1_R2_001.fastq.gz", "1"),
        # the last mate marker wins; what is before it is the sample
        ("s_1_R1.fastq", "s_1", 1, "s_1_R2.fastq", "1"),
        ("R1_R2.fq", "R1", 2, "R1_R1.fq", "1"),
        # folders whose names look like mates are kept as they are
        ("run_1/x_R2/s_R1.fq.gz", "s", 1, "run_1/x_R2/s_R2.fq.gz", "1"),
    ],
)
def test_parse_mate_every_convention(key, sample, mate, mate_key, lane):
    m = parse_mate(key)
    assert m is not None
    assert (m.sample, m.mate, m.mate_key, m.lane) == (sample, mate, mate_key, lane)
    other = parse_mate(m.mate_key)
    assert other is not None and (other.sample, other.mate, other.mate_key, other.lane) == (
        sample,
        3 - mate,
        key,
        lane,
    )
    assert (m.r1_key, m.r2_key) == ((key, mate_key) if mate == 1 else (mate_key, key))


@pytest.mark.parametrize(
    "key",
    [
        "NA12878.bam",
        "NA12878_R1.txt",
        "notes/readme",
        "x_R3.fastq",
        "x_R1.fastq.bz2",
        "x.fastq.gz",  # no mate marker
        "fastq/manifest.csv",
        "NA12878_R1.fastq.gz/",  # a "folder"
        "_R1.fastq.gz",  # no sample
    ],
)
def test_non_fastq_or_unmarked_ignored(key):
    assert parse_mate(key) is None


def test_prefix_sample_never_pairs_with_longer_name():
    na1, na12878 = parse_mate("NA1_R1.fastq.gz"), parse_mate("NA12878_R2.fastq.gz")
    assert na1.mate_key == "NA1_R2.fastq.gz" and na1.sample == "NA1"
    assert na12878.mate_key == "NA12878_R1.fastq.gz" and na12878.sample == "NA12878"
    illumina = parse_mate("NA1_S1_L001_R1_001.fastq.gz")
    assert illumina.mate_key == "NA1_S1_L001_R2_001.fastq.gz"


def test_unicode_and_spaces_are_kept():
    m = parse_mate("in/échantillon 1_R2.fq.gz")
    assert (m.sample, m.mate_key) == ("échantillon 1", "in/échantillon 1_R1.fq.gz")
    m = parse_mate("樣本/患者-α_S2_L002_R1_001.fastq.gz")
    assert (m.sample, m.lane, m.mate_key) == (
        "患者-α",
        "L002",
        "樣本/患者-α_S2_L002_R2_001.fastq.gz",
    )


DASHES = r"(?P<sample>[^-]+)-(?P<lane>L\d+)-(?P<mate>R[12])\.fastq\.gz"


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        (
            DASHES,
            "in/NA12878-L002-R2.fastq.gz",
            ("NA12878", 2, "in/NA12878-L002-R1.fastq.gz", "L002"),
        ),
        # a mate group of bare digits, no lane group
        (
            r"(?P<sample>\w+?)\.(?P<mate>[12])\.fq",
            "NA1.1.fq",
            ("NA1", 1, "NA1.2.fq", "1"),
        ),
        # lower-case r
        (
            r"reads_(?P<mate>r[12])_(?P<sample>.+)\.fastq",
            "reads_r2_S 9.fastq",
            ("S 9", 2, "reads_r1_S 9.fastq", "1"),
        ),
        # names the pattern does not match fall back to the built-in conventions
        (
            DASHES,
            "NA12878_S1_L001_R1_001.fastq.gz",
            ("NA12878", 1, "NA12878_S1_L001_R2_001.fastq.gz", "L001"),
        ),
    ],
)
def test_configurable_pattern(pattern, key, expected):
    m = parse_mate(key, pattern)
    assert m is not None
    assert (m.sample, m.mate, m.mate_key, m.lane) == expected
    assert parse_mate(m.mate_key, pattern).mate_key == key


def test_pattern_wins_over_the_conventions_and_never_reads_other_files():
    pattern = r"(?P<sample>.+)_(?P<mate>R[12])_(?P<lane>\d+)\.fq\.gz"
    m = parse_mate("S_1_R1_7.fq.gz", pattern)
    assert (m.sample, m.lane, m.mate_key) == ("S_1", "7", "S_1_R2_7.fq.gz")
    # the pattern must match a FASTQ name: other objects are never mates
    assert parse_mate("S_1_R1_7.txt", r"(?P<sample>.+)_(?P<mate>R[12]).*") is None


def test_pattern_whose_mate_is_not_1_or_2_is_not_a_mate():
    # the mate group matched "R3": not a mate; the built-in conventions do not read R3 either
    assert parse_mate("S_R3.fq", r"(?P<sample>.+)_(?P<mate>R\d)\.fq") is None


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"(?P<sample>.+)_(?P<mate>R[12]", "not a valid regular expression"),
        (r"(?P<sample>.+)_R[12]\.fq", r"\(\?P<mate>\.\.\.\)"),
        (r"(.+)_(?P<mate>R[12])\.fq", r"\(\?P<sample>\.\.\.\)"),
        (r"(?P<sample>.+)_(?P<lanes>L\d)_(?P<mate>R[12])\.fq", "unknown named group.*lanes"),
    ],
)
def test_bad_patterns_say_what_to_fix(pattern, message, monkeypatch):
    with pytest.raises(UserError, match=message):
        parse_mate("x_R1.fq", pattern)
    monkeypatch.setenv("OMICS_TOOLKIT_PAIR_PATTERN", pattern)
    with pytest.raises(ConfigError, match="env OMICS_TOOLKIT_PAIR_PATTERN"):
        load_settings()


def test_pair_pattern_setting_from_file_and_env(tmp_path, monkeypatch):
    monkeypatch.delenv("OMICS_TOOLKIT_PAIR_PATTERN", raising=False)
    cfg = tmp_path / "omics-toolkit.toml"
    cfg.write_text(f"pair_pattern = '{DASHES}'\n")
    settings, sources = resolve_settings(cfg)
    assert settings.pair_pattern == DASHES and sources["pair_pattern"] == f"file {cfg}"
    monkeypatch.setenv("OMICS_TOOLKIT_PAIR_PATTERN", r"(?P<sample>.+)\.(?P<mate>[12])\.fq")
    assert load_settings(cfg).pair_pattern == r"(?P<sample>.+)\.(?P<mate>[12])\.fq"
    cfg.write_text("pair_pattern = '(?P<sample>.+)_R[12].fq'\n")
    monkeypatch.delenv("OMICS_TOOLKIT_PAIR_PATTERN")
    with pytest.raises(ConfigError, match=f"from file {re.escape(str(cfg))}"):
        load_settings(cfg)


def _lane(lane, e1="e1", e2="e2", prefix="k"):
    return LanePair(lane, (f"{prefix}{lane}_1", e1), (f"{prefix}{lane}_2", e2))


def test_execution_name_is_deterministic_and_content_sensitive():
    a = execution_name("NA12878", [_lane("1")])
    assert a == execution_name("NA12878", [_lane("1")])
    assert a == execution_name("NA12878", [_lane("1", '"e1"', '"e2"')]), "ETag quotes ignored"
    assert a != execution_name("NA12878", [_lane("1", e2="CHANGED")])
    assert a != execution_name("NA12878", [_lane("2")])
    assert a != execution_name("NA12879", [_lane("1")])
    assert re.fullmatch(r"NA12878-[0-9a-f]{12}", a)


def test_execution_name_covers_every_lane_in_any_order():
    lanes = [_lane("L002"), _lane("L001"), _lane("L010")]
    name = execution_name("S", lanes)
    assert name == execution_name("S", list(reversed(lanes)))
    assert name != execution_name("S", lanes[:2])
    assert name != execution_name("S", [*lanes[:2], _lane("L010", e1="new")])


def test_execution_name_fits_step_functions_with_room_for_retries():
    for sample in ("x" * 200 + " é", "患者 α/β", "", "a" * 63, "a" * 64):
        name = execution_name(sample, [_lane("1")])
        assert 1 <= len(name) <= 76
        assert re.fullmatch(r"[A-Za-z0-9_-]+", name)
        assert len(name + "-r99") <= 80
        assert names_sample(name, sample)


def test_names_sample_is_exact():
    na1 = execution_name("NA1", [_lane("1")])
    na12878 = execution_name("NA12878", [_lane("1")])
    assert names_sample(na1, "NA1") and names_sample(na1 + "-r3", "NA1")
    assert not names_sample(na12878, "NA1") and not names_sample(na1, "NA12878")
    assert not names_sample(na1 + "-x", "NA1")
    assert not names_sample("NA1-" + "0" * 11, "NA1")
    # a sample whose safe name looks like another's name plus a digest
    assert not names_sample(execution_name("NA1-0123456789ab", [_lane("1")]), "NA1")
    assert base_execution_name(na1 + "-r12") == na1 and base_execution_name(na1) == na1


def test_lanes_sort_naturally():
    assert sorted(["10", "2", "1"], key=lane_sort_key) == ["1", "2", "10"]
    assert sorted(["L010", "L002", "L001"], key=lane_sort_key) == ["L001", "L002", "L010"]
