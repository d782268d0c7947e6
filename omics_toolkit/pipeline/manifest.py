"""Manifests: one upload that lists a sample's FASTQ pairs, lane by lane, for one run per sample.

What a manifest is
    An object whose base name is ``manifest.csv``, ``manifest.json`` or ``samplesheet.csv``, or
    ends with ``.manifest.csv``, ``.manifest.json`` or ``.samplesheet.csv``.

CSV (the nf-core samplesheet convention)
    A header ``sample,fastq_1,fastq_2`` plus an optional ``lane`` column (other columns are
    ignored), then one row per pair::

        sample,lane,fastq_1,fastq_2
        NA12878,L001,NA12878_L001_R1.fastq.gz,NA12878_L001_R2.fastq.gz
        NA12878,L002,NA12878_L002_R1.fastq.gz,NA12878_L002_R2.fastq.gz

JSON
    ``{"samples": [{"sample": "NA12878", "lanes": [{"fastq_1": ..., "fastq_2": ...,
    "lane": "L001"}, ...]}]}``, or a list of row objects like the CSV's rows.

Files
    A relative path names a file in the manifest's own folder (no subfolders: an upload in a
    subfolder cannot see the manifest); ``s3://<bucket>/<key>`` names any object of the same
    bucket (another bucket is an error). Each row needs both mates. A sample listed on one row
    runs as lane ``"1"`` unless a lane is given; a sample on several rows needs a distinct lane
    on each. No file may be listed twice.

The rules of a manifest folder
    A folder (key prefix up to the last ``/``) that holds a manifest is a *manifest folder*:
    FASTQ uploads there do not start per-pair runs. Instead every FASTQ event there, and the
    manifest's own event, re-reads the folder's manifests and starts a sample's run once every
    file the sample lists exists -- whichever arrives last triggers it, the way a mate waits for
    the other. One run per sample, with all its lanes; its execution name comes from the sample
    and its files' keys and ETags (not the manifest's), so re-uploading an identical manifest
    starts nothing.

    Upload the manifest first (``omics-toolkit upload --manifest`` does). FASTQ files uploaded
    before their manifest are still plain uploads: recognisable pairs start per-pair runs, which
    the sample's run then supersedes. Files listed by ``s3://`` URI outside the manifest's folder
    must exist before the manifest is uploaded (their events cannot see it). Two manifests of a
    folder may not list the same sample or the same file; an invalid manifest stops every run of
    its folder until it is fixed (the reason is in the pair detector's log).

    Finding a folder's manifests is one ListObjectsV2 with ``Prefix=<folder>`` and
    ``Delimiter="/"`` (one call per 1,000 objects of the folder, never the folders below).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from omics_toolkit.aws.errors import translate
from omics_toolkit.errors import ResourceNotFoundError, UserError
from omics_toolkit.pipeline.pairs import DEFAULT_LANE, is_fastq, lane_sort_key

MANIFEST_NAMES = ("manifest.csv", "manifest.json", "samplesheet.csv")
MANIFEST_SUFFIXES = (".manifest.csv", ".manifest.json", ".samplesheet.csv")
REQUIRED_COLUMNS = ("sample", "fastq_1", "fastq_2")
OPTIONAL_COLUMNS = ("lane",)


class ManifestError(UserError):
    """A manifest is not valid.

    Attributes:
        manifest: the manifest's name (an ``s3://`` URI or a local path).
        where: the row (``line 3``, ``samples[0].lanes[1]``) or ``""`` for the whole manifest.
        problem: what is wrong and what to do.
    """

    def __init__(self, manifest: str, where: str, problem: str) -> None:
        super().__init__(f"{manifest}: {where + ': ' if where else ''}{problem}")
        self.manifest = manifest
        self.where = where
        self.problem = problem


@dataclass(frozen=True)
class ManifestLane:
    """One row of a manifest: a lane's pair, as S3 keys of the manifest's bucket."""

    lane: str
    fastq_1: str
    fastq_2: str
    where: str


@dataclass(frozen=True)
class ManifestSample:
    """A sample and its lanes (sorted by lane)."""

    sample: str
    lanes: tuple[ManifestLane, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        """Every object key the sample lists, lane by lane, mate 1 first."""
        return tuple(k for lane in self.lanes for k in (lane.fastq_1, lane.fastq_2))


@dataclass(frozen=True)
class Manifest:
    """A parsed, valid manifest.

    Attributes:
        name: ``s3://bucket/key`` or the local path it was read from (for messages).
        bucket: the bucket its files are in.
        key: its own object key (its folder resolves relative paths).
        samples: the samples, in order of first appearance.
        relative: the keys that were listed as relative paths (files next to the manifest).
    """

    name: str
    bucket: str
    key: str
    samples: tuple[ManifestSample, ...]
    relative: frozenset[str]

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def folder(self) -> str:
        return folder_of(self.key)


def folder_of(key: str) -> str:
    """The key's folder: everything up to and including the last ``/`` (``""`` at the root)."""
    head, slash, _ = key.rpartition("/")
    return head + slash


