"""One sample's variant summary as a self-contained HTML page (``omics-toolkit report``).

Every number comes from SQL run through Athena, like the rest of the toolkit: the per-sample
summary of ``queries/sample_summary.sql`` and the report's own queries in ``queries/report/``
(contig counts, QUAL and FORMAT DP histograms bucketed in SQL, ClinVar significance joined with
the ``annotations_clinvar`` table). Only aggregates reach Python, never one row per variant.

:func:`collect` gathers the numbers through a ``run(sql_name, params) -> DataFrame`` callable
(:func:`athena_runner` in the CLI, a fake in unit tests); :func:`render_html` turns them into one
HTML page with PNG figures embedded as ``data:`` URIs and inline CSS, so the page opens offline.

Figures are drawn with matplotlib's object-oriented API on the Agg canvas
(:class:`matplotlib.figure.Figure`, never ``pyplot``): no global backend is switched in the
caller's process (a notebook keeps its own) and no figure is left registered anywhere.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from omics_toolkit.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from omics_toolkit.aws.session import AwsContext
    from omics_toolkit.config import Settings

#: Runs a query file (name relative to ``queries/``) with named parameters; returns its rows.
QueryRunner = Callable[[str, dict[str, Any]], "pd.DataFrame"]

#: Number of bins of the QUAL histogram, and the largest number of the FORMAT DP histogram.
HISTOGRAM_BINS = 30
#: Histograms end at this quantile (nearest rank); the few calls above it are counted apart, so
#: that an outlier (a mitochondrial call at 3,000x) does not squash every other bar into one.
UPPER_FRACTION = 0.975

CLINVAR_IMPORT_HINT = "run `omics-toolkit annotations import clinvar FILE`"

#: Numeric CLNSIG codes of older ClinVar VCFs (their ``##INFO=<ID=CLNSIG`` header).
CLNSIG_CODES = {
    "0": "Uncertain significance",
    "1": "not provided",
    "2": "Benign",
    "3": "Likely benign",
    "4": "Likely pathogenic",
    "5": "Pathogenic",
    "6": "drug response",
    "7": "histocompatibility",
    "255": "other",
}

# Okabe-Ito colours (distinguishable with colour-vision deficiencies).
_BLUE, _ORANGE, _GREEN, _VERMILION = "#0072B2", "#E69F00", "#009E73", "#D55E00"


@dataclass(frozen=True)
class Summary:
    """The sample's row of ``queries/sample_summary.sql`` (definitions are that file's).

    Attributes:
        variants: rows of the sample whose GT carries an ALT allele (an allele index > 0).
        snvs: variants with a one-base REF whose carried ALT alleles are single bases.
        indels: variants carrying an ALT allele of another length than REF.
        het: fully called GT with two or more different allele indexes (0/1, 1/2).
        hom_alt: fully called GT with one allele index, > 0 (1/1, 2/2, haploid 1).
        het_hom_ratio: ``het / hom_alt``; ``None`` without hom-alt calls.
        ti_tv: transitions (A<->G, C<->T) / transversions of the sample's biallelic SNVs;
            ``None`` without transversions.
        mean_qual: mean QUAL (phred) of the variants; ``None`` when none has a QUAL.
        mean_depth: mean FORMAT DP (reads) of the variants; ``None`` when none has a DP.
        records: every row of the sample, 0/0 and ./. included (``None`` if not returned).
        transitions: biallelic SNV variants with a transition (``None`` if not returned).
        transversions: biallelic SNV variants with a transversion (``None`` if not returned).
    """

    variants: int
    snvs: int
    indels: int
    het: int
    hom_alt: int
    het_hom_ratio: float | None
    ti_tv: float | None
    mean_qual: float | None
    mean_depth: float | None
    records: int | None = None
    transitions: int | None = None
    transversions: int | None = None


@dataclass(frozen=True)
class Histogram:
    """Counts of calls in contiguous equal-width bins (empty bins included).

    Attributes:
        edges: ``len(counts) + 1`` ascending bin edges; bin ``i`` is ``[edges[i], edges[i+1])``
            (the last bin of a QUAL histogram also holds its highest value).
        counts: calls per bin.
        missing: calls without a value (QUAL ``.``, no FORMAT DP); not in any bin.
        above: calls above the binned range (beyond the ``UPPER_FRACTION`` quantile).
        above_range: ``(start, end)`` of the values counted in ``above``, else ``None``.
        upper_fraction: the quantile (nearest rank) where the binned range ends.
    """

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    missing: int = 0
    above: int = 0
    above_range: tuple[float, float] | None = None
    upper_fraction: float = UPPER_FRACTION

    @property
    def total(self) -> int:
        """Calls in the bins (``missing`` excluded)."""
        return sum(self.counts)


@dataclass(frozen=True)
class Ploidy:
    """The sample's ploidy: what the calling was asked for, and what its genotypes have.

    Attributes:
        requested: the run's ``ploidy`` parameter (GetRun ``parameters``), or the ``ploidy``
            setting when no run was found; ``None`` when neither is known.
        source: where ``requested`` comes from, e.g. ``"HealthOmics run 1234567"`` or
            ``"setting (no pipeline run of the sample found)"``.
        called: ``(alleles per GT, rows)`` from ``queries/report/ploidy.sql``, ascending
            (``((1, 52),)`` for a haploid sample).
    """

    requested: int | None
    source: str
    called: tuple[tuple[int, int], ...] = ()

    @property
    def label(self) -> str:
        """``"1 (haploid)"``, ``"2 (diploid)"``, ``"4 (tetraploid)"``... of ``requested``."""
        if self.requested is None:
            return "not known"
        names = {1: "haploid", 2: "diploid", 3: "triploid", 4: "tetraploid", 6: "hexaploid"}
        name = names.get(self.requested, f"{self.requested}-ploid")
        return f"{self.requested} ({name})"


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows; built by :func:`collect`.

    Attributes:
        sample: sample id (the ``sampleid`` column).
        deployment: deployment name (Glue database and Athena workgroup derive from it).
        variant_backend: where the variants live, when known (``settings.variant_backend``).
        generated_at: when the numbers were collected (UTC).
        version: omics-toolkit version.
        summary: the per-sample summary row.
        contigs: ``(contig name, calls carrying an ALT allele)`` in natural contig order.
        qual: QUAL histogram (phred) of the calls carrying an ALT allele.
        depth: FORMAT DP histogram (reads) of the calls carrying an ALT allele.
        clinvar: ``(CLNSIG value or None, matched calls)``, most frequent first; ``None`` when
            the ``annotations_clinvar`` table does not exist.
        ploidy: the ploidy asked for and the genotypes' ploidy (``None``: not collected).
    """

    sample: str
    deployment: str
    variant_backend: str | None
    generated_at: dt.datetime
    version: str
    summary: Summary
    contigs: tuple[tuple[str, int], ...]
    qual: Histogram
    depth: Histogram
    clinvar: tuple[tuple[str | None, int], ...] | None
    ploidy: Ploidy | None = None

    @property
    def alt_calls(self) -> int:
        """Calls carrying an ALT allele (the population of every figure)."""
        return sum(n for _, n in self.contigs)


