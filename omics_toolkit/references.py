"""Reference FASTA checks before anything is created, and renamed copies (``--rename-contigs``).

A reference whose sequence names break the SAM or VCF rules imports into HealthOmics without a
complaint, and the first sample then fails minutes later in variant calling (bcftools refuses a
``##contig=<ID=...>`` header line whose ID holds a comma). :func:`check_fasta` reads the FASTA
once, streaming (plain, gzip or bgzip; no sequence is kept in memory), and lists every problem:

- names (the first whitespace-separated word of a ``>`` header, as samtools, bwa and GATK take it)
  that do not match SAM's reference-name rule (SAM v1 spec section 1.2.1 "Character set
  restrictions": ``[0-9A-Za-z!#$%&+./:;?@^_|~-][0-9A-Za-z!#$%&*+./:;=?@^_|~-]*``), which VCF 4.3
  section 1.4.7 adopts for contig IDs (so no ``,``, ``<``, ``>``, quotes, brackets, backslash);
  duplicate names; headers without a name;
- content: text before the first ``>``, empty sequences, characters that are not IUPAC nucleotide
  codes (``ACGTURYSWKMBDHVN``, either case), Windows line endings (``\\r\\n``), lines of a
  sequence of unequal length (``samtools faidx``: "Different line length in sequence").

Name problems can be fixed by renaming (:func:`auto_mapping`, :func:`read_mapping`,
:func:`write_renamed`); content problems need a corrected file. HealthOmics' own reference import
documents the FASTA extensions it accepts (``.fasta .fa .fas .fsa .faa .fna .ffn .frn .mpfa .seq
.txt``, and their bgzip versions; user guide "Creating a HealthOmics reference store"): another
extension or plain gzip is a warning. It publishes no limit on name length or contig count.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from omics_toolkit.errors import UserError

#: SAM v1 section 1.2.1 reference sequence names; VCF 4.3 section 1.4.7 contig IDs.
NAME_RE = re.compile(r"[0-9A-Za-z!#$%&+./:;?@^_|~-][0-9A-Za-z!#$%&*+./:;=?@^_|~-]*")
_NAME_CHARS = frozenset(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&*+./:;=?@^_|~-"
)
#: IUPAC nucleotide codes (NC-IUB 1984), either case, U included.
NUCLEOTIDES = b"ACGTURYSWKMBDHVNacgturyswkmbdhvn"
#: FASTA extensions HealthOmics reference stores accept, each also bgzipped (user guide,
#: "Creating a HealthOmics reference store").
HEALTHOMICS_FASTA_SUFFIXES = (
    ".fasta",
    ".fa",
    ".fas",
    ".fsa",
    ".faa",
    ".fna",
    ".ffn",
    ".frn",
    ".mpfa",
    ".seq",
    ".txt",
)
#: NCBI's ``gi|<number>|<database>|<accession>|<locus>`` FASTA defline (NCBI "FASTA format"
#: help: database identifiers ``ref``, ``gb``, ``emb``, ``dbj``): the accession becomes the name.
_NCBI_GI = re.compile(r"^gi\|\d+\|(?:ref|gb|emb|dbj)\|([^|]+)\|")
#: At most this many offending names are listed in one error.
MAX_LISTED = 20
_CHUNK = 1 << 20


class Readable(Protocol):
    """Anything with ``read(n) -> bytes``: a file, a gzip stream, botocore's StreamingBody."""

    def read(self, n: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a reference FASTA.

    ``name`` is the sequence name (``None`` for the file as a whole); ``renamable`` says whether
    ``--rename-contigs`` fixes it.
    """

    name: str | None
    reason: str
    renamable: bool = False


@dataclass
class FastaCheck:
    """What :func:`check_fasta` found: names and lengths (bases) in file order, problems,
    warnings and the compression (``none``, ``gzip`` or ``bgzip``)."""

    source: str
    names: list[str] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    compression: str = "none"

    @property
    def bad_names(self) -> list[Problem]:
        """The problems ``--rename-contigs`` fixes (invalid names)."""
        return [p for p in self.problems if p.renamable]

    @property
    def content_problems(self) -> list[Problem]:
        """The problems only a corrected file fixes."""
        return [p for p in self.problems if not p.renamable]


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid SAM reference name / VCF contig ID, or ``None`` if it is.

    Rule: SAM v1 section 1.2.1 (``[0-9A-Za-z!#$%&+./:;?@^_|~-][0-9A-Za-z!#$%&*+./:;=?@^_|~-]*``),
    adopted by VCF 4.3 section 1.4.7 for ``##contig`` IDs.
    """
    if NAME_RE.fullmatch(name):
        return None
    reasons = []
    if "," in name:
        reasons.append("has ',' (VCF contig IDs may not hold commas: bcftools rejects the header)")
    angle = sorted({c for c in name if c in "<>"})
    if angle:
        reasons.append(f"has {' '.join(repr(c) for c in angle)} (breaks ##contig=<ID=...> lines)")
    if name[:1] in ("*", "="):
        reasons.append(f"starts with {name[0]!r}")
    others = sorted({c for c in name if c not in _NAME_CHARS and c not in ",<>"})
    if others:
        shown = " ".join(repr(c) if c.isprintable() else f"U+{ord(c):04X}" for c in others)
        reasons.append(f"has {shown} (outside the SAM/VCF name characters)")
    return "; ".join(reasons) or "not a valid SAM/VCF name"


def detect_compression(head: bytes) -> str:
    """``bgzip``, ``gzip`` or ``none`` from a file's first 18 bytes (RFC 1952; SAM v1 section
    4.1: a BGZF block is a gzip member with an extra subfield ``BC``)."""
    if head[:2] != b"\x1f\x8b":
        return "none"
    if len(head) >= 16 and head[3] & 4 and head[12:14] == b"BC":
        return "bgzip"
    return "gzip"


def _lines(reader: Readable, source: str = "the reference", raw: object = None) -> Iterator[bytes]:
    """Lines of ``reader`` (each with its ``\\n``, the last maybe without), read 1 MiB at a time.

    Raises:
        UserError: the gzip stream ends early (``EOFError``), or its data is corrupt
            (``gzip.BadGzipFile``, ``zlib.error``; the message gives the compressed byte
            offset reached, from ``raw.tell()``).
    """
    import gzip
    import zlib

    rest = b""
    while True:
        try:
            chunk = reader.read(_CHUNK)
        except EOFError as exc:
            raise UserError(
                f"reference {source} is truncated (the gzip stream ends early: {exc}); "
                "copy or download it again"
            ) from exc
        except (gzip.BadGzipFile, zlib.error) as exc:
            tell = getattr(raw, "tell", None)
            where = ""
            if tell is not None:
                try:
                    where = f" at ~byte {tell()}"
                except (OSError, ValueError):
                    where = ""
            raise UserError(
                f"reference {source}: corrupt gzip data{where} ({exc}); copy or download it "
                "again, or check it with `gzip -t`"
            ) from exc
        if not chunk:
            break
        data = rest + chunk
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            yield data[start : end + 1]
            start = end + 1
        rest = data[start:]
    if rest:
        yield rest


Opener = Callable[[], BinaryIO]


def _decompressed(raw: BinaryIO) -> tuple[Readable, str]:
    import gzip

    peek = getattr(raw, "peek", None)
    head = peek(18)[:18] if peek else b""
    if not head:  # not peekable (a network body): wrap so the first bytes can be looked at
        import io

        buffered = io.BufferedReader(_RawAdapter(raw), _CHUNK)  # type: ignore[arg-type]
        head = buffered.peek(18)[:18]
        raw = buffered  # type: ignore[assignment]
    compression = detect_compression(head)
    if compression == "none":
        return raw, compression
    return gzip.GzipFile(fileobj=raw), compression


class _RawAdapter:
    """A ``readinto`` face for objects that only ``read`` (botocore's StreamingBody)."""

    def __init__(self, inner: Readable) -> None:
        self.inner = inner
        self.closed = False

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:
        data = self.inner.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.closed = True

    def flush(self) -> None:
        pass


def check_fasta(open_source: Opener, source: str) -> FastaCheck:
    """Check a reference FASTA (see the module docstring for every rule), streaming.

    Args:
        open_source: returns a fresh binary stream of the file (compressed or not).
        source: the path or ``s3://`` URI, for messages and the extension check.

    Returns:
        A :class:`FastaCheck`; ``problems`` is empty when the file can be imported as it is.

    Raises:
        UserError: a gzip stream that ends early ("truncated") or holds corrupt data (with the
            compressed byte offset reached).
    """
    result = FastaCheck(source=source)
    lower = source.lower()
    stem = lower.removesuffix(".gz").removesuffix(".bgz")
    if not stem.endswith(HEALTHOMICS_FASTA_SUFFIXES):
        result.warnings.append(
            f"{source}: HealthOmics reference stores document the extensions "
            f"{' '.join(HEALTHOMICS_FASTA_SUFFIXES)} (bgzipped or not); rename the file if its "
            "import is refused"
        )
    problems = result.problems
    seen: dict[str, int] = {}
    crlf_line = 0
    name: str | None = None
    width = 0  # length of the current sequence's first line
    ended_at = 0  # line number of a short line (the sequence's last, unless more follows)
    wrapped_reported = False
    bad_chars_reported: set[str] = set()
    with open_source() as raw:
        reader, result.compression = _decompressed(raw)
        if result.compression == "gzip":
            result.warnings.append(
                f"{source}: plain gzip; HealthOmics documents bgzip-compressed references and "
                "samtools faidx refuses plain gzip: recompress with `gunzip -c | bgzip`"
            )
        lineno = 0
        for lineno, raw_line in enumerate(_lines(reader, source, raw), 1):  # noqa: B007
            line = raw_line.rstrip(b"\n")
            if line.endswith(b"\r"):
                line = line[:-1]
                crlf_line = crlf_line or lineno
            if line.startswith(b">"):
                words = line[1:].split()
                if name and result.lengths[-1] == 0:
                    problems.append(Problem(name, "empty sequence (no bases)"))
                name = words[0].decode("utf-8", "replace") if words else ""
                width, ended_at, wrapped_reported = 0, 0, False
                result.names.append(name)
                result.lengths.append(0)
                if not name:
                    problems.append(Problem(None, f"line {lineno}: '>' header without a name"))
                    continue
                if name in seen:
                    problems.append(
                        Problem(
                            name,
                            f"duplicate name (sequences {seen[name]} and {len(result.names)}): "
                            "rename one in the file",
                        )
                    )
                else:
                    seen[name] = len(result.names)
                    why = name_problem(name)
                    if why:
                        problems.append(Problem(name, why, renamable=True))
                continue
            if name is None:
                if line.strip():
                    problems.append(
                        Problem(
                            None,
                            f"line {lineno}: text before the first '>' header "
                            "(not a FASTA file, or its first header is missing)",
                        )
                    )
                    name = ""  # report once, then keep reading
                    result.names.append(name)
                    result.lengths.append(0)
                continue
            length = len(line)
            if length == 0:
                ended_at = ended_at or lineno
                continue
            if ended_at and not wrapped_reported:
                problems.append(
                    Problem(
                        name or None,
                        f"line {ended_at}: a shorter or empty line inside the sequence (every "
                        "line but the last must have the same length, as samtools faidx "
                        "requires): rewrap it, e.g. `seqkit seq -w 60`",
                    )
                )
                wrapped_reported = True
            if width == 0:
                width = length
            elif length > width and not wrapped_reported:
                problems.append(
                    Problem(
                        name or None,
                        f"line {lineno}: longer than the sequence's first line ({length} > "
                        f"{width} bases; samtools faidx requires equal lines): rewrap it",
                    )
                )
                wrapped_reported = True
            elif length < width:
                ended_at = lineno
            bad = line.translate(None, NUCLEOTIDES)
            if bad:
                chars = "".join(sorted(set(bad.decode("latin-1"))))
                key = f"{name}\x00{chars}"
                if key not in bad_chars_reported:
                    bad_chars_reported.add(key)
                    shown = " ".join(repr(c) for c in chars[:10])
                    problems.append(
                        Problem(
                            name or None,
                            f"line {lineno}: {shown} not IUPAC nucleotide codes "
                            "(ACGTURYSWKMBDHVN); is this a protein FASTA?",
                        )
                    )
            result.lengths[-1] += length
    if name and result.lengths[-1] == 0:
        problems.append(Problem(name, "empty sequence (no bases)"))
    if not result.names:
        problems.append(Problem(None, "no '>' header at all: not a FASTA file, or it is empty"))
    if crlf_line:
        problems.append(
            Problem(
                None,
                f"Windows line endings (\\r\\n, first at line {crlf_line}): convert with "
                "`dos2unix` or `sed -i 's/\\r$//'`",
            )
        )
    return result


def auto_name(name: str) -> str:
    """The automatic new name of an invalid ``name`` (``--rename-contigs auto``).

    NCBI ``gi|<n>|ref|<ACCESSION>|...`` (also ``gb``, ``emb``, ``dbj``) becomes ``ACCESSION``;
    any other name keeps its text with every character outside the SAM/VCF set replaced by
    ``_`` (a leading ``*`` or ``=`` too).
    """
    match = _NCBI_GI.match(name)
    if match and not name_problem(match.group(1)):
        return match.group(1)
    fixed = "".join(c if c in _NAME_CHARS else "_" for c in name)
    if fixed[:1] in ("*", "="):
        fixed = "_" + fixed[1:]
    return fixed or "_"


def _finish_mapping(check: FastaCheck, mapping: dict[str, str], origin: str) -> dict[str, str]:
    """Check a complete mapping (every invalid name mapped, new names valid and unique)."""
    errors = []
    unmapped = [p.name for p in check.bad_names if p.name not in mapping]
    if unmapped:
        errors.append(f"not mapped: {', '.join(repr(n) for n in unmapped[:MAX_LISTED])}")
    for old, new in mapping.items():
        why = name_problem(new)
        if why:
            errors.append(f"{old!r} -> {new!r}: the new name {why}")
    final: dict[str, list[str]] = {}
    for old in dict.fromkeys(check.names):
        final.setdefault(mapping.get(old, old), []).append(old)
    for new, olds in final.items():
        if len(olds) > 1:
            errors.append(
                f"{' and '.join(repr(o) for o in olds)} would all be named {new!r}: "
                "give them distinct names with --rename-contigs MAPPING.tsv"
            )
    if errors:
        raise UserError(
            f"{origin} cannot rename the contigs of {check.source}: " + "; ".join(errors)
        )
    return {old: new for old, new in mapping.items() if old != new}


def auto_mapping(check: FastaCheck) -> dict[str, str]:
    """``{original: new}`` for every invalid name, by :func:`auto_name`.

    Raises:
        UserError: two sequences would get the same name (listed).
    """
    mapping = {p.name: auto_name(p.name) for p in check.bad_names if p.name}
    return _finish_mapping(check, mapping, "--rename-contigs auto")


def read_mapping(path: Path, check: FastaCheck) -> dict[str, str]:
    """``{original: new}`` from a two-column TSV (original name, new name; ``#`` lines and blank
    lines ignored), checked against the FASTA.

    Raises:
        UserError: the file is missing; a line without exactly two columns; an original name
            twice or not in the FASTA; an invalid name left unmapped; a new name invalid or
            shared by two sequences.
    """
    if not path.is_file():
        raise UserError(f"--rename-contigs {path}: no such file (give auto or a two-column TSV)")
    known = set(check.names)
    mapping: dict[str, str] = {}
    errors = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t") if "\t" in line else line.split()
        cols = [c.strip() for c in cols]
        if len(cols) != 2 or not all(cols):
            errors.append(f"line {lineno}: expected 2 columns (original<TAB>new), got {len(cols)}")
            continue
        old, new = cols
        if old in mapping:
            errors.append(f"line {lineno}: {old!r} mapped twice")
        elif old not in known:
            errors.append(f"line {lineno}: {old!r} is not a sequence name of the FASTA")
        else:
            mapping[old] = new
    if errors:
        raise UserError(f"--rename-contigs {path}: " + "; ".join(errors[:MAX_LISTED]))
    return _finish_mapping(check, mapping, f"--rename-contigs {path}")


def write_renamed(
    open_source: Opener, mapping: dict[str, str], sink: Callable[[bytes], object]
) -> str:
    """Stream the FASTA to ``sink`` uncompressed, each header of a renamed sequence replaced by
    ``>NEW`` (its description dropped: the mapping keeps the original); other lines unchanged.

    Returns:
        The sha256 (hex) of the bytes written (it names the renamed copy).

    Raises:
        UserError: a truncated or corrupt gzip stream (see :func:`check_fasta`).
    """
    digest = hashlib.sha256()
    with open_source() as raw:
        reader, _ = _decompressed(raw)
        for line in _lines(reader, "the reference", raw):
            if line.startswith(b">"):
                words = line[1:].split()
                old = words[0].decode("utf-8", "replace") if words else ""
                if old in mapping:
                    line = b">" + mapping[old].encode() + b"\n"
            digest.update(line)
            sink(line)
    return digest.hexdigest()


def renamed_digest(open_source: Opener, mapping: dict[str, str]) -> str:
    """sha256 (hex) of what :func:`write_renamed` writes, without writing it (``plan``)."""
    return write_renamed(open_source, mapping, lambda _data: None)


def mapping_tsv(mapping: dict[str, str]) -> str:
    """The mapping as kept with the deployment: ``#original<TAB>renamed`` then one row per
    renamed sequence, in the FASTA's order (readable back by :func:`read_mapping`)."""
    return "#original\trenamed\n" + "".join(f"{o}\t{n}\n" for o, n in mapping.items())


def parse_mapping_tsv(text: str) -> dict[str, str]:
    """``{original: renamed}`` from :func:`mapping_tsv`'s text."""
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return {r[0]: r[1] for r in rows if len(r) == 2}


def describe_problems(check: FastaCheck, rename_hint: bool) -> str:
    """One message listing every problem (at most :data:`MAX_LISTED`) and what to do."""
    lines = []
    bad, content = check.bad_names, check.content_problems
    if bad:
        lines.append(
            f"{len(bad)} sequence name(s) are invalid in SAM/VCF (SAM v1 1.2.1, VCF 4.3 1.4.7), "
            "so variant calling would fail on them:"
        )
        lines += [f"  {p.name}: {p.reason}" for p in bad[:MAX_LISTED]]
        if len(bad) > MAX_LISTED:
            lines.append(f"  ... and {len(bad) - MAX_LISTED} more")
    if content:
        lines.append(f"{len(content)} problem(s) in the file itself:")
        lines += [f"  {p.name + ': ' if p.name else ''}{p.reason}" for p in content[:MAX_LISTED]]
        if len(content) > MAX_LISTED:
            lines.append(f"  ... and {len(content) - MAX_LISTED} more")
    todo = []
    if content:
        todo.append("correct the file")
    if bad and rename_hint:
        todo.append(
            "pass --rename-contigs auto (NCBI gi|...|ref|ACCESSION|... names become ACCESSION, "
            "others get '_' for each forbidden character) or --rename-contigs MAPPING.tsv "
            "(two columns: original name, new name); a renamed copy is imported, your file is "
            "not changed, and `omics-toolkit contigs` shows the mapping"
        )
    head = f"reference {check.source} cannot be imported as it is"
    return f"{head}:\n" + "\n".join(lines) + ("\nTo fix: " + "; or ".join(todo) if todo else "")