def is_manifest(key: str) -> bool:
    """True when the key's base name marks a manifest (see the module docstring)."""
    base = key.rpartition("/")[2]
    return base in MANIFEST_NAMES or base.endswith(MANIFEST_SUFFIXES)


@dataclass(frozen=True)
class _Row:
    where: str
    sample: str
    fastq_1: str
    fastq_2: str
    lane: str | None


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _csv_rows(text: str, name: str) -> list[_Row]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or not any(h.strip() for h in header):
        raise ManifestError(
            name, "", "is empty: it needs a header sample,fastq_1,fastq_2 (lane optional)"
        )
    columns = [h.strip().lower() for h in header]
    duplicated = sorted({c for c in columns if c and columns.count(c) > 1})
    if duplicated:
        raise ManifestError(name, "line 1", f"column(s) {', '.join(duplicated)} appear twice")
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ManifestError(
            name,
            "line 1",
            f"missing column(s) {', '.join(missing)}: the header must have sample,fastq_1,"
            f"fastq_2 (lane optional); it has {','.join(columns)}",
        )
    rows = []
    for values in reader:
        where = f"line {reader.line_num}"
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(columns):
            raise ManifestError(
                name,
                where,
                f"has {len(values)} fields but the header has {len(columns)} "
                "(a comma inside a file name must be quoted)",
            )
        cells = dict(zip(columns, values, strict=False))
        lane = _text(cells.get("lane"))
        rows.append(
            _Row(
                where,
                _text(cells.get("sample")),
                _text(cells.get("fastq_1")),
                _text(cells.get("fastq_2")),
                lane or None,
            )
        )
    return rows


def _json_row(item: Any, where: str, name: str, sample: Any = None) -> _Row:
    if not isinstance(item, dict):
        raise ManifestError(
            name, where, "must be an object with fastq_1, fastq_2 (and lane) members"
        )
    for member in ("fastq_1", "fastq_2", "lane", "sample"):
        value = item.get(member)
        if value is not None and not isinstance(value, str | int):
            raise ManifestError(name, where, f"{member} must be a string")
    lane = _text(item.get("lane"))
    return _Row(
        where,
        _text(sample if sample is not None else item.get("sample")),
        _text(item.get("fastq_1")),
        _text(item.get("fastq_2")),
        lane or None,
    )