# --------------------------------------------------------------------------- collect


def athena_runner(ctx: AwsContext, settings: Settings) -> QueryRunner:
    """A :data:`QueryRunner` over the deployment's Athena workgroup and Glue database.

    Each call loads ``queries/<name>.sql``, binds its ``:name`` parameters (coerced to the
    declared ``-- @param`` types) and runs it with :func:`omics_toolkit.athena.run_query`.
    """
    from omics_toolkit.athena import bind_named, load_query, run_query

    def run(name: str, params: dict[str, Any]) -> pd.DataFrame:
        qf = load_query(name)
        sql, values = bind_named(qf.sql, params, qf.params)
        return run_query(ctx, settings, sql, values)

    return run


def run_ploidy(ctx: AwsContext, settings: Settings, sample: str) -> Ploidy:
    """The ploidy the sample's newest pipeline execution ran with.

    Finds the execution of the deployment's state machine for ``sample`` (ListExecutions,
    DescribeExecution, GetExecutionHistory), then its HealthOmics run's ``ploidy`` parameter
    (GetRun ``parameters``). When there is no such execution, run or parameter (e.g. variants
    imported by hand, or a workflow without a ploidy input), the ``ploidy`` setting is given with
    that reason as its source. Never raises for a missing deployment or run.

    Returns:
        A :class:`Ploidy` without ``called`` (that is :func:`collect`'s query).
    """
    from omics_toolkit.aws.errors import translate
    from omics_toolkit.aws.stepfunctions import deployment_state_machine_arn
    from omics_toolkit.errors import AwsError
    from omics_toolkit.identity import Names
    from omics_toolkit.pipeline.status import describe, find_execution

    names = Names(settings.deployment, ctx.account_id, ctx.region)
    arn = deployment_state_machine_arn(ctx, names.state_machine)
    try:
        sfn = ctx.client("stepfunctions")
        item = find_execution(sfn, arn, sample)
        run_id = describe(sfn, item["executionArn"], detail=True).run_id
        if run_id:
            with translate("omics", "GetRun"):
                parameters = ctx.client("omics").get_run(id=run_id).get("parameters") or {}
            if "ploidy" in parameters:
                return Ploidy(int(parameters["ploidy"]), f"HealthOmics run {run_id}")
            reason = f"run {run_id} has no ploidy parameter"
        else:
            reason = f"execution {item['name']} started no HealthOmics run"
    except UserError:  # no deployment, state machine or execution of the sample
        reason = "no pipeline run of the sample found"
    except AwsError as exc:
        reason = (
            f"deployment {settings.deployment} has no pipeline"
            if exc.code == "StateMachineDoesNotExist"
            else f"its run could not be read: {exc.code}"
        )
    return Ploidy(settings.ploidy, f"setting ({reason})")


