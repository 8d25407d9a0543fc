"""Jobs that gather results: the experiment and image tables, the stats figures and the fidelity scorecard.
They import no torch."""
from __future__ import annotations

from ..core.io import save_figure, write_bytes_atomic
from .context import JobContext


def experiment_table(job: JobContext) -> None:
    """Tidy per-run table and seed summary of one experiment."""
    from ..core.tables import experiment_table as table
    from ..workflow import RUN_DIR

    _save_tables(job, table, RUN_DIR)


def image_table(job: JobContext) -> None:
    """Per-run table and seed summary of the image runs."""
    from ..core.tables import image_table as table
    from ..workflow import IMAGE_RUN_DIR_BY_MODEL

    _save_tables(job, table, IMAGE_RUN_DIR_BY_MODEL)


def _save_tables(job: JobContext, table, run_dir: str) -> None:
    from ..core.tables import save_tables
    from ..workflow import template_pattern

    runs, summary = table(list(job.input.metrics), template_pattern(run_dir))
    save_tables(runs, summary, job.output.runs, job.output.summary)
    job.log.info("%d runs, %d groups", len(runs), len(summary))


def stats_figure(job: JobContext) -> None:
    """One metric of one experiment against the swept dim, beside the published points."""
    import pandas as pd

    from ..lowdim.stats_figure import stats_figure as figure

    fig = figure(pd.read_csv(job.input.summary), job.wildcards.metric, job.wildcards.experiment,
                 dpi=job.params.dpi, published=pd.read_csv(job.input.published))
    save_figure(fig, job.output[0])
    job.log.info("wrote %s", job.output[0])


def fidelity_scorecard(job: JobContext) -> None:
    """The published stats-figure points against our seed means, and the variants beside their base."""
    import pandas as pd

    from ..core.scorecard import fidelity_scorecard as scorecard, scorecard_html, scorecard_summary, variant_scorecard

    params, output = job.params, job.output
    summaries = {name: pd.read_csv(path) for name, path in zip(params.experiments, job.input.summaries, strict=True)}
    variant_summaries = {name: pd.read_csv(path) for name, path in
                         zip(params.variants, job.input.variant_summaries, strict=True)}
    published = pd.read_csv(job.input.published)
    card = scorecard(published, summaries)
    summary = scorecard_summary(card)
    variants = variant_scorecard(card, published, variant_summaries, dict(params.variants))
    write_bytes_atomic(card.to_csv(index=False).encode(), output.table)
    write_bytes_atomic(summary.to_csv(index=False).encode(), output.summary)
    write_bytes_atomic(variants.to_csv(index=False).encode(), output.variants)
    write_bytes_atomic(scorecard_html(card, summary, variants).encode(), output.html)
    counts = card["verdict"].value_counts()
    job.log.info("%d published points: %s", len(card), ", ".join(f"{v} {k}" for k, v in counts.items()))
    for name, base in params.variants.items():
        rows = variants[variants["variant"] == name]
        job.log.info("variant %s against %s's %d points: %d agree (%s itself: %d)", name, base, len(rows),
                     (rows["variant_verdict"] == "agree").sum(), base, (rows["verdict"] == "agree").sum())
