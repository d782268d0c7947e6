"""The htsget endpoint on a real uvicorn server, read by real htsget clients.

The data URLs point at a stdlib HTTP range server (tests/support/range_server.py) standing in for
presigned S3 URLs; the Source is the oracle of tests/support/scanned_bam.py (the demo NA12878
BAM, sorted and indexed by samtools into a temporary directory). Clients: the GA4GH reference
client (``htsget`` on PyPI) and htslib's own (``samtools view 'http://.../reads/ID?...'``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import htsget
import pysam
import pytest
import requests

from omics_toolkit.data import fetch_demo_data
from omics_toolkit.errors import AccessDeniedError
from omics_toolkit.reads.htsget import BGZF_EOF, MEDIA_TYPE, NotFoundError, Region
from omics_toolkit.reads.ranged import LocalObject
from omics_toolkit.reads.serve import LOOPBACK_HOSTS, create_app, running
from omics_toolkit.reads.sources import IndexedSource
from tests.support.range_server import RangeServer, range_server
from tests.support.scanned_files import BlockRanges, Scanned

pytestmark = pytest.mark.skipif(shutil.which("samtools") is None, reason="needs samtools")

READ_ID = "NA12878/chr22-tiny"  # ids may hold "/" (spec "URL parameters")
# 1-based inclusive q:1,000-2,000 is 0-based half-open [999, 2000)
REGION = Region("q", 999, 2000)
SAMTOOLS_REGION = "q:1000-2000"


@pytest.fixture(scope="module")
def bam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo BAM sorted and indexed by samtools (htslib's BGZF blocking)."""
    demo = fetch_demo_data()
    out = tmp_path_factory.mktemp("htsget") / "NA12878.bam"
    subprocess.run(["samtools", "sort", "-o", str(out), str(demo.bam)], check=True)
    subprocess.run(["samtools", "index", str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def blocks(bam: Path) -> Iterator[RangeServer]:
    with range_server({"NA12878.bam": bam}) as server:
        yield server


@pytest.fixture(scope="module")
def source(bam: Path, blocks: RangeServer) -> BlockRanges:
    # a presigned URL's query string: the client must send it back untouched
    url = f"{blocks.url}/NA12878.bam?X-Amz-Signature=abc%2Fdef&X-Amz-Expires=900"
    return BlockRanges(Scanned(bam, url))


def _resolver(source: BlockRanges):
    def resolve(kind: str, id_: str) -> BlockRanges:
        if kind == "reads" and id_ == READ_ID:
            return source
        if id_ == "denied":
            raise AccessDeniedError("s3", "GetObject", "AccessDenied", "Access Denied")
        raise NotFoundError(f"no {kind} id {id_!r}; list them with `omics-toolkit reads list`")

    return resolve


@pytest.fixture(scope="module")
def base(source: BlockRanges) -> Iterator[str]:
    with running(create_app(_resolver(source))) as url:
        yield url


def samtools_view(path: Path, *region: str) -> list[str]:
    out = subprocess.run(
        ["samtools", "view", str(path), *region], check=True, capture_output=True, text=True
    )
    return out.stdout.splitlines()


def test_ga4gh_client_region_equals_samtools(
    base: str, bam: Path, blocks: RangeServer, tmp_path: Path
) -> None:
    """The reference client's file, filtered to the region by samtools, holds exactly the reads
    ``samtools view BAM REGION`` gives, and moved a fraction of the BAM."""
    blocks.reset()
    out = tmp_path / "region.bam"
    with out.open("wb") as fh:
        htsget.get(
            f"{base}/reads/{READ_ID}",
            fh,
            reference_name=REGION.contig,
            start=REGION.start,
            end=REGION.end,
        )
    subprocess.run(["samtools", "quickcheck", str(out)], check=True)  # header + EOF intact
    subprocess.run(["samtools", "index", str(out)], check=True)
    expected = samtools_view(bam, SAMTOOLS_REGION)
    assert len(expected) == 283
    assert samtools_view(out, SAMTOOLS_REGION) == expected
    # the header is the BAM's own
    header = subprocess.run(
        ["samtools", "view", "--no-PG", "-H", str(out)], capture_output=True, text=True
    )
    assert header.stdout == pysam.AlignmentFile(str(bam)).header.__str__()
    size = bam.stat().st_size
    assert blocks.requests == 2  # header range + one body range; EOF came inline
    assert blocks.bytes_sent == out.stat().st_size - len(BGZF_EOF)
    assert blocks.bytes_sent < size / 4, (blocks.bytes_sent, size)


def test_whole_file_is_the_stored_bam(base: str, bam: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.bam"
    with out.open("wb") as fh:
        htsget.get(f"{base}/reads/{READ_ID}", fh)
    assert out.read_bytes() == bam.read_bytes()


def test_htslib_client_follows_the_ticket(base: str, bam: Path) -> None:
    """htslib (Debian's samtools 1.16) opens an htsget URL itself: it reads the JSON ticket,
    fetches the ranges with their headers and decodes the data: URI."""
    url = f"{base}/reads/{READ_ID}?referenceName=q&start={REGION.start}&end={REGION.end}"
    got = subprocess.run(["samtools", "view", url], capture_output=True, text=True, check=True)
    records = got.stdout.splitlines()
    expected = samtools_view(bam, SAMTOOLS_REGION)
    # the ticket holds whole BGZF blocks: a superset, in file order, of the region's reads
    wanted = set(expected)
    assert [r for r in records if r in wanted] == expected
    assert len(records) < len(samtools_view(bam))


def test_post_regions_merged_once(base: str, bam: Path, tmp_path: Path) -> None:
    """Two overlapping regions and a later one: each read once, in file order."""
    body = {
        "format": "BAM",
        "regions": [
            {"referenceName": "q", "start": 9000, "end": 9100},
            {"referenceName": "q", "start": 999, "end": 2000},
            {"referenceName": "q", "start": 1500, "end": 2500},
        ],
    }
    answer = requests.post(f"{base}/reads/{READ_ID}", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    urls = answer.json()["htsget"]["urls"]
    assert [u["class"] for u in urls] == ["header", "body", "body", "body"]
    data = b"".join(
        requests.get(u["url"], headers=u["headers"], timeout=30).content
        if u["url"].startswith("http")
        else BGZF_EOF
        for u in urls
    )
    out = tmp_path / "post.bam"
    out.write_bytes(data)
    subprocess.run(["samtools", "index", str(out)], check=True)
    records = samtools_view(out)
    assert len(records) == len(set(records))  # no read twice
    for region in ("q:1000-2500", "q:9001-9100"):
        assert samtools_view(out, region) == samtools_view(bam, region)


def test_header_class(base: str, bam: Path, tmp_path: Path) -> None:
    answer = requests.get(f"{base}/reads/{READ_ID}", params={"class": "header"}, timeout=30)
    urls = answer.json()["htsget"]["urls"]
    assert {u["class"] for u in urls} == {"header"}
    data = b"".join(requests.get(u["url"], headers=u["headers"], timeout=30).content for u in urls)
    out = tmp_path / "header.bam"
    out.write_bytes(data + BGZF_EOF)
    with pysam.AlignmentFile(str(out)) as got, pysam.AlignmentFile(str(bam)) as want:
        assert str(got.header) == str(want.header)
        assert list(got.fetch(until_eof=True)) == []


def test_unplaced_unmapped_is_an_empty_valid_bam(base: str, tmp_path: Path) -> None:
    """The demo has no unplaced reads (its 7 unmapped reads sit beside their mates)."""
    out = tmp_path / "star.bam"
    with out.open("wb") as fh:
        htsget.get(f"{base}/reads/{READ_ID}", fh, reference_name="*")
    subprocess.run(["samtools", "quickcheck", str(out)], check=True)
    assert samtools_view(out) == []


def test_service_info(base: str) -> None:
    """Each endpoint advertises what it serves: no BCF (nothing is stored or converted to it)."""
    for kind, formats in (("reads", ["BAM", "CRAM"]), ("variants", ["VCF"])):
        answer = requests.get(f"{base}/{kind}/service-info", timeout=30)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == f"{MEDIA_TYPE}; charset=utf-8"
        info = answer.json()
        assert info["type"] == {"group": "org.ga4gh", "artifact": "htsget", "version": "1.3.0"}
        assert info["htsget"]["datatype"] == kind
        assert info["htsget"]["formats"] == formats
        assert info["organization"]["url"] == f"{base}/"


@pytest.mark.parametrize(
    ("method", "path", "params", "status", "error"),
    [
        ("GET", "/reads/nope", {}, 404, "NotFound"),
        ("GET", "/reads/denied", {}, 403, "PermissionDenied"),
        ("GET", f"/reads/{READ_ID}", {"referenceName": "chr1"}, 404, "NotFound"),
        ("GET", f"/reads/{READ_ID}", {"format": "CRAM"}, 400, "UnsupportedFormat"),
        ("GET", f"/reads/{READ_ID}", {"format": "VCF"}, 400, "UnsupportedFormat"),
        ("GET", f"/reads/{READ_ID}", {"start": "5"}, 400, "InvalidInput"),
        ("GET", f"/reads/{READ_ID}", {"class": "header", "start": "5"}, 400, "InvalidInput"),
        ("GET", f"/reads/{READ_ID}", {"referenceName": "q", "start": "9", "end": "2"}, 400,
         "InvalidRange"),
        ("POST", f"/reads/{READ_ID}", {"referenceName": "q"}, 400, "InvalidInput"),
    ],
)  # fmt: skip
def test_errors(base: str, method: str, path: str, params: dict, status: int, error: str) -> None:
    answer = requests.request(method, base + path, params=params, timeout=30)
    assert answer.status_code == status
    assert answer.headers["content-type"] == f"{MEDIA_TYPE}; charset=utf-8"
    body = answer.json()
    assert list(body) == ["htsget"]
    assert body["htsget"]["error"] == error
    assert body["htsget"]["message"]


def test_post_body_errors(source: BlockRanges) -> None:
    with running(create_app(_resolver(source), max_post_bytes=200)) as url:
        big = {"regions": [{"referenceName": "q", "start": i, "end": i + 1} for i in range(50)]}
        answer = requests.post(f"{url}/reads/{READ_ID}", json=big, timeout=30)
        assert (answer.status_code, answer.json()["htsget"]["error"]) == (413, "PayloadTooLarge")
        answer = requests.post(f"{url}/reads/{READ_ID}", data=b"{not json", timeout=30)
        assert (answer.status_code, answer.json()["htsget"]["error"]) == (400, "InvalidInput")
        answer = requests.post(f"{url}/reads/{READ_ID}", data=b"", timeout=30)
        assert answer.status_code == 200  # no body: the whole file
        assert len(answer.json()["htsget"]["urls"]) == 2


def test_bearer_token(source: BlockRanges, tmp_path: Path) -> None:
    with running(create_app(_resolver(source), token="s3cret")) as url:
        none = requests.get(f"{url}/reads/{READ_ID}", timeout=30)
        assert (none.status_code, none.json()["htsget"]["error"]) == (403, "PermissionDenied")
        wrong = requests.get(
            f"{url}/reads/{READ_ID}", headers={"Authorization": "Bearer nope"}, timeout=30
        )
        assert (wrong.status_code, wrong.json()["htsget"]["error"]) == (
            401,
            "InvalidAuthentication",
        )
        assert wrong.headers["www-authenticate"] == "Bearer"
        out = tmp_path / "token.bam"
        with out.open("wb") as fh:
            htsget.get(f"{url}/reads/{READ_ID}", fh, reference_name="q", bearer_token="s3cret")
        subprocess.run(["samtools", "quickcheck", str(out)], check=True)


def _cors(url: str, origin: str) -> tuple[requests.Response, requests.Response]:
    """A GET with ``Origin`` and the browser's preflight for it."""
    answer = requests.get(
        f"{url}/reads/{READ_ID}", params={"class": "header"}, headers={"Origin": origin},
        timeout=30,
    )  # fmt: skip
    preflight = requests.options(
        f"{url}/reads/{READ_ID}",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
        timeout=30,
    )
    return answer, preflight


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:3000", "http://127.0.0.1:8080", "https://[::1]", "http://localhost"],
)
def test_cors_loopback_origins(base: str, origin: str) -> None:
    answer, preflight = _cors(base, origin)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == origin
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    assert preflight.headers["access-control-allow-headers"] == "authorization"
    assert preflight.headers["access-control-max-age"] == str(30 * 24 * 3600)
    refused = requests.options(
        f"{base}/reads/{READ_ID}",
        headers={"Origin": origin, "Access-Control-Request-Method": "DELETE"},
        timeout=30,
    )
    assert refused.status_code == 400


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://localhost.evil.example",
        "http://127.0.0.1.evil.example:8080",
        "null",
        "http://localhost:notaport",
    ],
)
def test_cors_other_origins_refused_without_token(base: str, origin: str) -> None:
    """Any web page could otherwise read the presigned URLs of every read set on a loopback
    server without a token: the request is refused before the resolver, with no CORS header."""
    answer, preflight = _cors(base, origin)
    for got in (answer, preflight):
        assert got.status_code == 403
        assert got.json()["htsget"]["error"] == "PermissionDenied"
        assert origin in got.json()["htsget"]["message"]
        assert "access-control-allow-origin" not in got.headers


def test_cors_allowed_origins_and_token(source: BlockRanges) -> None:
    dashboard = "https://dashboard.example"
    with running(create_app(_resolver(source), allowed_origins=[dashboard + "/"])) as url:
        answer, preflight = _cors(url, dashboard)
        assert answer.headers["access-control-allow-origin"] == dashboard
        assert preflight.headers["access-control-allow-origin"] == dashboard
        assert _cors(url, "https://evil.example")[0].status_code == 403
    # with a token any origin is echoed: the token protects the tickets
    with running(create_app(_resolver(source), token="s3cret")) as url:
        answer = requests.get(
            f"{url}/reads/{READ_ID}",
            params={"class": "header"},
            headers={"Origin": "https://evil.example", "Authorization": "Bearer s3cret"},
            timeout=30,
        )
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "https://evil.example"
        _, preflight = _cors(url, "https://evil.example")
        assert preflight.headers["access-control-allow-origin"] == "https://evil.example"


def test_host_check(source: BlockRanges) -> None:
    """DNS rebinding: a page of evil.example resolved to 127.0.0.1 is same-origin with the
    server (no Origin header) but sends ``Host: evil.example``."""
    with running(create_app(_resolver(source), allowed_hosts=LOOPBACK_HOSTS)) as url:
        port = url.rsplit(":", 1)[1]
        for host in (f"evil.example:{port}", "evil.example", f"127.0.0.2:{port}"):
            answer = requests.get(f"{url}/reads/{READ_ID}", headers={"Host": host}, timeout=30)
            assert answer.status_code == 403, host
            assert answer.headers["content-type"] == f"{MEDIA_TYPE}; charset=utf-8"
            assert answer.json()["htsget"]["error"] == "PermissionDenied"
            assert repr(host) in answer.json()["htsget"]["message"]
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST"):
            answer = requests.get(
                f"{url}/reads/{READ_ID}", params={"class": "header"}, headers={"Host": host},
                timeout=30,
            )  # fmt: skip
            assert answer.status_code == 200, host


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/service-info"),
        ("GET", "/reads"),
        ("GET", "/reads/"),
        ("GET", "/variants"),
        ("GET", "/docs"),
        ("GET", "/genomes/x"),
        ("PUT", f"/reads/{READ_ID}"),
        ("DELETE", "/reads/service-info"),
    ],
)
def test_unknown_routes_are_htsget_not_found(base: str, method: str, path: str) -> None:
    answer = requests.request(method, base + path, timeout=30, allow_redirects=False)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == f"{MEDIA_TYPE}; charset=utf-8"
    body = answer.json()
    assert list(body) == ["htsget"]
    assert body["htsget"]["error"] == "NotFound"
    assert body["htsget"]["message"]