def collect(
    sample: str,
    run: QueryRunner,
    *,
    deployment: str = "",
    variant_backend: str | None = None,
    ploidy: Ploidy | None = None,
    bins: int = HISTOGRAM_BINS,
    upper_fraction: float = UPPER_FRACTION,
    now: dt.datetime | None = None,
) -> ReportData:
    """Gather the report's numbers for one sample with five small aggregate queries.

    Queries: ``sample_summary`` (all samples, filtered here), ``report/contig_counts``,
    ``report/qual_histogram``, ``report/depth_histogram``, ``report/clinvar_significance`` and,
    with ``ploidy``, ``report/ploidy``.

    Args:
        sample: sample id as in the ``sampleid`` column.
        run: runs a query file with named parameters (see :func:`athena_runner`).
        deployment: shown in the header.
        variant_backend: shown in the header when not ``None``.
        ploidy: the ploidy asked for (:func:`run_ploidy`); its ``called`` is filled here from
            ``report/ploidy``. ``None``: no ploidy in the report, that query is not run.
        bins: bins of the QUAL histogram, largest number of bins of the DP histogram.
        upper_fraction: quantile (nearest rank) where the histograms' binned range ends.
        now: the generation time (default: the current UTC time).

    Returns:
        The :class:`ReportData`.

    Raises:
        UserError: the sample has no rows (the message lists the samples present); a query
            failed (Athena's reason), except that a missing ``annotations_clinvar`` table gives
            ``clinvar=None``.
    """
    summaries = run("sample_summary", {})
    rows = summaries[summaries["sampleid"] == sample]
    if rows.empty:
        present = sorted(str(s) for s in summaries["sampleid"].dropna().unique())
        raise UserError(
            f"sample {sample} has no variants; samples present: {', '.join(present) or 'none'}"
        )
    row = rows.iloc[0]
    summary = Summary(
        variants=_int(row["variants"]),
        snvs=_int(row["snvs"]),
        indels=_int(row["indels"]),
        het=_int(row["het"]),
        hom_alt=_int(row["hom_alt"]),
        het_hom_ratio=_float(row["het_hom_ratio"]),
        ti_tv=_float(row["ti_tv"]),
        mean_qual=_float(row["mean_qual"]),
        mean_depth=_float(row["mean_depth"]),
        records=_optional_int(row, "records"),
        transitions=_optional_int(row, "transitions"),
        transversions=_optional_int(row, "transversions"),
    )
    contig_df = run("report/contig_counts", {"sample": sample})
    contigs = sorted(
        ((str(r.contigname), _int(r.variants)) for r in contig_df.itertuples(index=False)),
        key=lambda item: contig_sort_key(item[0]),
    )
    hist_params = {"sample": sample, "bins": bins, "upper_fraction": upper_fraction}
    qual = _histogram(run("report/qual_histogram", hist_params), bins, upper_fraction)
    depth = _histogram(run("report/depth_histogram", hist_params), bins, upper_fraction)
    try:
        clin_df = run("report/clinvar_significance", {"sample": sample})
    except UserError as exc:
        if "TABLE_NOT_FOUND" not in str(exc) or "annotations_clinvar" not in str(exc).lower():
            raise
        clinvar = None
    else:
        clinvar = tuple(
            (None if _missing(r.clnsig) else str(r.clnsig), _int(r.variants))
            for r in clin_df.itertuples(index=False)
        )
    if ploidy is not None:
        called = tuple(
            (_int(r.ploidy), _int(r.calls))
            for r in run("report/ploidy", {"sample": sample}).itertuples(index=False)
        )
        ploidy = replace(ploidy, called=called)
    from omics_toolkit import __version__

    return ReportData(
        sample=sample,
        deployment=deployment,
        variant_backend=variant_backend,
        generated_at=now or dt.datetime.now(dt.UTC),
        version=__version__,
        summary=summary,
        contigs=tuple(contigs),
        qual=qual,
        depth=depth,
        clinvar=clinvar,
        ploidy=ploidy,
    )


