"""Jobs that gather results: the experiment and image tables, the stats figures and the fidelity scorecard.
They import no torch."""
from __future__ import annotations

from ..core.io import save_figure, write_bytes_atomic
from .context import JobContext


def experiment_table(job: JobContext) -> None:
    """Tidy per-run table and seed summary of one experiment, and the summary rendered for the report."""
    from ..core.tables import LOWDIM_SHOWN, experiment_table as table
    from ..workflow import RUN_DIR

    _save_tables(job, table, RUN_DIR, f"Experiment {job.wildcards.experiment}", LOWDIM_SHOWN)


def image_table(job: JobContext) -> None:
    """Per-run table and seed summary of the image runs, and the summary rendered for the report."""
    from ..core.tables import IMAGE_SHOWN, image_table as table
    from ..workflow import IMAGE_RUN_DIR_BY_MODEL

    _save_tables(job, table, IMAGE_RUN_DIR_BY_MODEL, "Image runs", IMAGE_SHOWN)


def _save_tables(job: JobContext, table, run_dir: str, title: str, shown: tuple[str, ...]) -> None:
    from ..core.tables import save_tables, summary_html
    from ..workflow import template_pattern

    runs, summary = table(list(job.input.metrics), template_pattern(run_dir))
    save_tables(runs, summary, job.output.runs, job.output.summary)
    page = summary_html(summary, title, shown, job.output.summary)
    write_bytes_atomic(page.encode(), job.output.page)
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
    """The published stats-figure points against our seed means (points the config's grid does not make are
    "not run"), its small-multiples figure, and the variants beside their base."""
    from pathlib import Path

    import pandas as pd

    from ..core.scorecard import PLANNED_COLUMNS, fidelity_scorecard as scorecard, headline
    from ..core.scorecard import scorecard_html, scorecard_summary, variant_scorecard
    from ..lowdim.scorecard_figure import scorecard_figure

    params, output = job.params, job.output
    summaries = {name: pd.read_csv(path) for name, path in zip(params.experiments, job.input.summaries, strict=True)}
    variant_summaries = {name: pd.read_csv(path) for name, path in
                         zip(params.variants, job.input.variant_summaries, strict=True)}
    published = pd.read_csv(job.input.published)
    card = scorecard(published, summaries, pd.DataFrame(list(params.planned), columns=PLANNED_COLUMNS))
    summary = scorecard_summary(card)
    variants = variant_scorecard(card, published, variant_summaries, dict(params.variants))
    save_figure(scorecard_figure(card), output.figure)
    write_bytes_atomic(card.to_csv(index=False).encode(), output.table)
    write_bytes_atomic(summary.to_csv(index=False).encode(), output.summary)
    write_bytes_atomic(variants.to_csv(index=False).encode(), output.variants)
    page = scorecard_html(card, summary, variants, Path(output.figure).read_bytes())  # the figure embedded
    write_bytes_atomic(page.encode(), output.html)
    job.log.info("%s", headline(card))
    for name, base in params.variants.items():
        rows = variants[variants["variant"] == name]
        job.log.info("variant %s against %s's %d points: %d agree (%s itself: %d)", name, base, len(rows),
                     (rows["variant_verdict"] == "agree").sum(), base, (rows["verdict"] == "agree").sum())