def test_presigned_query_survives(base: str, source: BlockRanges) -> None:
    """The data URL is the Source's presigned URL verbatim (its signature percent-encoded)."""
    answer = requests.get(f"{base}/reads/{READ_ID}", params={"referenceName": "q"}, timeout=30)
    urls = [u["url"] for u in answer.json()["htsget"]["urls"] if u["url"].startswith("http")]
    assert set(urls) == {source.url}
    assert json.dumps(answer.json()).count("X-Amz-Signature=abc%2Fdef") == len(urls)


# --- a CRAM id (served as stored: the client must ask for format=CRAM) --------------------------

CRAM_ID = "NA12878/cram"


@pytest.fixture(scope="module")
def cram_base(bam: Path) -> Iterator[tuple[str, Path, Path]]:
    """The sorted demo BAM as CRAM 3 (samtools, with its reference) behind the real
    :class:`~omics_toolkit.reads.sources.IndexedSource` (its CRAI read by range)."""
    reference = fetch_demo_data().reference
    cram = bam.with_name("NA12878.cram")
    subprocess.run(
        ["samtools", "view", "-C", "-T", str(reference), "-o", str(cram), str(bam)], check=True
    )
    subprocess.run(["samtools", "index", str(cram)], check=True)
    with range_server({"NA12878.cram": cram}) as server:
        source = IndexedSource(
            LocalObject(cram), LocalObject(f"{cram}.crai"), f"{server.url}/NA12878.cram"
        )

        def resolve(kind: str, id_: str) -> IndexedSource:
            if kind == "reads" and id_ == CRAM_ID:
                return source
            raise NotFoundError(f"no {kind} id {id_!r}")

        with running(create_app(resolve)) as url:
            yield url, cram, reference


