"""htsget 1.3 request validation and tickets, against the specification's own examples.

Spec: https://samtools.github.io/hts-specs/htsget.html (1.3.0), sections "Errors", "GET request",
"POST request", "Response JSON fields", "GA4GH service-info".
"""

from __future__ import annotations

import base64
import gzip
from dataclasses import dataclass

import pytest

from omics_toolkit.reads import htsget as h


@dataclass(frozen=True)
class R:
    start: int
    end: int


class FakeSource:
    """A Source whose ranges are given: the ticket logic alone, no file behind it."""

    def __init__(self, fmt="BAM", ranges=None, header=R(0, 65536), size=10_000_000, eof=None):
        self.format = fmt
        self.eof = h.BGZF_EOF if eof is None else eof
        self._ranges = ranges or {}
        self._header = header
        self._size = size
        self.asked: list[h.Region] = []

    def data_url(self):
        return "https://htsget.blocksrv.example/sample1234/run1.bam"

    def contigs(self):
        return ["chr1", "chr2", "chr20"]

    def header_range(self):
        return self._header

    def byte_ranges(self, region):
        self.asked.append(region)
        return self._ranges.get(region.contig, [])

    def size(self):
        return self._size


# --- the spec's examples -----------------------------------------------------------------------


def test_response_example_shape():
    """The spec's example ticket: header URL(s) first, then the two body ranges, all classed;
    a Range of ``bytes=65536-1003750`` covers bytes 65536..1003750 inclusive."""
    source = FakeSource(ranges={"chr20": [R(65536, 1003751), R(2744831, 9375733)]})
    request = h.parse_get("reads", {"referenceName": "chr20", "start": "0", "end": "1000000"})
    body = h.ticket(request, source).body
    assert list(body) == ["htsget"]
    assert body["htsget"]["format"] == "BAM"
    url = "https://htsget.blocksrv.example/sample1234/run1.bam"
    assert body["htsget"]["urls"] == [
        {"url": url, "headers": {"Range": "bytes=0-65535"}, "class": "header"},
        {"url": url, "headers": {"Range": "bytes=65536-1003750"}, "class": "body"},
        {"url": url, "headers": {"Range": "bytes=2744831-9375732"}, "class": "body"},
        {"url": "data:application/vnd.ga4gh.bam;base64,H4sIBAAAAAAA/wYAQkMCABsAAwAAAAAAAAAAAA==",
         "class": "body"},
    ]  # fmt: skip


def test_eof_data_uri_is_base64_bgzf_eof():
    """``data:`` URIs carry base64, not percent-encoded (spec "Inline data block URIs")."""
    uri = h.data_uri(h.BGZF_EOF, "BAM")
    assert uri.startswith("data:application/vnd.ga4gh.bam;base64,")
    payload = base64.b64decode(uri.split(",", 1)[1])
    assert payload == h.BGZF_EOF and len(payload) == 28
    assert gzip.decompress(payload) == b""  # an empty BGZF block


def test_post_example_body():
    """The spec's POST example parses (lower-case ``bam`` included) into three regions."""
    body = {
        "format": "bam",
        "fields": ["QNAME", "FLAG", "RNAME", "POS", "CIGAR", "SEQ"],
        "tags": ["RG"],
        "notags": ["OQ"],
        "regions": [
            {"referenceName": "chr1"},
            {"referenceName": "chr2", "start": 999, "end": 1000},
            {"referenceName": "chr2", "start": 2000, "end": 2100},
        ],
    }
    request = h.parse_post("reads", body)
    assert request.format == "BAM"
    assert request.regions == (
        h.Region("chr1", 0, None),
        h.Region("chr2", 999, 1000),
        h.Region("chr2", 2000, 2100),
    )
    assert request.fields == ("QNAME", "FLAG", "RNAME", "POS", "CIGAR", "SEQ")
    assert (request.tags, request.notags) == (("RG",), ("OQ",))


