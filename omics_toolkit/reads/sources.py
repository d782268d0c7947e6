"""htsget sources over stored files: an indexed BAM, CRAM or bgzipped VCF read by range.

:class:`IndexedSource` gives :mod:`omics_toolkit.reads.htsget` what a ticket needs (a presigned
URL, the header range, the region's byte ranges or virtual-offset chunks) from the file's index
and header alone; building it reads the whole index and the header range, and a ticket reads
at most the edge BGZF blocks of its chunks (never the records in between).

:func:`deployment_resolver` maps htsget ids to a deployment's files: ``/reads/<id>`` is a read
set id or a sample (its newest aligned BAM or CRAM read set, read through the sequence store's
S3 access point); ``/variants/<id>`` is a sample (or execution name): the VCF of its newest
succeeded run in the output bucket.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from omics_toolkit.aws.s3 import presign
from omics_toolkit.reads.htsget import (
    CRAM3_EOF,
    UNPLACED_UNMAPPED,
    Kind,
    NotFoundError,
    PermissionDeniedError,
    Region,
    Source,
)
from omics_toolkit.reads.indexes import (
    BGZF_EOF,
    ByteRange,
    HtsIndex,
    byte_ranges,
    header_range,
    region_chunks,
)
from omics_toolkit.reads.indexes import Region as IndexRegion
from omics_toolkit.reads.ranged import RangedObject
from omics_toolkit.reads.view import data_kind, load_source


class IndexedSource:
    """An htsget :class:`~omics_toolkit.reads.htsget.ChunkSource` (BAM, VCF.gz) or plain
    :class:`~omics_toolkit.reads.htsget.Source` (CRAM) over a ranged object and its index.

    Args:
        data: the data file (its ``name`` ends in ``.bam``, ``.cram`` or ``.vcf.gz``).
        index: its index (``.bai``/``.csi``, ``.crai``, ``.tbi``/``.csi``).
        url: a URL answering GET with ``Range`` for the data file (an S3 presigned URL).

    Raises:
        IndexFormatError: the index is damaged or not the data file's.
        AwsError: reading the index or the header failed.
    """

    def __init__(self, data: RangedObject, index: RangedObject, url: str) -> None:
        self.data = data
        self.url = url
        self.format = data_kind(data.name)
        self.eof = CRAM3_EOF if self.format == "CRAM" else BGZF_EOF
        with tempfile.TemporaryDirectory(prefix="omics-htsget-") as tmp:
            _, self.index, _ = load_source(data, index, Path(tmp))

    def data_url(self) -> str:
        return self.url

    def contigs(self) -> Sequence[str]:
        return list(self.index.names or [])

    def size(self) -> int:
        return self.data.size

    def header_range(self) -> ByteRange:
        return header_range(self.index, self.data.size)

    def byte_ranges(self, region: Region) -> Sequence[ByteRange]:
        if region.contig == UNPLACED_UNMAPPED:
            return self._unplaced()
        return byte_ranges(self.index, _index_region(region), self.data.size)

    # ChunkSource (BGZF formats): virtual offsets, so tickets cut edge blocks exactly

    def first_record(self) -> int:
        """The smallest chunk start of the index: where the first placed record starts."""
        assert isinstance(self.index, HtsIndex)
        firsts = [c.beg for ref in self.index.refs for cs in ref.bins.values() for c in cs]
        if firsts:
            return min(firsts)
        return header_range(self.index, self.data.size).end << 16

    def chunks(self, region: Region) -> Sequence[tuple[int, int]]:
        assert isinstance(self.index, HtsIndex)
        if region.contig == UNPLACED_UNMAPPED:
            return [(r.start << 16, r.end << 16) for r in self._unplaced()]
        return [(c.beg, c.end) for c in region_chunks(self.index, _index_region(region))]

    def read(self, start: int, end: int) -> bytes:
        return self.data.read(start, min(end, self.data.size))

    def _unplaced(self) -> list[ByteRange]:
        """BAM: the unplaced unmapped reads follow every placed read (SAMv1 §5.2: sorted files
        end with them); from the end of the last chunk to the EOF block."""
        if self.format != "BAM" or not isinstance(self.index, HtsIndex):
            return []
        if not self.index.n_no_coor:
            return []
        ends = [c.end for ref in self.index.refs for cs in ref.bins.values() for c in cs]
        start = (max(ends) >> 16) if ends else header_range(self.index, self.data.size).end
        stop = self.data.size - len(BGZF_EOF)
        return [ByteRange(start, stop)] if stop > start else []


def _index_region(region: Region) -> IndexRegion:
    return IndexRegion(region.contig, region.start, region.end)


#: Seconds the presigned URLs in a ticket stay valid (the client fetches them right away).
TICKET_URL_SECONDS = 3600


def deployment_resolver(
    *,
    omics: Any,
    s3: Any,
    sfn: Any,
    store_id: str,
    state_machine_arn: str,
    expires_in: int = TICKET_URL_SECONDS,
) -> Callable[[Kind, str], Source]:
    """``resolver(kind, id)`` for :func:`omics_toolkit.reads.serve.create_app` on a deployment.

    ``reads``: a read set id or a sample -> its aligned read set through the S3 access point
    (ListReadSets/GetReadSetMetadata, then GetObject ranges of the index and header);
    ``variants``: a sample or execution name -> its newest succeeded run's VCF and index in
    the output bucket (ListExecutions/DescribeExecution).

    Each call reads the index again, so a re-imported read set or a new run is served at once.

    Raises (from the resolver):
        NotFoundError: no such read set, sample or result.
        PermissionDeniedError: the read set is ARCHIVED (the message names ``reads activate``).
    """
    from omics_toolkit.errors import ReadSetArchivedError, UserError
    from omics_toolkit.pipeline.results import sample_results
    from omics_toolkit.reads.locate import read_set_objects, resolve
    from omics_toolkit.reads.ranged import S3Object

    def resolver(kind: Kind, ident: str) -> Source:
        try:
            if kind == "reads":
                rs = resolve(omics, store_id, ident, aligned=True)
                data, index = read_set_objects(s3, rs)
                url = presign(s3, data.bucket, data.key, expires_in)
                return IndexedSource(data, index, url)
            results = sample_results(sfn, state_machine_arn, ident)
            files = {f.name: f for f in results.files}
            vcf, tbi = files["vcf"], files["vcf_index"]
            data = S3Object(s3, vcf.bucket, vcf.key)
            index = S3Object(s3, tbi.bucket, tbi.key)
            return IndexedSource(data, index, presign(s3, vcf.bucket, vcf.key, expires_in))
        except ReadSetArchivedError as exc:
            raise PermissionDeniedError(str(exc)) from exc
        except UserError as exc:
            raise NotFoundError(str(exc)) from exc

    return resolver