def test_cram_without_format_says_the_query_to_add(cram_base: tuple[str, Path, Path]) -> None:
    """The spec's default format is BAM; a CRAM is never converted, and the error says exactly
    what to add to the URL."""
    base, _, _ = cram_base
    answer = requests.get(f"{base}/reads/{CRAM_ID}", params={"referenceName": "q"}, timeout=30)
    assert answer.status_code == 400
    assert answer.json()["htsget"]["error"] == "UnsupportedFormat"
    message = answer.json()["htsget"]["message"]
    assert "stored as CRAM" in message
    assert "no format (default BAM)" in message
    assert "`&format=CRAM`" in message


def test_htslib_client_on_a_cram_id(cram_base: tuple[str, Path, Path]) -> None:
    """``samtools view -T REF 'URL&format=CRAM'``: htslib follows the ticket of whole CRAM
    containers (from the CRAI) and decodes them; the region's reads come out, in order."""
    base, cram, reference = cram_base
    url = f"{base}/reads/{CRAM_ID}?referenceName=q&start={REGION.start}&end={REGION.end}"
    got = subprocess.run(
        ["samtools", "view", "-T", str(reference), f"{url}&format=CRAM"],
        capture_output=True,
        text=True,
        check=True,
    )
    records = got.stdout.splitlines()
    expected = subprocess.run(
        ["samtools", "view", "-T", str(reference), str(cram), SAMTOOLS_REGION],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(expected) == 283  # the BAM's count for the region
    wanted = set(expected)
    assert [r for r in records if r in wanted] == expected
