"""GA4GH htsget 1.3 tickets: which byte ranges of an indexed BAM/CRAM/VCF a client fetches.

The protocol (https://samtools.github.io/hts-specs/htsget.html, version 1.3.0): a client asks
``GET /reads/{id}`` (or ``/variants/{id}``) with ``format``, ``class``, ``referenceName``,
``start`` and ``end`` (0-based half-open), or ``POST`` with a JSON body holding several
``regions``; the server answers a *ticket*, ``{"htsget": {"format": ..., "urls": [...]}}``, whose
URLs the client fetches in order and concatenates into a valid file. Here every data URL is the
same presigned URL of the stored object with a ``Range: bytes=a-b`` header (header blocks, then
the region's data blocks), and the format's end-of-file marker is inlined as a ``data:`` URI, so
the server never moves read data itself.

This module is pure: it parses and validates requests (:func:`parse_get`, :func:`parse_post`),
builds tickets (:func:`ticket`), the service-info document (:func:`service_info`) and error
bodies (:class:`HtsgetError`). Where the bytes are comes from a :class:`Source` the caller
supplies (presigned S3 URL + the file's index); ``omics_toolkit.reads.serve`` puts it on HTTP.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from omics_toolkit.errors import ToolkitError

HTSGET_VERSION = "1.3.0"
"""The protocol version served (spec section "Version history")."""

MEDIA_TYPE = f"application/vnd.ga4gh.htsget.v{HTSGET_VERSION}+json"
"""Content type of every ticket, service-info and error body (spec "Protocol essentials")."""

Kind = Literal["reads", "variants"]

FORMATS: dict[str, tuple[str, ...]] = {"reads": ("BAM", "CRAM"), "variants": ("VCF",)}
"""Formats served per endpoint, the default first (spec query parameter ``format``). The spec
also names BCF for variants; no source here is BCF and nothing is converted, so it is not
offered (service-info advertises exactly these)."""

READ_FIELDS = frozenset(
    ("QNAME", "FLAG", "RNAME", "POS", "MAPQ", "CIGAR", "RNEXT", "PNEXT", "TLEN", "SEQ", "QUAL")
)
"""The field names ``fields`` may list (spec "Field filtering")."""

UNPLACED_UNMAPPED = "*"
"""``referenceName=*``: the reads with neither reference nor position (spec, reads endpoint)."""

MAX_UINT32 = 2**32 - 1

BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
"""The 28-byte empty BGZF block that ends BAM, bgzipped VCF and BCF files (SAMv1 section 4.1.2)."""

CRAM3_EOF = bytes.fromhex(
    "0f000000ffffffff0fe0454f4600000000010005bdd94f0001000606010001000100ee63014b"
)
"""The 38-byte EOF container of CRAM 3.0/3.1 files (CRAMv3 section 9)."""

DEFAULT_MAX_BLOCK_BYTES = 512 * 2**20
"""Longest byte range put in one URL; the spec asks for data blocks of at most ~1 GB so a failed
block can be retried alone ("Reliability & performance considerations")."""


# --- errors (spec "Errors": type, HTTP status) ---------------------------------------------------


class HtsgetError(ToolkitError):
    """An htsget error: answered as ``{"htsget": {"error": error_type, "message": message}}``.

    Attributes:
        error_type: the spec's error name, e.g. ``"NotFound"``.
        status: its HTTP status code.
        message: what went wrong and what to change in the request.
    """

    error_type = "InvalidInput"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        """The error response JSON (spec "Error Response JSON fields")."""
        return {"htsget": {"error": self.error_type, "message": self.message}}


class InvalidAuthenticationError(HtsgetError):
    """401 ``InvalidAuthentication``: the authorization provided is invalid."""

    error_type = "InvalidAuthentication"
    status = 401


class PermissionDeniedError(HtsgetError):
    """403 ``PermissionDenied``: authorization is required to access the resource."""

    error_type = "PermissionDenied"
    status = 403


class NotFoundError(HtsgetError):
    """404 ``NotFound``: no such id, or no such reference in it."""

    error_type = "NotFound"
    status = 404


class PayloadTooLargeError(HtsgetError):
    """413 ``PayloadTooLarge``: the POST body is larger than the server accepts."""

    error_type = "PayloadTooLarge"
    status = 413


class UnsupportedFormatError(HtsgetError):
    """400 ``UnsupportedFormat``: the requested format is not one this id can be served in."""

    error_type = "UnsupportedFormat"
    status = 400


class InvalidInputError(HtsgetError):
    """400 ``InvalidInput``: the request parameters do not adhere to the specification."""

    error_type = "InvalidInput"
    status = 400


class InvalidRangeError(HtsgetError):
    """400 ``InvalidRange``: the requested range cannot be satisfied (start after end)."""

    error_type = "InvalidRange"
    status = 400


ERROR_TYPES: tuple[type[HtsgetError], ...] = (
    InvalidAuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedFormatError,
    InvalidInputError,
    InvalidRangeError,
)


# --- what a ticket is made from ------------------------------------------------------------------


class Span(Protocol):
    """A byte range of the stored file: ``start`` inclusive, ``end`` exclusive (bytes).

    ``omics_toolkit.reads.indexes.ByteRange`` has this shape.
    """

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


@dataclass(frozen=True)
class Region:
    """One requested region: ``contig`` (``"*"``: unplaced unmapped reads), 0-based half-open
    ``start``/``end`` (``end=None``: to the end of the contig).

    Same fields as ``omics_toolkit.reads.regions.Region``, so a :class:`Source` can hand it to
    ``indexes.byte_ranges`` as is.
    """

    contig: str
    start: int = 0
    end: int | None = None


@runtime_checkable
class Source(Protocol):
    """One stored, indexed file an htsget id resolves to.

    Attributes:
        format: ``"BAM"``, ``"CRAM"`` or ``"VCF"`` (bgzipped): one of :data:`FORMATS`.
        eof: the format's end-of-file marker (:data:`BGZF_EOF`, :data:`CRAM3_EOF`), appended to
            every region ticket as a ``data:`` URI; ``b""`` if the format has none.
    """

    format: str
    eof: bytes

    def data_url(self) -> str:
        """A URL that answers GET with ``Range`` for the file's bytes (an S3 presigned URL)."""
        ...

    def contigs(self) -> Sequence[str]:
        """The file's reference sequence names, in header order (``@SQ SN`` / ``##contig``)."""
        ...

    def header_range(self) -> Span:
        """The bytes from 0 to the first data block: everything before the first record."""
        ...

    def byte_ranges(self, region: Region) -> Sequence[Span]:
        """The data blocks holding the records overlapping ``region`` (from the index).

        ``region.contig`` is ``"*"`` for the unplaced unmapped reads; an empty list means no
        record overlaps.
        """
        ...

    def size(self) -> int:
        """The file's length in bytes."""
        ...