def _json_rows(text: str, name: str) -> list[_Row]:
    shapes = (
        'it must be {"samples": [{"sample": ..., "lanes": [{"fastq_1": ..., "fastq_2": ..., '
        '"lane": ...}]}]} or a list of {"sample", "fastq_1", "fastq_2", "lane"} objects'
    )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            name, f"line {exc.lineno} column {exc.colno}", f"is not valid JSON: {exc.msg}"
        ) from exc
    if isinstance(data, list):
        return [_json_row(item, f"[{i}]", name) for i, item in enumerate(data)]
    if not isinstance(data, dict) or not isinstance(data.get("samples"), list):
        raise ManifestError(name, "", shapes)
    rows = []
    for i, entry in enumerate(data["samples"]):
        where = f"samples[{i}]"
        if not isinstance(entry, dict):
            raise ManifestError(name, where, f"must be an object; {shapes}")
        if not isinstance(entry.get("sample"), str | int) or not _text(entry.get("sample")):
            raise ManifestError(name, where, "has no sample: give it a non-empty sample")
        lanes = entry.get("lanes")
        if not isinstance(lanes, list) or not lanes:
            raise ManifestError(
                name, where, 'needs a non-empty "lanes" list of {"fastq_1", "fastq_2", "lane"}'
            )
        rows.extend(
            _json_row(lane, f"{where}.lanes[{j}]", name, entry["sample"])
            for j, lane in enumerate(lanes)
        )
    return rows


def _resolve(ref: str, column: str, row: _Row, *, name: str, bucket: str, folder: str) -> str:
    """The S3 key a manifest cell names (see the module docstring for what is allowed)."""
    if not ref:
        raise ManifestError(
            name,
            row.where,
            f"{column} is empty: every row needs both mates, fastq_1 and fastq_2 "
            "(single-end reads are not supported)",
        )
    if ref.startswith("s3://"):
        ref_bucket, _, key = ref[len("s3://") :].partition("/")
        if ref_bucket != bucket:
            raise ManifestError(
                name,
                row.where,
                f"{column} {ref} is in bucket {ref_bucket!r}: the pipeline reads only the "
                f"manifest's bucket {bucket!r}; copy the file there and list it from there",
            )
        if not key:
            raise ManifestError(name, row.where, f"{column} {ref} names no object")
    else:
        if "://" in ref or ref.startswith("/"):
            raise ManifestError(
                name,
                row.where,
                f"{column} {ref!r}: give a file name relative to the manifest's folder or an "
                f"s3://{bucket}/... URI",
            )
        relative = ref[2:] if ref.startswith("./") else ref
        if "/" in relative:
            raise ManifestError(
                name,
                row.where,
                f"{column} {ref!r} is in a subfolder: put the file next to the manifest, or "
                "give its s3:// URI and upload it before the manifest",
            )
        key = folder + relative
    if not is_fastq(key):
        raise ManifestError(
            name, row.where, f"{column} {ref!r} is not a FASTQ file (.fastq or .fq, gzip or not)"
        )
    return key