def test_error_example_body():
    """``{"htsget": {"error": "NotFound", "message": ...}}`` as in the spec's example."""
    err = h.NotFoundError("No such accession 'ENS16232164'")
    assert err.body() == {
        "htsget": {"error": "NotFound", "message": "No such accession 'ENS16232164'"}
    }


def test_error_table():
    """Every error type of the spec's table with its HTTP status."""
    assert {e.error_type: e.status for e in h.ERROR_TYPES} == {
        "InvalidAuthentication": 401,
        "PermissionDenied": 403,
        "NotFound": 404,
        "PayloadTooLarge": 413,
        "UnsupportedFormat": 400,
        "InvalidInput": 400,
        "InvalidRange": 400,
    }


def test_service_info_example_keys():
    info = h.service_info("variants", url="http://127.0.0.1:8080/", version="0.1.0")
    assert info["type"] == {"group": "org.ga4gh", "artifact": "htsget", "version": "1.3.0"}
    assert info["htsget"] == {
        "datatype": "variants",
        "formats": ["VCF"],  # what is served: no BCF is stored and nothing is converted
        "fieldsParameterEffective": False,
        "tagsParametersEffective": False,
    }
    # GA4GH service-info 1.0 required fields
    assert {"id", "name", "type", "organization", "version"} <= set(info)
    assert set(info["organization"]) == {"name", "url"}


# --- tickets -----------------------------------------------------------------------------------


def test_regions_merge_in_file_order_and_once():
    """POST regions are returned in file order and a block two regions share comes once."""
    source = FakeSource(
        ranges={"chr2": [R(500_000, 600_000)], "chr1": [R(100_000, 200_000), R(150_000, 300_000)]}
    )
    request = h.parse_post(
        "reads", {"regions": [{"referenceName": "chr2"}, {"referenceName": "chr1"}]}
    )
    urls = h.ticket(request, source).body["htsget"]["urls"]
    assert [u.get("headers", {}).get("Range") for u in urls] == [
        "bytes=0-65535",
        "bytes=100000-299999",
        "bytes=500000-599999",
        None,
    ]
    assert [u["class"] for u in urls] == ["header", "body", "body", "body"]


def test_whole_file_is_header_then_rest_without_extra_eof():
    source = FakeSource(size=1_000_000)
    ticket = h.ticket(h.parse_get("reads", {}), source)
    urls = ticket.body["htsget"]["urls"]
    assert [(u["headers"]["Range"], u["class"]) for u in urls] == [
        ("bytes=0-65535", "header"),
        ("bytes=65536-999999", "body"),
    ]
    assert ticket.bytes_referenced == ticket.file_size == 1_000_000


def test_header_class_is_header_only():
    source = FakeSource(ranges={"chr1": [R(100_000, 200_000)]})
    urls = h.ticket(h.parse_get("reads", {"class": "header"}), source).body["htsget"]["urls"]
    assert urls == [
        {"url": source.data_url(), "headers": {"Range": "bytes=0-65535"}, "class": "header"}
    ]
    assert source.asked == []


def test_no_overlap_still_a_valid_file():
    """An empty result is header + EOF (spec: "still produce a valid response")."""
    source = FakeSource()
    urls = h.ticket(h.parse_get("reads", {"referenceName": "chr1"}), source).body["htsget"]["urls"]
    assert [u["class"] for u in urls] == ["header", "body"]
    assert urls[1]["url"].startswith("data:")


def test_long_ranges_split_into_blocks():
    source = FakeSource(header=R(0, 1500), ranges={"chr1": [R(65536, 65536 + 2500)]})
    request = h.parse_get("reads", {"referenceName": "chr1"})
    urls = h.ticket(request, source, max_block_bytes=1000).body["htsget"]["urls"]
    assert [(u["headers"]["Range"], u["class"]) for u in urls if "headers" in u] == [
        ("bytes=0-999", "header"),
        ("bytes=1000-1499", "header"),
        ("bytes=65536-66535", "body"),
        ("bytes=66536-67535", "body"),
        ("bytes=67536-68035", "body"),
    ]