@runtime_checkable
class ChunkSource(Source, Protocol):
    """A BGZF :class:`Source` (BAM, bgzipped VCF) that also gives virtual offsets.

    A virtual offset is ``compressed block offset << 16 | offset in the block's data`` (SAMv1
    section 4.1.1); BAI, CSI and tabix chunks are pairs of them.
    """

    def first_record(self) -> int:
        """The virtual offset where the first record starts (the end of the header)."""
        ...

    def chunks(self, region: Region) -> Sequence[tuple[int, int]]:
        """Virtual-offset chunks ``[begin, end)`` holding the records overlapping ``region``
        (the index's chunks for its bins, after the linear-index cut)."""
        ...

    def read(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the stored file (a ranged GetObject); ``end`` may be past
        the end of the file."""
        ...


# --- requests ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketRequest:
    """A validated htsget request.

    Attributes:
        kind: ``"reads"`` or ``"variants"``.
        format: the format asked for, upper case; ``None`` if the client named none (the spec's
            default, BAM or VCF, applies).
        header_only: ``class=header``.
        regions: the requested regions; empty: the whole file.
        fields, tags, notags: accepted and validated; a server may return more than asked, and
            this one returns whole records (service-info says so).
    """

    kind: Kind
    format: str | None = None
    header_only: bool = False
    regions: tuple[Region, ...] = ()
    fields: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    notags: tuple[str, ...] | None = None


def _format(kind: Kind, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"format must be a string, one of {', '.join(FORMATS[kind])}")
    fmt = value.upper()
    if fmt not in FORMATS[kind]:
        raise UnsupportedFormatError(
            f"format {value!r} is not served for {kind}; use one of {', '.join(FORMATS[kind])}"
        )
    return fmt


def _class(value: Any) -> bool:
    if value is None:
        return False
    if value != "header":
        raise InvalidInputError(f"class {value!r} is not allowed; the only class is 'header'")
    return True


def _position(name: str, value: Any, *, text: bool) -> int | None:
    """An unsigned 32-bit position; ``text``: given as query-string text (GET), else JSON."""
    if value is None:
        return None
    if isinstance(value, bool) or (isinstance(value, str) and not text):
        raise InvalidInputError(f"{name} must be an unsigned 32-bit integer, not {value!r}")
    if isinstance(value, str):
        if not value.isdigit():
            raise InvalidInputError(f"{name} must be an unsigned 32-bit integer, not {value!r}")
        value = int(value)
    if not isinstance(value, int) or value < 0 or value > MAX_UINT32:
        raise InvalidInputError(f"{name} must be an unsigned 32-bit integer, not {value!r}")
    return value


def _names(name: str, value: Any, *, split: bool) -> tuple[str, ...] | None:
    if value is None:
        return None
    if split and isinstance(value, str):
        return tuple(v for v in value.split(",") if v)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InvalidInputError(f"{name} must be a list of strings")


def _filters(
    kind: Kind, fields: tuple[str, ...] | None, tags: tuple[str, ...] | None, notags: Any
) -> None:
    if fields is not None:
        if kind != "reads":
            raise InvalidInputError("fields applies to reads only; drop it for variants")
        unknown = sorted(set(fields) - READ_FIELDS)
        if unknown:
            raise InvalidInputError(
                f"unknown field(s) {', '.join(unknown)}; fields are {', '.join(sorted(READ_FIELDS))}"
            )
    both = sorted(set(tags or ()) & set(notags or ()))
    if both:
        raise InvalidInputError(f"tags and notags both name {', '.join(both)}; keep each in one")


def _region(reference: Any, start: Any, end: Any, *, post: bool) -> Region:
    where = "a region's " if post else ""
    if reference is None:
        if post:
            raise InvalidInputError("every region needs a referenceName")
        raise InvalidInputError("start and end need a referenceName")
    if not isinstance(reference, str) or not reference:
        raise InvalidInputError(f"{where}referenceName must be a non-empty string")
    first = _position(f"{where}start", start, text=not post)
    last = _position(f"{where}end", end, text=not post)
    if reference == UNPLACED_UNMAPPED and (first is not None or last is not None):
        raise InvalidInputError("referenceName=* (unplaced unmapped reads) takes no start or end")
    if first is not None and last is not None:
        # GET: start greater than end is invalid; POST: greater than or equal (spec text)
        if first > last or (post and first == last):
            raise InvalidRangeError(
                f"{where}start {first} is {'not before' if post else 'after'} end {last} "
                "(0-based half-open: end is one past the last base)"
            )
    return Region(reference, first or 0, last)


def parse_get(kind: Kind, query: Mapping[str, str]) -> TicketRequest:
    """Validate the query parameters of ``GET /{kind}/{id}``.

    Args:
        kind: ``"reads"`` or ``"variants"``.
        query: the query string as a mapping (one value per name); unknown names are ignored.

    Returns:
        The request.

    Raises:
        UnsupportedFormatError: ``format`` is not one of the endpoint's formats.
        InvalidInputError: ``class`` other than ``header``, or ``class=header`` with other
            parameters than ``format``; ``start``/``end`` without ``referenceName`` or with
            ``*``, or not unsigned 32-bit integers; unknown ``fields``; ``tags`` and ``notags``
            intersecting.
        InvalidRangeError: ``start`` greater than ``end``.

    Source: htsget 1.3 "GET request", "Query parameters".
    """
    fmt = _format(kind, query.get("format"))
    header_only = _class(query.get("class"))
    positional = ("referenceName", "start", "end", "fields", "tags", "notags")
    if header_only and any(name in query for name in positional):
        raise InvalidInputError("class=header takes no parameter other than format")
    fields = _names("fields", query.get("fields"), split=True)
    tags = _names("tags", query.get("tags"), split=True)
    notags = _names("notags", query.get("notags"), split=True)
    _filters(kind, fields, tags, notags)
    regions: tuple[Region, ...] = ()
    reference = query.get("referenceName")
    if reference is not None or "start" in query or "end" in query:
        regions = (_region(reference, query.get("start"), query.get("end"), post=False),)
    return TicketRequest(kind, fmt, header_only, regions, fields, tags, notags)


POST_KEYS = frozenset(("format", "class", "fields", "tags", "notags", "regions"))


def parse_post(kind: Kind, body: Any) -> TicketRequest:
    """Validate the JSON body of ``POST /{kind}/{id}`` (``None``: an empty body, the whole file).

    Raises:
        UnsupportedFormatError: as :func:`parse_get`.
        InvalidInputError: the body is not a JSON object, or has an unknown key; ``class`` as in
            :func:`parse_get`; ``regions`` empty, not a list of objects, a region without
            ``referenceName``; positions not unsigned 32-bit integers; ``fields``/``tags``/
            ``notags`` not lists of strings, unknown fields, tags and notags intersecting.
        InvalidRangeError: a region whose ``start`` is not before its ``end``.

    Source: htsget 1.3 "POST request", "Request body", "Region list".
    """
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InvalidInputError("the POST body must be a JSON object")
    unknown = sorted(set(body) - POST_KEYS)
    if unknown:
        raise InvalidInputError(
            f"unknown key(s) {', '.join(unknown)} in the POST body; keys are "
            f"{', '.join(sorted(POST_KEYS))}"
        )
    fmt = _format(kind, body.get("format"))
    header_only = _class(body.get("class"))
    if header_only and set(body) - {"format", "class"}:
        raise InvalidInputError('"class": "header" takes no parameter other than format')
    fields = _names("fields", body.get("fields"), split=False)
    tags = _names("tags", body.get("tags"), split=False)
    notags = _names("notags", body.get("notags"), split=False)
    _filters(kind, fields, tags, notags)
    regions: tuple[Region, ...] = ()
    if "regions" in body:
        raw = body["regions"]
        if not isinstance(raw, list) or not raw:
            raise InvalidInputError("regions must be a non-empty list of region objects")
        parsed = []
        for item in raw:
            if not isinstance(item, dict):
                raise InvalidInputError("each region must be an object with referenceName")
            extra = sorted(set(item) - {"referenceName", "start", "end"})
            if extra:
                raise InvalidInputError(
                    f"unknown key(s) {', '.join(extra)} in a region; use referenceName, start, end"
                )
            parsed.append(
                _region(item.get("referenceName"), item.get("start"), item.get("end"), post=True)
            )
        regions = tuple(parsed)
    return TicketRequest(kind, fmt, header_only, regions, fields, tags, notags)


# --- tickets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Range:
    start: int
    end: int


def merge_ranges(ranges: Sequence[Span]) -> list[_Range]:
    """Sort byte ranges and merge the overlapping or touching ones (ends exclusive).

    Empty ranges are dropped. Merging is what makes a record that several requested regions
    overlap come back once (spec "Region list").
    """
    out: list[_Range] = []
    for r in sorted((r for r in ranges if r.end > r.start), key=lambda r: (r.start, r.end)):
        if out and r.start <= out[-1].end:
            if r.end > out[-1].end:
                out[-1] = _Range(out[-1].start, r.end)
        else:
            out.append(_Range(r.start, r.end))
    return out


def _split(r: Span, most: int) -> list[_Range]:
    return [_Range(a, min(a + most, r.end)) for a in range(r.start, r.end, most)]


def data_uri(payload: bytes, fmt: str) -> str:
    """An inline ``data:`` URI, base64 and not percent-encoded (spec "Inline data block URIs")."""
    return f"data:application/vnd.ga4gh.{fmt.lower()};base64,{base64.b64encode(payload).decode()}"


def range_header(r: Span) -> dict[str, str]:
    """``{"Range": "bytes=a-b"}`` for a range whose ``end`` is exclusive (HTTP's ``b`` is not)."""
    return {"Range": f"bytes={r.start}-{r.end - 1}"}


@dataclass
class Ticket:
    """A built ticket and what it costs.

    Attributes:
        body: the response JSON, ``{"htsget": {"format", "urls": [{"url", "headers"?, "class"}]}}``.
        bytes_referenced: bytes of the stored file the ticket's URLs cover.
        file_size: the stored file's length (bytes).
        server_bytes_read: bytes the server read itself to cut edge blocks (ChunkSource).
    """

    body: dict[str, Any]
    bytes_referenced: int = 0
    file_size: int = 0
    server_bytes_read: int = 0


@dataclass(frozen=True)
class _Inline:
    """Uncompressed bytes cut out of an edge block, sent as a ``data:`` URI (BGZF again)."""

    payload: bytes


def bgzf_compress(payload: bytes) -> bytes:
    """``payload`` as BGZF blocks of at most 65,280 input bytes each (SAMv1 section 4.1).

    Each block is a gzip member with the ``BC`` extra field giving its size, so the result can be
    concatenated with other BGZF data and read by htslib.
    """
    out = bytearray()
    for offset in range(0, len(payload), _BGZF_INPUT):
        piece = payload[offset : offset + _BGZF_INPUT]
        deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        cdata = deflate.compress(piece) + deflate.flush()
        out += b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00"
        out += struct.pack("<H", len(cdata) + 25)
        out += cdata
        out += struct.pack("<II", zlib.crc32(piece), len(piece))
    return bytes(out)


_BGZF_INPUT = 0xFF00
_BGZF_MAX_BLOCK = 0x10000


class _Blocks:
    """Edge blocks read from a :class:`ChunkSource`, each at most once per ticket."""

    def __init__(self, source: ChunkSource, size: int) -> None:
        self.source = source
        self.size = size
        self.cache: dict[int, tuple[bytes, int]] = {}
        self.bytes_read = 0

    def get(self, coffset: int) -> tuple[bytes, int]:
        """``(uncompressed payload, compressed length)`` of the BGZF block at ``coffset``."""
        if coffset not in self.cache:
            raw = self.source.read(coffset, min(coffset + _BGZF_MAX_BLOCK, self.size))
            self.bytes_read += len(raw)
            if len(raw) < 28 or raw[:4] != b"\x1f\x8b\x08\x04":
                raise ValueError(f"no BGZF block at byte {coffset} of the stored file")
            bsize = struct.unpack_from("<H", raw, 16)[0] + 1
            payload = zlib.decompress(raw[18 : bsize - 8], -15)
            self.cache[coffset] = (payload, bsize)
        return self.cache[coffset]


def _chunk_parts(begin: int, end: int, blocks: _Blocks) -> list[_Range | _Inline]:
    """The parts holding virtual offsets ``[begin, end)``: whole blocks as byte ranges, the
    parts of the first and last block as inline bytes, so no record is cut."""
    cb, ub, ce, ue = begin >> 16, begin & 0xFFFF, end >> 16, end & 0xFFFF
    if cb == ce:
        payload = blocks.get(cb)[0] if ue > ub else b""
        return [_Inline(payload[ub:ue])] if ue > ub else []
    parts: list[_Range | _Inline] = []
    first_whole = cb
    if ub:
        payload, bsize = blocks.get(cb)
        parts.append(_Inline(payload[ub:]))
        first_whole = cb + bsize
    if ce > first_whole:
        parts.append(_Range(first_whole, ce))
    if ue:
        parts.append(_Inline(blocks.get(ce)[0][:ue]))
    return parts


def merge_chunks(chunks: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort virtual-offset chunks ``[begin, end)`` and merge overlapping or touching ones."""
    out: list[tuple[int, int]] = []
    for begin, end in sorted(c for c in chunks if c[1] > c[0]):
        if out and begin <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((begin, end))
    return out


def _coalesce(parts: list[_Range | _Inline]) -> list[_Range | _Inline]:
    out: list[_Range | _Inline] = []
    for part in parts:
        last = out[-1] if out else None
        if isinstance(part, _Inline) and not part.payload:
            continue
        if isinstance(part, _Inline) and isinstance(last, _Inline):
            out[-1] = _Inline(last.payload + part.payload)
        elif isinstance(part, _Range) and isinstance(last, _Range) and part.start == last.end:
            out[-1] = _Range(last.start, part.end)
        else:
            out.append(part)
    return out


def _check(request: TicketRequest, source: Source) -> str:
    stored = source.format.upper()
    wanted = request.format or FORMATS[request.kind][0]
    if wanted != stored:
        asked = f"format={request.format}" if request.format else f"no format (default {wanted})"
        raise UnsupportedFormatError(
            f"this {request.kind} id is stored as {stored} and served as stored (never "
            f"converted), but the request has {asked}: add `&format={stored}` to the query "
            f'string (POST: `"format": "{stored}"` in the body), e.g. samtools view '
            f"'URL?referenceName=chr1&start=0&end=1000&format={stored}'"
        )
    contigs = list(source.contigs())
    for region in request.regions:
        if region.contig != UNPLACED_UNMAPPED and region.contig not in contigs:
            raise NotFoundError(
                f"referenceName {region.contig!r} is not in this file; its references: "
                f"{', '.join(contigs[:10])}{' ...' if len(contigs) > 10 else ''}"
            )
    return stored


def ticket(
    request: TicketRequest, source: Source, *, max_block_bytes: int = DEFAULT_MAX_BLOCK_BYTES
) -> Ticket:
    """The ticket for ``request`` on ``source``.

    The URLs, in order: the header bytes (class ``header``), then for a header-only request
    nothing else; for a whole-file request the rest of the file (class ``body``; it ends with the
    file's own EOF marker); for regions, the data of all regions merged, in file order (class
    ``body``), and the format's EOF marker as a ``data:`` URI (class ``body``), so an empty
    result is still a valid file. Byte ranges longer than ``max_block_bytes`` are split. Every
    URL carries a class, as the spec requires of all-or-none.

    With a plain :class:`Source` the data are whole BGZF blocks/CRAM containers from
    ``byte_ranges``: right when records never straddle blocks (files htslib wrote: samtools,
    bcftools). With a :class:`ChunkSource` (BGZF formats) the edges of every chunk are cut at
    the records' virtual offsets and inlined, so files whose records straddle blocks (``bgzip``,
    Picard/htsjdk) come out whole too, and no record outside the index's chunks is sent.

    Raises:
        UnsupportedFormatError: the requested format (default BAM for reads, VCF for variants)
            is not the stored file's: this server streams the stored bytes and does not convert.
        NotFoundError: a region's ``referenceName`` is not in the file's header.
        AwsError and its kinds: reading an edge block failed (a :class:`ChunkSource` only).

    Source: htsget 1.3 "Response JSON fields", "Response data blocks".
    """
    stored = _check(request, source)
    size = source.size()
    header: list[_Range | _Inline]
    body: list[_Range | _Inline]
    server_read = 0
    if isinstance(source, ChunkSource) and stored != "CRAM":
        blocks = _Blocks(source, size)
        first = source.first_record()
        header = _chunk_parts(0, first, blocks)
        if request.header_only:
            chunks: list[tuple[int, int]] = []
        elif not request.regions:
            chunks = [(first, size << 16)]
        else:
            found = [c for region in request.regions for c in source.chunks(region)]
            chunks = merge_chunks([(max(b, first), e) for b, e in found])
        body = [part for b, e in chunks for part in _chunk_parts(b, e, blocks)]
        server_read = blocks.bytes_read
    else:
        span = source.header_range()
        header = [_Range(span.start, span.end)]
        if request.header_only:
            body = []
        elif not request.regions:
            body = [_Range(span.end, size)]
        else:
            found_ranges = [r for region in request.regions for r in source.byte_ranges(region)]
            # a data block never reaches into the header; clip defensively
            body = list(
                merge_ranges(
                    [_Range(max(r.start, span.end), min(r.end, size)) for r in found_ranges]
                )
            )
    url = source.data_url()
    urls: list[dict[str, Any]] = []
    referenced = 0
    for cls, parts in (("header", header), ("body", body)):
        for part in _coalesce(parts):
            if isinstance(part, _Inline):
                urls.append({"url": data_uri(bgzf_compress(part.payload), stored), "class": cls})
                continue
            for piece in _split(part, max_block_bytes):
                urls.append({"url": url, "headers": range_header(piece), "class": cls})
                referenced += piece.end - piece.start
    if request.regions and not request.header_only and source.eof:
        urls.append({"url": data_uri(source.eof, stored), "class": "body"})
    return Ticket(
        body={"htsget": {"format": stored, "urls": urls}},
        bytes_referenced=referenced,
        file_size=size,
        server_bytes_read=server_read,
    )


def service_info(
    kind: Kind,
    *,
    url: str,
    version: str,
    formats: Sequence[str] | None = None,
    service_id: str = "org.omics-toolkit.htsget",
    name: str = "omics-toolkit htsget",
    organization: str = "omics-toolkit",
) -> dict[str, Any]:
    """The ``/{kind}/service-info`` document: GA4GH service-info with the ``htsget`` object.

    Args:
        kind: ``"reads"`` or ``"variants"``.
        url: where the organization (here: this server) is reached, the required
            ``organization.url``.
        version: the serving software's version.
        formats: the formats served (default both of the endpoint's).

    ``fieldsParameterEffective`` and ``tagsParametersEffective`` are false: records come back
    whole, as stored.

    Source: htsget 1.3 "GA4GH service-info"; GA4GH service-info 1.0 ``Service`` (required: id,
    name, type {group, artifact, version}, organization {name, url}, version).
    """
    return {
        "id": f"{service_id}.{kind}",
        "name": f"{name} ({kind})",
        "type": {"group": "org.ga4gh", "artifact": "htsget", "version": HTSGET_VERSION},
        "organization": {"name": organization, "url": url},
        "version": version,
        "htsget": {
            "datatype": kind,
            "formats": list(formats or FORMATS[kind]),
            "fieldsParameterEffective": False,
            "tagsParametersEffective": False,
        },
    }
