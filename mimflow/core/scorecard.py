"""Reproduction scorecard: our seed means against the values read off the original's published stats figures.

Pure functions over data frames. The published points (reference/published/published_points.csv) come
from `published_points`, which turns the figure readings (a JSON of values read off the 16 published
stats figures) into one tidy row per point; `fidelity_scorecard` gives each point a verdict.

The criterion, for a published point with mean m and half bar h in a figure of y-range R, and our mean
over n seeds with standard error SE = std / sqrt(n) (std with ddof 1; SE = 0 for one seed):

    agree  iff  |ours - m| <= h + min(2 SE, h + 0.03 R)

h is how much the original's seeds spread; 2 SE is how uncertain our own mean is, capped so that a
blown-up run with a huge std never agrees with anything; 0.03 R covers the reading error (about 1 % of
the range) and bars hidden inside their marker. A point whose published bar is wide (h > 0.15 R: a
bimodal point, some seeds collapsed) is "undecided" rather than "disagree" while we have fewer than 10
seeds, since a few seeds can land all in one mode. A point that the config's grid makes but that has no
finite result is "missing"; a point the grid does not make at all is "not run" (COVERING_PRESETS names the
preset that makes it), and the headline counts only the points the run covers.

A variant of a published experiment (experiments.<name>.scored_against, e.g. bottleneck_fmnist20_trainfit) is
scored against the same points by `variant_scorecard`, beside the experiment itself and apart from its count.
"""
from __future__ import annotations

import base64
import html
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..names import PUBLISHED_EXPERIMENTS, PUBLISHED_FIGURES
from .html_table import TABLE_STYLE, html_page, html_table, html_value

X_NAMES = ("mid_dim", "z_dim")
# The dim each published figure holds fixed: the toy4 figures sweep mid_dim at z_dim 2, the
# bottleneck figures sweep z_dim with 50 hidden units.
FIXED_DIMS: dict[str, tuple[str, int]] = {"mid_dim": ("z_dim", 2), "z_dim": ("mid_dim", 50)}

RANGE_PAD = 1.1  # matplotlib's autoscale margin: 5 % of the data range on each side
HIDDEN_BAR = 0.03  # half bar assumed where the bar hides inside its marker, as a fraction of the y-range
READING_SLACK = 0.03  # reading error and hidden bars, as a fraction of the y-range (caps the 2 SE term)
WIDE_BAR = 0.15  # a half bar above this fraction of the y-range marks a bimodal point
DECISIVE_SEEDS = 10  # with fewer seeds a wide-bar point is undecided rather than disagreeing

POINT_COLUMNS = ["figure", "experiment", "metric", "model", "x_name", "x", "published_mean", "bar_top", "bar_bot",
                 "y_range", "half_bar"]
CARD_COLUMNS = POINT_COLUMNS + ["our_mean", "our_std", "seeds", "our_se", "difference", "tolerance", "ratio",
                                "verdict"]
VERDICTS = ("agree", "disagree", "undecided", "missing", "not run")
SCORED = ("agree", "disagree", "undecided")  # verdicts with a number of ours behind them
# The preset that runs every published point of each experiment at the paper's settings (3 seeds):
# tests/unit/test_scorecard.py checks that it covers them all.
COVERING_PRESETS = {"toy2d": "presets/paper-check.yaml", "toy2d_entropy": "presets/paper-check.yaml",
                    "bottleneck_toy4_20": "presets/paper-check.yaml", "bottleneck_fmnist20": "presets/pca-fmnist.yaml"}
PLANNED_COLUMNS = ["experiment", "dataset", "model", "z_dim", "mid_dim"]


def _figure_key(figure: str) -> tuple[str, str]:
    """'toy4/stats/fig.MI_ksg.png' -> ('toy4/stats', 'MI_ksg')."""
    folder, name = figure.rsplit("/", 1)
    if folder not in PUBLISHED_FIGURES or not (name.startswith("fig.") and name.endswith(".png")):
        raise ValueError(f"unknown published figure {figure!r}; known folders: {sorted(PUBLISHED_FIGURES)}")
    return folder, name[len("fig."):-len(".png")]