def test_stored_format_only():
    """No transcoding: a CRAM id asked for the default BAM says which format to ask for."""
    source = FakeSource(fmt="CRAM", eof=h.CRAM3_EOF)
    with pytest.raises(h.UnsupportedFormatError, match="add `&format=CRAM` to the query"):
        h.ticket(h.parse_get("reads", {}), source)
    with pytest.raises(h.UnsupportedFormatError, match="request has format=BAM"):
        h.ticket(h.parse_get("reads", {"format": "bam"}), source)
    urls = h.ticket(h.parse_get("reads", {"format": "CRAM", "referenceName": "chr1"}), source)
    assert urls.body["htsget"]["format"] == "CRAM"
    eof = urls.body["htsget"]["urls"][-1]["url"]
    assert eof.startswith("data:application/vnd.ga4gh.cram;base64,")
    assert base64.b64decode(eof.split(",", 1)[1]) == h.CRAM3_EOF


def test_unknown_reference_is_not_found():
    with pytest.raises(h.NotFoundError, match="'chr9' is not in this file"):
        h.ticket(h.parse_get("reads", {"referenceName": "chr9"}), FakeSource())


def test_unplaced_unmapped_reaches_the_source():
    source = FakeSource(ranges={"*": [R(900_000, 950_000)]})
    urls = h.ticket(h.parse_get("reads", {"referenceName": "*"}), source).body["htsget"]["urls"]
    assert source.asked == [h.Region("*", 0, None)]
    assert urls[1]["headers"]["Range"] == "bytes=900000-949999"


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "error", "words"),
    [
        ({"format": "SAM"}, h.UnsupportedFormatError, "BAM, CRAM"),
        ({"class": "body"}, h.InvalidInputError, "only class is 'header'"),
        ({"class": "header", "referenceName": "chr1"}, h.InvalidInputError, "other than format"),
        ({"start": "10"}, h.InvalidInputError, "need a referenceName"),
        ({"referenceName": "*", "end": "5"}, h.InvalidInputError, "takes no start or end"),
        ({"referenceName": "chr1", "start": "-1"}, h.InvalidInputError, "unsigned 32-bit"),
        ({"referenceName": "chr1", "end": str(2**32)}, h.InvalidInputError, "unsigned 32-bit"),
        ({"referenceName": "chr1", "start": "x"}, h.InvalidInputError, "unsigned 32-bit"),
        ({"referenceName": "chr1", "start": "11", "end": "10"}, h.InvalidRangeError, "after"),
        ({"fields": "QNAME,NAME"}, h.InvalidInputError, "unknown field"),
        ({"tags": "RG,NM", "notags": "NM"}, h.InvalidInputError, "both name NM"),
    ],
)
def test_get_errors(query, error, words):
    with pytest.raises(error, match=words) as caught:
        h.parse_get("reads", query)
    assert type(caught.value) is error


def test_get_start_equal_end_is_allowed():
    """GET rejects start greater than end only (POST: greater or equal)."""
    assert h.parse_get("reads", {"referenceName": "chr1", "start": "5", "end": "5"}).regions == (
        h.Region("chr1", 5, 5),
    )


def test_variants_formats_and_fields():
    assert h.parse_get("variants", {"format": "vcf"}).format == "VCF"
    for fmt in ("BAM", "bcf"):  # BCF is the spec's too, but never served here
        with pytest.raises(h.UnsupportedFormatError, match="use one of VCF$"):
            h.parse_get("variants", {"format": fmt})
    with pytest.raises(h.InvalidInputError, match="reads only"):
        h.parse_get("variants", {"fields": "QNAME"})