def parse_manifest(
    data: bytes | str, *, bucket: str, key: str, name: str | None = None
) -> Manifest:
    """Parse and validate a manifest (CSV or JSON by its key's extension).

    Args:
        data: the manifest's content (UTF-8, a byte-order mark is allowed).
        bucket: the bucket it is (or will be) in; ``s3://`` URIs must name it.
        key: its object key; relative paths resolve against its folder.
        name: how errors name it (default ``s3://bucket/key``), e.g. a local path.

    Returns:
        The :class:`Manifest`.

    Raises:
        ManifestError: anything invalid, naming the manifest, the row and what to fix: a missing
            column, an empty cell, a pair missing a mate, the same file as both mates, a file
            listed twice, a sample with a lane listed twice (or several rows without lanes), a
            file outside the bucket, in a subfolder or not FASTQ, no rows at all.
    """
    name = name or f"s3://{bucket}/{key}"
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ManifestError(name, "", f"is not UTF-8 text ({exc.reason})") from exc
    else:
        text = data.removeprefix("\ufeff")
    rows = _json_rows(text, name) if key.lower().endswith(".json") else _csv_rows(text, name)
    if not rows:
        raise ManifestError(name, "", "lists no samples: add one row per FASTQ pair")
    folder = folder_of(key)
    seen_files: dict[str, str] = {}
    relative: set[str] = set()
    by_sample: dict[str, list[tuple[_Row, str, str]]] = {}
    for row in rows:
        if not row.sample:
            raise ManifestError(name, row.where, "sample is empty: give every row its sample id")
        keys = []
        for column in ("fastq_1", "fastq_2"):
            ref = getattr(row, column)
            file_key = _resolve(ref, column, row, name=name, bucket=bucket, folder=folder)
            if not ref.startswith("s3://"):
                relative.add(file_key)
            keys.append(file_key)
        if keys[0] == keys[1]:
            raise ManifestError(
                name,
                row.where,
                f"fastq_1 and fastq_2 are the same file ({keys[0]}): list both mates",
            )
        for file_key in keys:
            if file_key in seen_files:
                raise ManifestError(
                    name,
                    row.where,
                    f"{file_key} is listed twice (also at {seen_files[file_key]}): list each "
                    "file once",
                )
            seen_files[file_key] = row.where
        by_sample.setdefault(row.sample, []).append((row, keys[0], keys[1]))
    samples = []
    for sample, entries in by_sample.items():
        lanes: dict[str, ManifestLane] = {}
        for row, k1, k2 in entries:
            if row.lane is None and len(entries) > 1:
                raise ManifestError(
                    name,
                    row.where,
                    f"sample {sample} has {len(entries)} rows but this one gives no lane: give "
                    "each row of the sample its lane (a lane column) so they can be told apart",
                )
            lane = row.lane or DEFAULT_LANE
            if lane in lanes:
                raise ManifestError(
                    name,
                    row.where,
                    f"sample {sample} lists lane {lane} twice (also at {lanes[lane].where}): "
                    "give each pair of a sample its own lane",
                )
            lanes[lane] = ManifestLane(lane, k1, k2, row.where)
        ordered = tuple(sorted(lanes.values(), key=lambda x: lane_sort_key(x.lane)))
        samples.append(ManifestSample(sample, ordered))
    return Manifest(name, bucket, key, tuple(samples), frozenset(relative))


def check_folder(manifests: list[Manifest]) -> None:
    """Manifests of one folder may not share a sample or a file.

    Raises:
        ManifestError: naming the later manifest and the one it conflicts with.
    """
    samples: dict[str, str] = {}
    files: dict[str, str] = {}
    for manifest in sorted(manifests, key=lambda m: m.key):
        for sample in manifest.samples:
            if sample.sample in samples:
                raise ManifestError(
                    manifest.name,
                    "",
                    f"sample {sample.sample} is also listed by {samples[sample.sample]} in the "
                    "same folder: list each sample in one manifest per folder",
                )
            samples[sample.sample] = manifest.name
            for key in sample.keys:
                if key in files:
                    raise ManifestError(
                        manifest.name,
                        "",
                        f"{key} is also listed by {files[key]} in the same folder: list each "
                        "file in one manifest",
                    )
                files[key] = manifest.name


def find_manifests(s3: Any, bucket: str, folder: str) -> list[str]:
    """Keys of the manifests directly in ``folder``, sorted.

    One ListObjectsV2 with ``Prefix=folder`` and ``Delimiter="/"`` (more only past 1,000 objects
    in the folder; subfolders are never listed).
    """
    keys: list[str] = []
    with translate("s3", "ListObjectsV2"):
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=folder, Delimiter="/"
        )
        for page in pages:
            keys.extend(o["Key"] for o in page.get("Contents", []) if is_manifest(o["Key"]))
    return sorted(keys)


def read_manifest(s3: Any, bucket: str, key: str) -> Manifest | None:
    """Read and parse a manifest from S3 (GetObject); ``None`` when it no longer exists.

    Raises:
        ManifestError: it is not valid.
    """
    try:
        with translate("s3", "GetObject"):
            data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ResourceNotFoundError:
        return None
    return parse_manifest(data, bucket=bucket, key=key)