def _half_bar(mean: float, top: float | None, bot: float | None, y_range: float) -> float:
    if top is not None and bot is not None:
        return (top - bot) / 2
    if top is not None:
        return top - mean
    if bot is not None:
        return mean - bot
    return HIDDEN_BAR * y_range


def published_points(readings: dict[str, Any]) -> pd.DataFrame:
    """One row per published point that has an x value (POINT_COLUMNS), from the figure readings.

    `readings`: {"figures": {figure: {series: [{mean, bar_top, bar_bot, mid_dim|z_dim}, ...]}}} (or the
    inner dict). Points without an x value were read by eye and are skipped, but their values still
    count towards the figure's y-range: 1.1 x (max - min) over every mean and visible bar end drawn.
    """
    figures = readings.get("figures", readings)
    rows = []
    for figure, series in figures.items():
        folder, metric = _figure_key(figure)
        experiment, models = PUBLISHED_FIGURES[folder]
        values = [v for points in series.values() for p in points
                  for v in (p["mean"], p.get("bar_top"), p.get("bar_bot")) if v is not None]
        y_range = RANGE_PAD * (max(values) - min(values))
        for name, points in series.items():
            if name not in models:
                raise ValueError(f"{figure}: unknown series {name!r}; known: {sorted(models)}")
            for p in points:
                x_names = [k for k in X_NAMES if p.get(k) is not None]
                if not x_names:
                    continue
                top, bot = p.get("bar_top"), p.get("bar_bot")
                rows.append(dict(figure=figure, experiment=experiment, metric=metric, model=models[name],
                                 x_name=x_names[0], x=int(p[x_names[0]]), published_mean=p["mean"],
                                 bar_top=top, bar_bot=bot, y_range=y_range,
                                 half_bar=_half_bar(p["mean"], top, bot, y_range)))
    return pd.DataFrame(rows, columns=POINT_COLUMNS).astype({"bar_top": float, "bar_bot": float})


def _matching(rows: pd.DataFrame, point: pd.Series) -> pd.DataFrame:
    """The rows (a summary table, or the planned grid) of the published point's dataset, model and dims. Rows
    of other datasets (one's own, listed in a published experiment) are left out: the figures are named by
    dataset."""
    if "dataset" in rows.columns:
        rows = rows[rows["dataset"] == point["figure"].split("/", 1)[0]]
    rows = rows[(rows["model"] == point["model"]) & (rows[point["x_name"]] == point["x"])]
    fixed, value = FIXED_DIMS[point["x_name"]]
    if fixed in rows.columns:
        rows = rows[rows[fixed] == value]
    return rows


def _our_row(summary: pd.DataFrame, point: pd.Series) -> pd.Series | None:
    """The summary row of the published point (None if we have none)."""
    rows = _matching(summary, point)
    if len(rows) > 1:
        raise ValueError(f"{point['experiment']}: {len(rows)} summary rows for {point['model']} at "
                         f"{point['x_name']} = {point['x']}; expected one")
    return rows.iloc[0] if len(rows) else None