@pytest.mark.parametrize(
    ("body", "error", "words"),
    [
        ([], h.InvalidInputError, "JSON object"),
        ({"regions": []}, h.InvalidInputError, "non-empty list"),
        ({"regions": [{"start": 1}]}, h.InvalidInputError, "needs a referenceName"),
        ({"regions": ["chr1"]}, h.InvalidInputError, "an object"),
        ({"regions": [{"referenceName": "chr1", "stop": 3}]}, h.InvalidInputError, "stop"),
        (
            {"regions": [{"referenceName": "chr1", "start": 5, "end": 5}]},
            h.InvalidRangeError,
            "not before",
        ),
        ({"regions": [{"referenceName": "chr1", "start": "5"}]}, h.InvalidInputError, "32-bit"),
        ({"class": "header", "regions": [{"referenceName": "c"}]}, h.InvalidInputError, "format"),
        ({"referenceName": "chr1"}, h.InvalidInputError, "unknown key"),
        ({"tags": "RG"}, h.InvalidInputError, "list of strings"),
        ({"format": "CRAM2"}, h.UnsupportedFormatError, "BAM, CRAM"),
    ],
)
def test_post_errors(body, error, words):
    with pytest.raises(error, match=words) as caught:
        h.parse_post("reads", body)
    assert type(caught.value) is error


def test_post_without_body_is_whole_file():
    assert h.parse_post("reads", None) == h.TicketRequest("reads")


def test_merge_ranges():
    assert h.merge_ranges([R(10, 20), R(0, 5), R(5, 8), R(15, 30), R(40, 40)]) == [
        h._Range(0, 8),
        h._Range(10, 30),
    ]


# --- exact tickets (ChunkSource) ---------------------------------------------------------------


class FakeChunkSource(FakeSource):
    """Three BGZF blocks of 1000 bytes of text each; the first record starts at byte 300."""

    def __init__(self):
        self.payloads = [bytes([65 + i]) * 1000 for i in range(3)]
        self.file = b"".join(h.bgzf_compress(p) for p in self.payloads) + h.BGZF_EOF
        self.offsets = [0]
        for p in self.payloads:
            self.offsets.append(self.offsets[-1] + len(h.bgzf_compress(p)))
        super().__init__(fmt="VCF", size=len(self.file))
        self.reads: list[tuple[int, int]] = []

    def first_record(self):
        return 300

    def chunks(self, region):
        # block 0 from 700, to block 2 at 250
        return [(700, (self.offsets[2] << 16) | 250)]

    def read(self, start, end):
        self.reads.append((start, end))
        return self.file[start:end]


def test_chunk_edges_inlined():
    source = FakeChunkSource()
    assert isinstance(source, h.ChunkSource)
    built = h.ticket(h.parse_get("variants", {"referenceName": "chr1"}), source)
    urls = built.body["htsget"]["urls"]

    def inline(u):
        return gzip.decompress(base64.b64decode(u["url"].split(",", 1)[1]))

    assert [u["class"] for u in urls] == ["header", "body", "body", "body", "body"]
    assert inline(urls[0]) == b"A" * 300  # the header's share of block 0
    assert inline(urls[1]) == b"A" * 300  # block 0 from 700
    assert urls[2]["headers"] == {"Range": f"bytes={source.offsets[1]}-{source.offsets[2] - 1}"}
    assert inline(urls[3]) == b"C" * 250  # block 2 up to 250
    assert inline(urls[4]) == b""  # EOF
    assert built.bytes_referenced == source.offsets[2] - source.offsets[1]
    # block 0 read once for both its cuts, block 2 once
    assert [start for start, _ in source.reads] == [0, source.offsets[2]]
    assert built.server_bytes_read == sum(end - start for start, end in source.reads)


def test_chunks_merge_once():
    assert h.merge_chunks([(50, 60), (10, 20), (15, 30), (30, 40)]) == [(10, 40), (50, 60)]