def contig_sort_key(name: str) -> tuple[int, int, str]:
    """Natural contig order: 1..22 (with or without ``chr``), X, Y, M/MT, then the rest by name."""
    bare = re.sub(r"^chr", "", name, flags=re.IGNORECASE)
    if bare.isdigit():
        return (0, int(bare), name)
    special = {"X": 1, "Y": 2, "M": 3, "MT": 3}
    if bare.upper() in special:
        return (1, special[bare.upper()], name)
    return (2, 0, name)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN / pandas NA
    except TypeError:  # pd.NA comparison is ambiguous in a boolean context
        return True


def _int(value: Any) -> int:
    return 0 if _missing(value) else int(value)


def _optional_int(row: Any, column: str) -> int | None:
    return None if column not in row.index or _missing(row[column]) else int(row[column])


def _float(value: Any) -> float | None:
    if _missing(value):
        return None
    number = float(value)
    return None if math.isinf(number) else number


def _histogram(df: pd.DataFrame, n_bins: int, upper_fraction: float) -> Histogram:
    """Dense :class:`Histogram` from the sparse rows of a ``report/*_histogram.sql`` query.

    Row ``bin`` NULL counts the calls without a value, ``bin = n_bins`` those above the range.
    """
    missing = above = 0
    above_range = None
    bins: dict[int, tuple[float, float, int]] = {}
    for r in df.itertuples(index=False):
        if _missing(r.bin):
            missing += _int(r.variants)
        elif int(r.bin) >= n_bins:
            above += _int(r.variants)
            above_range = (float(r.bin_start), float(r.bin_end))
        else:
            bins[int(r.bin)] = (float(r.bin_start), float(r.bin_end), _int(r.variants))
    if not bins:
        return Histogram((), (), missing, above, above_range, upper_fraction)
    first_start, first_end, _ = bins[min(bins)]
    width = first_end - first_start
    lo = first_start - min(bins) * width
    last = max(bins)
    edges = tuple(lo + i * width for i in range(last + 2))
    counts = tuple(bins[i][2] if i in bins else 0 for i in range(last + 1))
    return Histogram(edges, counts, missing, above, above_range, upper_fraction)


# --------------------------------------------------------------------------- render