def fidelity_scorecard(published: pd.DataFrame, summaries: dict[str, pd.DataFrame],
                       planned: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every published point with our mean, std, seed count and SE, the difference (ours - published),
    the tolerance h + min(2 SE, h + 0.03 R), ratio = |difference| / tolerance and the verdict (VERDICTS).

    `summaries`: experiment -> its summary table (<metric>_mean/_std/_count per model and dims).
    `planned`: the config's grid (PLANNED_COLUMNS, one row per seed group). A point it does not make is
    "not run"; one it makes without a finite result of ours is "missing". Without `planned`, a point is
    made where its experiment's summary has a row for it.
    """
    rows = []
    for _, point in published.iterrows():
        row = {c: point[c] for c in POINT_COLUMNS}
        summary = summaries.get(point["experiment"])
        ours = None if summary is None or f"{point['metric']}_mean" not in summary.columns else _our_row(summary, point)
        n = 0 if ours is None else int(np.nan_to_num(ours[f"{point['metric']}_count"]))
        mean = np.nan if ours is None else float(ours[f"{point['metric']}_mean"])
        if n == 0 or not np.isfinite(mean):
            if planned is None:
                made = ours is not None
            else:
                made = not _matching(planned[planned["experiment"] == point["experiment"]], point).empty
            rows.append({**row, "our_mean": np.nan, "our_std": np.nan, "seeds": n, "our_se": np.nan,
                         "difference": np.nan, "tolerance": np.nan, "ratio": np.nan,
                         "verdict": "missing" if made else "not run"})
            continue
        std = float(ours[f"{point['metric']}_std"])
        se = std / np.sqrt(n) if n > 1 and np.isfinite(std) else 0.0
        h, y_range = float(point["half_bar"]), float(point["y_range"])
        tolerance = h + min(2 * se, h + READING_SLACK * y_range)
        difference = mean - float(point["published_mean"])
        if abs(difference) <= tolerance:
            verdict = "agree"
        elif h > WIDE_BAR * y_range and n < DECISIVE_SEEDS:
            verdict = "undecided"
        else:
            verdict = "disagree"
        rows.append({**row, "our_mean": mean, "our_std": std, "seeds": n, "our_se": se, "difference": difference,
                     "tolerance": tolerance, "ratio": abs(difference) / tolerance if tolerance > 0 else np.inf,
                     "verdict": verdict})
    return pd.DataFrame(rows, columns=CARD_COLUMNS).astype({"seeds": int})


VARIANT_COLUMNS = ["variant", "scored_against", "figure", "metric", "model", "x_name", "x", "published_mean",
                   "half_bar", "our_mean", "our_std", "seeds", "verdict", "variant_mean", "variant_std",
                   "variant_seeds", "variant_verdict"]


def variant_scorecard(card: pd.DataFrame, published: pd.DataFrame, summaries: dict[str, pd.DataFrame],
                      variants: dict[str, str]) -> pd.DataFrame:
    """Each variant (experiment -> the published experiment it varies) scored against that experiment's
    points by the same criterion, one row per point: the published value, the experiment's own mean and
    verdict (from `card`), and the variant's (VARIANT_COLUMNS)."""
    frames = []
    for variant, base in variants.items():
        points = published[published["experiment"] == base]
        scored = fidelity_scorecard(points.assign(experiment=variant), {variant: summaries[variant]})
        own = card[card["experiment"] == base].set_index(["figure", "model", "x"])
        keyed = scored.set_index(["figure", "model", "x"])
        frame = keyed[["metric", "x_name", "published_mean", "half_bar"]].assign(
            variant=variant, scored_against=base,
            our_mean=own["our_mean"].reindex(keyed.index), our_std=own["our_std"].reindex(keyed.index),
            seeds=own["seeds"].reindex(keyed.index), verdict=own["verdict"].reindex(keyed.index),
            variant_mean=keyed["our_mean"], variant_std=keyed["our_std"], variant_seeds=keyed["seeds"],
            variant_verdict=keyed["verdict"])
        frames.append(frame.reset_index())
    if not frames:
        return pd.DataFrame(columns=VARIANT_COLUMNS)
    return pd.concat(frames, ignore_index=True)[VARIANT_COLUMNS]


def scorecard_summary(card: pd.DataFrame) -> pd.DataFrame:
    """Per figure: points, the count of each verdict, and agree_fraction = agree / points."""
    keys = ["figure", "experiment", "metric"]
    counts = (card.groupby(keys, sort=False)["verdict"].value_counts().unstack(fill_value=0)
              .reindex(columns=list(VERDICTS), fill_value=0))
    counts.columns.name = None
    counts.insert(0, "points", counts.sum(axis=1))
    counts["agree_fraction"] = counts["agree"] / counts["points"]
    return counts.reset_index()


def headline(card: pd.DataFrame) -> str:
    """What the run reproduced, counting only the points its grid covers: "N of the M published points that
    this run covers agree (D disagree, U undecided[, K without a result]); P more published points need runs
    this config does not make: <preset> makes <count> (<experiments>)[; ...]"."""
    counts = card["verdict"].value_counts()
    agree, disagree, undecided, missing, not_run = (int(counts.get(v, 0)) for v in VERDICTS)
    covered = len(card) - not_run
    line = (f"{agree} of the {covered} published points that this run covers agree ({disagree} disagree, "
            f"{undecided} undecided" + (f", {missing} without a result" if missing else "") + ")")
    if not_run:
        elsewhere = card[card["verdict"] == "not run"]
        by_preset: dict[str, list[str]] = {}
        for experiment in elsewhere["experiment"].unique():
            by_preset.setdefault(COVERING_PRESETS.get(experiment, "a config that runs them"), []).append(experiment)
        makers = [f"{preset} makes {int(elsewhere['experiment'].isin(names).sum())} ({', '.join(names)})"
                  for preset, names in by_preset.items()]
        line += f"; {not_run} more published points need runs this config does not make: " + "; ".join(makers)
    return line


STYLE = TABLE_STYLE + """
tr.agree td.verdict { color: #1a7f37; }
tr.disagree td { background: #ffd7d5; } tr.disagree td.verdict { font-weight: bold; color: #b00; }
tr.undecided td { background: #fff3c4; }
tr.missing td, tr.not-run td { color: #888; }
p.headline { font-size: 1.2em; }
figure { margin: 1em 0; } figure img { max-width: 100%; } figcaption { font-size: 0.9em; color: #444; }
details { margin: 0 0 1.5em; } summary { cursor: pointer; color: #555; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""

CARD_SHOWN = [("model", "model"), ("x_name", "dim"), ("x", "x"), ("published_mean", "published"),
              ("half_bar", "h"), ("our_mean", "ours"), ("our_std", "std"), ("seeds", "seeds"),
              ("our_se", "SE"), ("difference", "ours − published"), ("tolerance", "tolerance"),
              ("ratio", "|diff| / tol"), ("verdict", "verdict")]
UNSCORED_SHOWN = [("model", "model"), ("x_name", "dim"), ("x", "x"), ("published_mean", "published"),
                  ("half_bar", "h"), ("seeds", "seeds"), ("verdict", "verdict")]


VARIANT_SHOWN = [("model", "model"), ("x", "x"), ("published_mean", "published"), ("half_bar", "h"),
                 ("our_mean", "ours"), ("verdict", "verdict"), ("variant_mean", "variant"),
                 ("variant_verdict", "variant verdict")]

FIGURE_CAPTION = ("One panel per published stats figure (rows: experiments; columns: metrics). Hollow grey "
                  "markers: the published mean with its bar; filled markers: our mean over seeds ± 1 standard "
                  "error, coloured by verdict (green agree, red disagree, orange undecided); circles are the "
                  "MIM family, squares the VAE family, side by side at each x. A panel without filled markers "
                  "was not run by this config.")


def scorecard_html(card: pd.DataFrame, summary: pd.DataFrame, variants: pd.DataFrame | None = None,
                   figure_png: bytes | None = None) -> str:
    """A standalone HTML page: the headline (counting only the points this run covers), the small-multiples
    figure (embedded), the criterion, the per-figure counts, then each figure's scored points with the
    unscored ones folded away; then each variant beside its published experiment, point by point."""
    lines = ["<h1>Reproduction scorecard: mimflow vs the published MIM stats figures</h1>",
             f'<p class="headline">{_headline_html(card)}</p>']
    if figure_png is not None:
        data = base64.b64encode(figure_png).decode()
        lines += ['<figure id="scorecard-figure">',
                  f'<img src="data:image/png;base64,{data}" alt="published points against ours, by verdict">',
                  f"<figcaption>{html.escape(FIGURE_CAPTION)}</figcaption></figure>"]
    lines += [("<p>Published values were read off the original's figures (about ±1 % of each figure's y-range R). "
               "For a published mean m with half bar h, and our mean over n seeds with SE = std/√n (ddof 1; 0 for "
               "one seed): <b>agree</b> iff |ours − m| ≤ h + min(2 SE, h + 0.03 R). Where the published bar is "
               f"wide (h &gt; {WIDE_BAR:g} R, a bimodal point) and we have fewer than {DECISIVE_SEEDS} seeds, a "
               "point that would disagree is <b>undecided</b>. h is half the visible bar, the distance of its one "
               f"visible end, or {HIDDEN_BAR:g} R where the bar hides inside its marker. <b>missing</b>: this "
               "config runs the point but has no finite result; <b>not run</b>: this config's grid does not make "
               "it.</p>"),
              "<h2>Per figure</h2>"]
    shown = summary.assign(agreeing=[f"{a} / {p - n}" for a, p, n in
                                     zip(summary["agree"], summary["points"], summary["not run"])])
    summary_columns = [("figure", "published figure"), ("experiment", "experiment"), ("metric", "metric"),
                       ("agreeing", "agree / covered"), ("disagree", "disagree"), ("undecided", "undecided"),
                       ("missing", "missing"), ("not run", "not run")]
    lines += html_table(shown, summary_columns)
    for figure, points in card.groupby("figure", sort=False):
        first = points.iloc[0]
        scored = points[points["verdict"].isin(SCORED)]
        lines.append(f"<h2>{html.escape(figure)} → <code>{html.escape(first['experiment'])}</code> "
                     f"{html.escape(first['metric'])} <small>(R = {html_value(first['y_range'])}; "
                     f"{int((scored['verdict'] == 'agree').sum())} of {len(scored)} scored points agree)</small></h2>")
        if len(scored):
            lines += html_table(scored, CARD_SHOWN, row_class="verdict")
        unscored = points[~points["verdict"].isin(SCORED)]
        if len(unscored):
            counts = ", ".join(f"{n} {v}" for v, n in unscored["verdict"].value_counts(sort=False).items())
            lines.append(f"<details><summary>{len(unscored)} points without a result of ours ({counts})</summary>")
            lines += html_table(unscored, UNSCORED_SHOWN, row_class="verdict")
            lines.append("</details>")
    if variants is not None and len(variants):
        lines.append("<h1>Variants scored against the same published points</h1>")
        for (variant, base, figure), points in variants.groupby(["variant", "scored_against", "figure"], sort=False):
            agree = int((points["variant_verdict"] == "agree").sum())
            lines.append(f"<h2><code>{html.escape(variant)}</code> beside <code>{html.escape(base)}</code>: "
                         f"{html.escape(figure)} <small>(variant agrees at {agree} of {len(points)}; "
                         f"{base}: {int((points['verdict'] == 'agree').sum())})</small></h2>")
            lines += html_table(points, VARIANT_SHOWN)
    return html_page("mimflow: reproduction vs the published figures", lines, STYLE)


def _headline_html(card: pd.DataFrame) -> str:
    """The headline with its first clause (N of the M points this run covers) in bold."""
    text = headline(card)
    first, _, rest = text.partition(" agree")
    return f"<b>{html.escape(first)} agree</b>{html.escape(rest)}"


def main(argv: list[str]) -> None:
    """python -m mimflow.core.scorecard READINGS.json OUT.csv: (re)build the published points CSV."""
    import json

    if len(argv) != 2:
        sys.exit("usage: python -m mimflow.core.scorecard READINGS.json OUT.csv")
    from .io import write_bytes_atomic

    points = published_points(json.loads(Path(argv[0]).read_text()))
    write_bytes_atomic(points.to_csv(index=False, float_format="%.6g").encode(), argv[1])


if __name__ == "__main__":
    main(sys.argv[1:])
