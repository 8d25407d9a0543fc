"""Snakemake adapter: the published stats-figure points against our seed means (rule fidelity_scorecard)."""

import pandas as pd

from mimflow.core.io import write_bytes_atomic
from mimflow.core.joblog import job_logger
from mimflow.core.scorecard import fidelity_scorecard, scorecard_html, scorecard_summary, variant_scorecard

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
summaries = {name: pd.read_csv(path) for name, path in zip(sm.params.experiments, sm.input.summaries, strict=True)}
variant_summaries = {name: pd.read_csv(path) for name, path in
                     zip(sm.params.variants, sm.input.variant_summaries, strict=True)}
published = pd.read_csv(sm.input.published)
card = fidelity_scorecard(published, summaries)
summary = scorecard_summary(card)
variants = variant_scorecard(card, published, variant_summaries, dict(sm.params.variants))
write_bytes_atomic(card.to_csv(index=False).encode(), sm.output.table)
write_bytes_atomic(summary.to_csv(index=False).encode(), sm.output.summary)
write_bytes_atomic(variants.to_csv(index=False).encode(), sm.output.variants)
write_bytes_atomic(scorecard_html(card, summary, variants).encode(), sm.output.html)
counts = card["verdict"].value_counts()
log.info("%d published points: %s", len(card), ", ".join(f"{v} {k}" for k, v in counts.items()))
for name, base in sm.params.variants.items():
    rows = variants[variants["variant"] == name]
    log.info("variant %s against %s's %d points: %d agree (%s itself: %d)", name, base, len(rows),
             (rows["variant_verdict"] == "agree").sum(), base, (rows["verdict"] == "agree").sum())