def clnsig_label(value: str | None) -> str:
    """Readable CLNSIG: underscores to spaces, numeric codes of older ClinVar VCFs named.

    ``None`` -> ``"no CLNSIG"``; ``"Likely_benign"`` -> ``"Likely benign"``;
    ``"5|2"`` -> ``"Pathogenic | Benign"``.
    """
    if value is None or value in ("", "."):
        return "no CLNSIG"
    parts = re.split(r"([|,/])", value)
    if all(p in CLNSIG_CODES for p in parts[::2]):
        return "".join(CLNSIG_CODES[p] if i % 2 == 0 else f" {p} " for i, p in enumerate(parts))
    return value.replace("_", " ")


def _fmt(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _png(fig: Any) -> str:
    """Base64 of the figure as PNG (deterministic: no timestamp metadata)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _new_figure(width: float = 7.5, height: float = 3.4) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _bar_figure(
    labels: Sequence[str], values: Sequence[int], xlabel: str, ylabel: str, color: str
) -> str:
    fig, ax = _new_figure(7.5, 3.4 if len(labels) <= 12 else 4.0)
    positions = list(range(len(labels)))
    bars = ax.bar(positions, values, color=color)
    ax.set_xticks(positions, labels, rotation=0 if len(labels) <= 8 else 60, ha="center")
    if len(labels) > 8:
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
    if len(labels) <= 30:
        ax.bar_label(bars, labels=[f"{v:,}" for v in values], fontsize=8, padding=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.margins(y=0.15)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _hbar_figure(labels: Sequence[str], values: Sequence[int], xlabel: str, color: str) -> str:
    fig, ax = _new_figure(7.5, max(2.0, 0.45 * len(labels) + 1.0))
    positions = list(range(len(labels)))
    bars = ax.barh(positions, values, color=color)
    ax.set_yticks(positions, labels)
    ax.invert_yaxis()
    ax.bar_label(bars, labels=[f"{v:,}" for v in values], fontsize=8, padding=2)
    ax.set_xlabel(xlabel)
    ax.margins(x=0.12)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _histogram_figure(hist: Histogram, xlabel: str, color: str) -> str:
    fig, ax = _new_figure()
    widths = [b - a for a, b in zip(hist.edges, hist.edges[1:], strict=False)]
    ax.bar(hist.edges[:-1], hist.counts, width=widths, align="edge", color=color, edgecolor="white")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("variant calls")
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _genotype_figure(summary: Summary) -> str:
    fig, ax = _new_figure(6.0, 3.4)
    bars = ax.bar([0, 1], [summary.het, summary.hom_alt], color=[_BLUE, _ORANGE], width=0.6)
    ax.set_xticks([0, 1], ["heterozygous", "homozygous ALT"])
    ax.bar_label(bars, labels=[f"{summary.het:,}", f"{summary.hom_alt:,}"], padding=2)
    ax.set_ylabel("variant calls")
    ax.margins(y=0.2)
    ax.set_title(
        f"het/hom-alt = {_fmt(summary.het_hom_ratio)}    Ti/Tv (SNVs) = {_fmt(summary.ti_tv)}",
        fontsize=10,
    )
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _img(png_b64: str, alt: str) -> str:
    return f'<img src="data:image/png;base64,{png_b64}" alt="{html.escape(alt)}">'


def _table(caption: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return (
        f'<table class="data"><caption>{html.escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _figure(png_b64: str, alt: str, caption: str, table_html: str) -> str:
    return (
        f'<div class="figure-row"><figure>{_img(png_b64, alt)}'
        f"<figcaption>{caption}</figcaption></figure>{table_html}</div>"
    )


def _section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{section_id}"><h2>{html.escape(title)}</h2>{body}</section>'


def _note(text: str) -> str:
    return f'<p class="note">{text}</p>'


def _alt_list(pairs: Sequence[tuple[str, int]], limit: int = 12) -> str:
    shown = ", ".join(f"{k} {v:,}" for k, v in pairs[:limit])
    return shown + (f" and {len(pairs) - limit} more" if len(pairs) > limit else "")


def _histogram_section(
    section_id: str,
    title: str,
    hist: Histogram,
    *,
    sample: str,
    quantity: str,
    unit: str,
    definition: str,
    missing_what: str,
    digits: int,
    color: str,
) -> str:
    esc_sample = html.escape(sample)
    if not hist.counts:
        return _section(
            section_id,
            title,
            _note(f"No {html.escape(quantity)} values among the variant calls of {esc_sample}."),
        )
    width = hist.edges[1] - hist.edges[0]
    peak = max(range(len(hist.counts)), key=lambda i: hist.counts[i])
    alt = (
        f"Histogram of {quantity} ({unit}) of {hist.total:,} variant calls of sample {sample}: "
        f"{len(hist.counts)} bins from {hist.edges[0]:,.{digits}f} to {hist.edges[-1]:,.{digits}f}, "
        f"the fullest bin [{hist.edges[peak]:,.{digits}f}, {hist.edges[peak + 1]:,.{digits}f}) "
        f"holds {hist.counts[peak]:,} calls."
    )
    missing = (
        f" {hist.missing:,} calls without {missing_what} are not shown." if hist.missing else ""
    )
    if hist.above:
        missing += (
            f" The binned range ends at the {hist.upper_fraction:.1%} quantile of the calls' "
            f"values (nearest rank); the {hist.above:,} calls above it are counted in the "
            "table's row \u201cabove\u201d and not drawn."
        )
    caption = (
        f"{html.escape(quantity)} of the variant calls of {esc_sample} "
        f"(x axis: {html.escape(unit)}; y axis: number of calls). {definition} "
        f"Bins of equal width {width:,.{digits}f} {html.escape(unit)}, each covering "
        f"[start, end).{missing}"
    )
    rows = [
        (f"{a:,.{digits}f}", f"{b:,.{digits}f}", f"{n:,}")
        for a, b, n in zip(hist.edges, hist.edges[1:], hist.counts, strict=False)
    ]
    if hist.above and hist.above_range:
        a, b = hist.above_range
        rows.append((f"above {a:,.{digits}f}", f"{b:,.{digits}f}", f"{hist.above:,}"))
    if hist.missing:
        rows.append((f"no {missing_what}", "", f"{hist.missing:,}"))
    table_html = _table(
        f"{quantity} bins (numbers behind the figure)",
        [f"from ({unit})", f"to ({unit}, exclusive)", "calls"],
        rows,
    )
    xlabel = f"{quantity} ({unit})"
    return _section(
        section_id, title, _figure(_histogram_figure(hist, xlabel, color), alt, caption, table_html)
    )


_CSS = """
:root { color-scheme: light; }
body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
       margin: 0 auto; max-width: 1100px; padding: 1.5rem 2rem 3rem; color: #1b1b1b;
       background: #fff; line-height: 1.45; }
header { border-bottom: 3px solid #0072B2; margin-bottom: 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .4rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .6rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .5rem 0 1rem; }
dl.meta dt { font-weight: 600; color: #444; }
dl.meta dd { margin: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: .6rem; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem .7rem; background: #f6f8fa; }
.card .value { font-size: 1.35rem; font-weight: 600; }
.card .label { font-size: .85rem; color: #444; }
.figure-row { display: flex; flex-wrap: wrap; gap: 1.2rem; align-items: flex-start; }
figure { margin: 0; flex: 1 1 620px; max-width: 760px; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .88rem; color: #333; margin-top: .3rem; }
table.data { border-collapse: collapse; font-size: .82rem; flex: 0 1 auto; }
table.data caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: .2rem; }
table.data th, table.data td { border: 1px solid #d0d7de; padding: .12rem .5rem; text-align: right; }
table.data th:first-child, table.data td:first-child { text-align: left; }
table.data thead th { background: #f0f3f6; }
p.note { background: #fff8e6; border-left: 4px solid #E69F00; padding: .5rem .8rem; }
code { background: #f0f3f6; padding: 0 .25rem; border-radius: 3px; }
footer { margin-top: 2.5rem; font-size: .8rem; color: #555; }
"""


def render_html(data: ReportData) -> str:
    """The report as one self-contained HTML5 page.

    Sections: header (sample, deployment, variant back end, generation time in UTC, toolkit
    version), summary numbers, variants per contig, QUAL distribution, depth (FORMAT DP)
    distribution, genotype classes with Ti/Tv, ClinVar clinical significance. Each figure is a
    PNG embedded as a ``data:image/png;base64`` URI with alt text and a caption giving units and
    definitions, followed by an HTML table of the numbers it plots. CSS is inline; the page
    references no external resource.

    Args:
        data: from :func:`collect`.

    Returns:
        The HTML text (UTF-8 when written).
    """
    s = data.summary
    sample = html.escape(data.sample)
    generated = data.generated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    meta = [
        ("Sample", sample),
        ("Deployment", html.escape(data.deployment) or "n/a"),
        ("Variant back end", html.escape(data.variant_backend or "not known")),
        ("Generated", generated),
        ("omics-toolkit", html.escape(data.version)),
    ]
    if data.ploidy is not None:
        called = ", ".join(
            f"{n:,} with {k} allele{'s' if k != 1 else ''}" for k, n in data.ploidy.called
        )
        meta.insert(
            3,
            (
                "Ploidy",
                f"{html.escape(data.ploidy.label)}, from {html.escape(data.ploidy.source)}; "
                f"genotypes: {called or 'none'}",
            ),
        )
    header = (
        f"<header><h1>Variant report: {sample}</h1><dl class='meta'>"
        + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta)
        + "</dl></header>"
    )

    numbers = [
        (
            "Variants",
            _fmt(s.variants),
            "calls whose GT carries an ALT allele (an allele index > 0)",
        ),
        ("SNVs", _fmt(s.snvs), "one-base REF, every carried ALT a single base"),
        ("Indels", _fmt(s.indels), "a carried ALT of another length than REF"),
        ("Heterozygous", _fmt(s.het), "fully called GT, two or more allele indexes (0/1, 1/2)"),
        ("Homozygous ALT", _fmt(s.hom_alt), "fully called GT, one allele index > 0 (1/1)"),
        ("Het/hom-alt ratio", _fmt(s.het_hom_ratio), "heterozygous / homozygous ALT"),
        ("Ti/Tv", _fmt(s.ti_tv), "transitions (A<->G, C<->T) / transversions, biallelic SNVs"),
        ("Mean QUAL", _fmt(s.mean_qual, 1), "of the variants, phred-scaled"),
        ("Mean depth", _fmt(s.mean_depth, 1), "of the variants, FORMAT DP in reads"),
    ]
    if s.records is not None:
        numbers.append(
            ("Records", _fmt(s.records), "every row of the sample, 0/0 and ./. rows included")
        )
    cards = "".join(
        f'<div class="card" title="{html.escape(d)}"><div class="value">{v}</div>'
        f'<div class="label">{html.escape(k)}</div></div>'
        for k, v, d in numbers
    )
    summary_html = f'<div class="cards">{cards}</div>' + _table(
        "Summary numbers and their definitions (queries/sample_summary.sql)",
        ["measure", "value", "definition"],
        numbers,
    )
    if data.alt_calls != s.variants:
        summary_html += _note(
            f"The figures count {data.alt_calls:,} calls carrying an ALT allele, the summary "
            f"{s.variants:,} variants: the two queries were not run on the same data."
        )

    sections = [header, _section("summary", "Summary", summary_html)]

    # Variants per contig.
    if data.contigs:
        labels = [c for c, _ in data.contigs]
        values = [n for _, n in data.contigs]
        alt = (
            f"Bar chart of the number of variant calls per contig for sample {data.sample} "
            f"({data.alt_calls:,} calls on {len(labels)} contigs): {_alt_list(data.contigs)}."
        )
        caption = (
            f"Variant calls of {sample} per contig (y axis: number of calls carrying an ALT "
            "allele; x axis: contig name as in the reference, in natural order). Each call is "
            "counted once on the contig of its 0-based start coordinate."
        )
        body = _figure(
            _bar_figure(labels, values, "contig", "variant calls", _BLUE),
            alt,
            caption,
            _table(
                "Calls per contig", ["contig", "calls"], [(c, f"{n:,}") for c, n in data.contigs]
            ),
        )
    else:
        body = _note(f"No calls of {sample} carry an ALT allele.")
    sections.append(_section("contigs", "Variants per contig", body))

    sections.append(
        _histogram_section(
            "qual",
            "QUAL distribution",
            data.qual,
            sample=data.sample,
            quantity="QUAL",
            unit="phred",
            definition="QUAL is the VCF QUAL column: -10 log10 P(no variant at the site).",
            missing_what="QUAL",
            digits=1,
            color=_GREEN,
        )
    )
    sections.append(
        _histogram_section(
            "depth",
            "Depth distribution",
            data.depth,
            sample=data.sample,
            quantity="Read depth",
            unit="reads",
            definition="Depth is the sample's FORMAT DP (reads covering the site).",
            missing_what="FORMAT DP",
            digits=0,
            color=_VERMILION,
        )
    )

    genotype_alt = (
        f"Bar chart of genotype classes of sample {data.sample}: {s.het:,} heterozygous and "
        f"{s.hom_alt:,} homozygous ALT calls; het/hom-alt ratio {_fmt(s.het_hom_ratio)}; "
        f"Ti/Tv of SNVs {_fmt(s.ti_tv)}."
    )
    genotype_caption = (
        f"Genotype classes of {sample} (y axis: number of calls). Heterozygous: fully called GT "
        "with two or more different allele indexes (0/1, 1/2); homozygous ALT: fully called GT "
        "with a single allele index &gt; 0 (1/1, 2/2, haploid 1); partly missing GTs (./1) are "
        "neither. Ti/Tv: the sample's biallelic SNVs with a transition (A&lt;-&gt;G, C&lt;-&gt;T) "
        "divided by those with a transversion."
    )
    genotype_table = _table(
        "Genotype classes and Ti/Tv",
        ["class", "value"],
        [
            ("heterozygous calls", f"{s.het:,}"),
            ("homozygous ALT calls", f"{s.hom_alt:,}"),
            ("het/hom-alt ratio", _fmt(s.het_hom_ratio)),
            ("transitions", _fmt(s.transitions)),
            ("transversions", _fmt(s.transversions)),
            ("Ti/Tv (SNVs)", _fmt(s.ti_tv)),
        ],
    )
    sections.append(
        _section(
            "genotypes",
            "Genotype classes and Ti/Tv",
            _figure(_genotype_figure(s), genotype_alt, genotype_caption, genotype_table),
        )
    )

    if data.clinvar is None:
        clin_body = _note(
            "No ClinVar annotations imported: run "
            "<code>omics-toolkit annotations import clinvar FILE</code>"
        )
    elif not data.clinvar:
        clin_body = _note(
            f"None of the {data.alt_calls:,} variant calls of {sample} matches a record of the "
            "<code>annotations_clinvar</code> table (same contig name, 0-based start, REF and "
            "ALT)."
        )
    else:
        labels = [clnsig_label(v) for v, _ in data.clinvar]
        values = [n for _, n in data.clinvar]
        matched = sum(values)
        clin_alt = (
            f"Bar chart of ClinVar clinical significance of {matched:,} matched variant calls of "
            f"sample {data.sample}: {_alt_list(list(zip(labels, values, strict=True)))}."
        )
        clin_caption = (
            f"ClinVar clinical significance (INFO CLNSIG) of the calls of {sample} that match a "
            "ClinVar record with the same contig name, 0-based start, REF and ALT alleles "
            f"({matched:,} of {data.alt_calls:,} calls; x axis: number of matched calls). "
            "Numeric codes of older ClinVar VCFs are shown with their names."
        )
        clin_table = _table(
            "ClinVar CLNSIG counts",
            ["CLNSIG", "meaning", "calls"],
            [
                (v or "", label, f"{n:,}")
                for (v, n), label in zip(data.clinvar, labels, strict=True)
            ],
        )
        clin_body = _figure(
            _hbar_figure(labels, values, "matched variant calls", _ORANGE),
            clin_alt,
            clin_caption,
            clin_table,
        )
    sections.append(_section("clinvar", "ClinVar clinical significance", clin_body))

    footer = (
        f"<footer>Generated {generated} by omics-toolkit {html.escape(data.version)} from Athena "
        "queries <code>queries/sample_summary.sql</code> and <code>queries/report/*.sql</code>. "
        "Coordinates are 0-based half-open, as in the variant store.</footer>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Variant report: {sample}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(sections)}{footer}</body></html>\n"
    )
