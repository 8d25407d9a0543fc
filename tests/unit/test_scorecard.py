"""The reproduction scorecard: each verdict on hand-made tables, and the published points CSV."""
from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib
import matplotlib.pyplot
import numpy as np
import pandas as pd
import pytest
import yaml

from mimflow.core.scorecard import (
    CARD_COLUMNS,
    COVERING_PRESETS,
    PLANNED_COLUMNS,
    POINT_COLUMNS,
    PUBLISHED_EXPERIMENTS,
    fidelity_scorecard,
    headline,
    published_points,
    scorecard_html,
    scorecard_summary,
    variant_scorecard,
)

# The figure readings sit in ../shared beside the checkout (as in CI), where a machine has them.
READINGS_JSON = Path(__file__).resolve().parents[3] / "shared" / "reference" / "published-figures.json"
FIGURE = "toy4/stats/fig.MI_ksg.png"
nan = np.nan


def published(*points) -> pd.DataFrame:
    """Published toy2d MI_ksg points (model, mid_dim, mean, half bar) in a figure of y-range 10."""
    rows = [dict(figure=FIGURE, experiment="toy2d", metric="MI_ksg", model=model, x_name="mid_dim", x=x,
                 published_mean=mean, bar_top=mean + h, bar_bot=mean - h, y_range=10.0, half_bar=h)
            for model, x, mean, h in points]
    return pd.DataFrame(rows, columns=POINT_COLUMNS)


def ours(*rows) -> pd.DataFrame:
    """Our toy2d summary table: (model, mid_dim, mean, std, seeds) at z_dim 2."""
    return pd.DataFrame([dict(experiment="toy2d", dataset="toy4", model=model, z_dim=2, mid_dim=x, MI_ksg_mean=mean,
                              MI_ksg_std=std, MI_ksg_count=n) for model, x, mean, std, n in rows])


def verdict(point, our_row, summary_extra=()) -> pd.Series:
    card = fidelity_scorecard(published(point), {"toy2d": ours(our_row, *summary_extra)})
    assert list(card.columns) == CARD_COLUMNS and len(card) == 1
    return card.iloc[0]


def test_agree_within_the_published_bar():
    row = verdict(("mim", 5, 5.0, 1.0), ("mim", 5, 5.8, 0.1, 10))
    assert row["verdict"] == "agree"
    assert row["difference"] == pytest.approx(0.8)
    assert row["our_se"] == pytest.approx(0.1 / math.sqrt(10))
    assert row["tolerance"] == pytest.approx(1.0 + 2 * 0.1 / math.sqrt(10))


def test_agree_by_two_standard_errors_beyond_the_bar():
    # h = 0.3, SE = 0.5 / 2 = 0.25: tolerance 0.3 + min(0.5, 0.3 + 0.3) = 0.8 >= 0.7 > h
    row = verdict(("mim", 20, 5.0, 0.3), ("mim", 20, 5.7, 0.5, 4))
    assert row["verdict"] == "agree"
    assert row["tolerance"] == pytest.approx(0.8)
    # the same distance with a tight seed spread disagrees
    assert verdict(("mim", 20, 5.0, 0.3), ("mim", 20, 5.7, 0.05, 4))["verdict"] == "disagree"


def test_a_blown_up_run_with_a_huge_std_does_not_agree():
    # SE = 10: the 2 SE term is capped at h + 0.03 R = 0.6, so the tolerance is 0.9, not 20.3
    row = verdict(("mim", 50, 5.0, 0.3), ("mim", 50, 9.0, 20.0, 4))
    assert row["verdict"] == "disagree"
    assert row["tolerance"] == pytest.approx(0.9)
    assert row["ratio"] == pytest.approx(4.0 / 0.9)


def test_one_seed_has_no_standard_error():
    row = verdict(("vae", 50, 1.0, 0.3), ("vae", 50, 1.25, nan, 1))
    assert row["verdict"] == "agree" and row["our_se"] == 0 and row["tolerance"] == pytest.approx(0.3)
    assert verdict(("vae", 50, 1.0, 0.3), ("vae", 50, 1.35, nan, 1))["verdict"] == "disagree"


def test_a_wide_bimodal_bar_with_few_seeds_is_undecided():
    # h = 2 > 0.15 R = 1.5: with 3 seeds a point 4 away is undecided; with 10 seeds it disagrees
    assert verdict(("mim", 5, 5.0, 2.0), ("mim", 5, 1.0, 0.1, 3))["verdict"] == "undecided"
    assert verdict(("mim", 5, 5.0, 2.0), ("mim", 5, 1.0, 0.1, 10))["verdict"] == "disagree"
    # a narrow bar with few seeds still disagrees; a wide one that agrees stays agreeing
    assert verdict(("mim", 5, 5.0, 1.0), ("mim", 5, 1.0, 0.1, 3))["verdict"] == "disagree"
    assert verdict(("mim", 5, 5.0, 2.0), ("mim", 5, 6.5, 0.1, 3))["verdict"] == "agree"


def test_points_without_our_runs_are_missing_or_not_run():
    points = published(("mim", 5, 5.0, 1.0), ("vae", 20, 1.0, 0.3), ("mim", 20, 5.0, 0.3))
    entropy = points.iloc[[0]].assign(experiment="toy2d_entropy", model="mim-minusH")
    points = pd.concat([points, entropy], ignore_index=True)
    summary = ours(("mim", 5, 5.1, 0.1, 2), ("mim", 20, nan, nan, 0))  # no vae; mim at 20 has no finite value
    card = fidelity_scorecard(points, {"toy2d": summary})  # toy2d_entropy not run at all
    assert list(card["verdict"]) == ["agree", "not run", "missing", "not run"]
    unscored = card[card["verdict"] != "agree"]
    assert unscored["our_mean"].isna().all() and unscored["difference"].isna().all()
    assert list(unscored["seeds"]) == [0, 0, 0]
    # with the config's grid: a planned point without a result is missing, the rest not run
    planned = pd.DataFrame([("toy2d", "toy4", model, 2, x) for model, x in (("mim", 5), ("mim", 20), ("vae", 20))]
                           + [("toy2d", "toy4", "vae", 4, 5), ("toy2d", "other", "vae", 2, 5)], columns=PLANNED_COLUMNS)
    card = fidelity_scorecard(points, {"toy2d": summary}, planned)
    assert list(card["verdict"]) == ["agree", "missing", "missing", "not run"]


def test_the_headline_counts_only_the_points_the_run_covers():
    points = published(("mim", 5, 5.0, 1.0), ("mim", 20, 5.0, 0.3), ("mim", 100, 5.0, 2.0), ("vae", 5, 1.0, 0.3),
                       ("vae", 20, 1.0, 0.3))
    points = pd.concat([points, points.iloc[[0, 1]].assign(experiment="bottleneck_fmnist20", x_name="z_dim",
                                                            figure="pca-fashion-mnist20/stats/fig.MI_ksg.png")],
                       ignore_index=True)
    summary = ours(("mim", 5, 5.1, 0.1, 3), ("mim", 20, 9.0, 0.1, 3), ("mim", 100, 1.0, 0.1, 3),
                   ("vae", 5, nan, nan, 0))
    planned = summary[["experiment", "dataset", "model", "z_dim", "mid_dim"]]
    card = fidelity_scorecard(points, {"toy2d": summary}, planned)
    assert list(card["verdict"]) == ["agree", "disagree", "undecided", "missing", "not run", "not run", "not run"]
    assert headline(card) == (
        "1 of the 4 published points that this run covers agree (1 disagree, 1 undecided, 1 without a result); "
        "3 more published points need runs this config does not make: presets/paper-check.yaml makes 1 (toy2d); "
        "presets/pca-fmnist.yaml makes 2 (bottleneck_fmnist20)")
    everything = fidelity_scorecard(points.iloc[:3], {"toy2d": summary}, planned)
    assert headline(everything) == "1 of the 3 published points that this run covers agree (1 disagree, 1 undecided)"


@pytest.mark.parametrize("preset", sorted(set(COVERING_PRESETS.values())))
def test_each_covering_preset_makes_every_published_point_it_is_named_for(preset, repo_root, checked_in):
    from mimflow.workflow import experiment_runs

    from .test_config import _deep_update

    config = yaml.safe_load((repo_root / "config.yaml").read_text())
    _deep_update(config, yaml.safe_load((repo_root / preset).read_text()))
    named = [name for name, path in COVERING_PRESETS.items() if path == preset]
    assert set(named) <= set(config["run_experiments"])
    planned = pd.DataFrame([run for name in named for run in experiment_runs(config, name)])
    points = checked_in[checked_in["experiment"].isin(named)]
    card = fidelity_scorecard(points, {}, planned[PLANNED_COLUMNS])
    assert len(card) and set(card["verdict"]) == {"missing"}, card.loc[card["verdict"] != "missing", "x"].tolist()
    assert set(COVERING_PRESETS) == set(PUBLISHED_EXPERIMENTS)


def test_only_the_published_setting_of_the_fixed_dim_is_compared():
    # toy2d's published figure holds z_dim at 2: a z_dim 4 row of the same model and mid_dim is ignored
    extra = ours(("mim", 5, 100.0, 0.1, 10)).assign(z_dim=4)
    card = fidelity_scorecard(published(("mim", 5, 5.0, 1.0)), {"toy2d": pd.concat([ours(("mim", 5, 5.1, 0.1, 10)),
                                                                                    extra])})
    assert card.iloc[0]["our_mean"] == pytest.approx(5.1) and card.iloc[0]["verdict"] == "agree"


def test_summary_and_html_count_each_verdict():
    points = published(("mim", 5, 5.0, 1.0), ("mim", 20, 5.0, 0.3), ("mim", 100, 5.0, 2.0), ("vae", 5, 1.0, 0.3))
    points = pd.concat([points, points.iloc[[0]].assign(figure="toy4/stats/fig.H_q_x.png", metric="H_q_x")],
                       ignore_index=True)
    summary = ours(("mim", 5, 5.1, 0.1, 3), ("mim", 20, 9.0, 0.1, 3), ("mim", 100, 1.0, 0.1, 3))
    card = fidelity_scorecard(points, {"toy2d": summary.assign(H_q_x_mean=5.0, H_q_x_std=0.1, H_q_x_count=3)})
    assert list(card["verdict"]) == ["agree", "disagree", "undecided", "not run", "agree"]
    table = scorecard_summary(card)
    assert list(table["figure"]) == [FIGURE, "toy4/stats/fig.H_q_x.png"]
    first = table.iloc[0]
    assert (first["points"], first["agree"], first["disagree"], first["undecided"], first["not run"]) == (4, 1, 1, 1, 1)
    assert first["agree_fraction"] == pytest.approx(0.25)
    page = scorecard_html(card, table, figure_png=b"\x89PNG fake")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<b>2 of the 4 published points that this run covers agree</b>" in page and "1 / 3" in page
    assert page.count('<tr class="disagree">') == 1 and page.count('<tr class="undecided">') == 1
    assert '<img src="data:image/png;base64,iVBORyBmYWtl"' in page
    # the scored rows come first; the unscored ones are folded away below them
    first_section = page[page.index(f"<h2>{FIGURE}"):page.index("<h2>toy4/stats/fig.H_q_x.png")]
    assert first_section.index('<tr class="undecided">') < first_section.index("<details>")
    assert first_section.index("<details>") < first_section.index('<tr class="not-run">') < first_section.index("</details>")
    assert "<summary>1 points without a result of ours (1 not run)</summary>" in first_section


def test_the_scorecard_figure_has_a_panel_per_published_figure_titled_with_its_counts(checked_in):
    from mimflow.lowdim.scorecard_figure import VERDICT_COLORS, scorecard_figure

    toy = checked_in[checked_in["experiment"] == "toy2d"]
    summary = (toy[toy["metric"] == "MI_ksg"][["model", "x"]].rename(columns={"x": "mid_dim"})
               .assign(experiment="toy2d", dataset="toy4", z_dim=2))
    mi = toy[toy["metric"] == "MI_ksg"].set_index(["model", "x"])["published_mean"]
    # ours: the published mean (agree) except 0.0 for the MIM at mid_dim 5 (far off its bar: undecided or disagree)
    summary["MI_ksg_mean"] = [0.0 if (m, x) == ("mim", 5) else mi[(m, x)] for m, x in zip(summary["model"], summary["mid_dim"])]
    summary = summary.assign(MI_ksg_std=0.01, MI_ksg_count=3)
    card = fidelity_scorecard(checked_in, {"toy2d": summary}, summary[PLANNED_COLUMNS])
    fig = scorecard_figure(card)
    drawn = [ax for ax in fig.axes if ax.axison]
    assert len(drawn) == 16
    titles = {ax.get_title() for ax in drawn}
    n_mi = len(summary)
    assert f"toy4/stats · MI_ksg\n{n_mi - 1} of {n_mi} agree (1 undecided)" in titles
    n_h = int((toy["metric"] == "H_q_x").sum())
    assert f"toy4/stats · H_q_x\n0 of {n_h} agree ({n_h} missing)" in titles
    n_pca = int(((checked_in["experiment"] == "bottleneck_fmnist20") & (checked_in["metric"] == "MI_ksg")).sum())
    assert f"pca-fashion-mnist20/stats · MI_ksg\nnot run here: {n_pca} points" in titles
    colors = {tuple(np.round(line.get_color() if isinstance(line.get_color(), tuple) else
                             matplotlib.colors.to_rgba(line.get_color()), 3))
              for ax in drawn for line in ax.get_lines()}
    for verdict in ("agree", "undecided"):
        assert tuple(np.round(matplotlib.colors.to_rgba(VERDICT_COLORS[verdict]), 3)) in colors
    matplotlib.pyplot.close(fig)


READINGS = {"figures": {
    "toy4_20/stats/fig.H_q_x.png": {
        "MIM_blue": [{"mean": 2.0, "bar_top": 3.0, "bar_bot": 1.5, "z_dim": 2},
                     {"mean": 4.0, "bar_top": None, "bar_bot": None, "z_dim": 4}],
        "VAE_red": [{"mean": 6.0, "bar_top": 6.5, "bar_bot": None, "z_dim": 2},
                    {"mean": 9.0, "bar_top": 11.5, "bar_bot": None}],  # read by eye: no x, but in the range
    },
}}


def test_published_points_from_the_readings():
    points = published_points(READINGS)
    assert list(points.columns) == POINT_COLUMNS
    assert len(points) == 3  # the eye-read point is left out
    assert set(points["experiment"]) == {"bottleneck_toy4_20"} and set(points["metric"]) == {"H_q_x"}
    assert list(points["model"]) == ["mim", "mim", "vae"] and list(points["x"]) == [2, 4, 2]
    assert set(points["x_name"]) == {"z_dim"}
    y_range = 1.1 * (11.5 - 1.5)
    np.testing.assert_allclose(points["y_range"], y_range)
    np.testing.assert_allclose(points["half_bar"], [0.75, 0.03 * y_range, 0.5])
    assert points["bar_bot"].isna().tolist() == [False, True, True]


def test_published_points_reject_an_unknown_figure():
    with pytest.raises(ValueError, match="unknown published figure"):
        published_points({"figures": {"toy8/stats/fig.MI_ksg.png": {}}})


@pytest.fixture(scope="module")
def checked_in(repo_root) -> pd.DataFrame:
    return pd.read_csv(repo_root / "reference" / "published" / "published_points.csv")


def test_the_checked_in_published_points(checked_in):
    assert list(checked_in.columns) == POINT_COLUMNS
    assert len(checked_in) == 275  # every point of the 16 figures that has an x value
    assert (checked_in["experiment"] == "bottleneck_fmnist20").sum() == 76
    assert checked_in["figure"].nunique() == 16 and set(checked_in["experiment"]) == set(PUBLISHED_EXPERIMENTS)
    assert not checked_in.duplicated(["figure", "model", "x"]).any()
    key = checked_in.set_index(["experiment", "metric", "model", "x"])
    mim5 = key.loc[("toy2d", "MI_ksg", "mim", 5)]
    assert (mim5["published_mean"], mim5["bar_top"], mim5["bar_bot"]) == (4.8802, 6.7929, 2.9861)
    assert mim5["half_bar"] == pytest.approx((6.7929 - 2.9861) / 2, abs=1e-5)
    vae100 = key.loc[("toy2d", "MI_ksg", "vae", 100)]  # one visible end
    assert math.isnan(vae100["bar_bot"]) and vae100["half_bar"] == pytest.approx(1.519 - 1.2034, abs=1e-5)
    hidden = key.loc[("toy2d", "MI_ksg", "mim", 20)]
    assert hidden["half_bar"] == pytest.approx(0.03 * hidden["y_range"], rel=1e-5)
    assert key.loc[("bottleneck_fmnist20", "H_q_x", "vae", 2), "x_name"] == "z_dim"


@pytest.mark.skipif(not READINGS_JSON.exists(), reason="the figure readings JSON is not on this machine")
def test_the_checked_in_points_are_the_readings(checked_in):
    readings = json.loads(READINGS_JSON.read_text())
    with_x = sum(1 for series in readings["figures"].values() for points in series.values() for p in points
                 if p.get("mid_dim") is not None or p.get("z_dim") is not None)
    assert len(checked_in) == with_x
    pd.testing.assert_frame_equal(checked_in, published_points(readings), check_dtype=False, rtol=1e-5)


def test_the_demo_ends_with_the_reproduction_line(tmp_path):
    import io

    from mimflow.core.summary import print_summary, reproduction_line

    card = pd.DataFrame({"verdict": ["agree"] * 7 + ["undecided"] * 2 + ["disagree"] + ["not run"] * 5,
                         "experiment": ["toy2d"] * 10 + ["bottleneck_fmnist20"] * 5})
    assert reproduction_line(card) == ("reproduction: 7 of the 10 published points that this run covers agree "
                                       "(1 disagree, 2 undecided); 5 more published points need runs this config "
                                       "does not make: presets/pca-fmnist.yaml makes 5 (bottleneck_fmnist20)")
    assert reproduction_line(card[card["verdict"] != "not run"]).endswith("(1 disagree, 2 undecided)")
    tables = tmp_path / "tables"
    tables.mkdir()
    pd.DataFrame({"dataset": ["toy4"], "model": ["mim"], "z_dim": [2], "mid_dim": [5], "MI_ksg_mean": [1.23456],
                  "other_mean": [0.0]}).to_csv(tables / "toy2d_summary.csv", index=False)
    out = io.StringIO()
    print_summary(tmp_path, out)  # no scorecard: says so
    text = out.getvalue()
    assert "== " in text and "1.235" in text and "other_mean" not in text
    assert text.strip().endswith("reproduction: no published figure in this run's experiments (no scorecard)")
    card.to_csv(tables / "fidelity_scorecard.csv", index=False)
    scorecard_summary(card.assign(figure="f", experiment="e", metric="m")).to_csv(
        tables / "fidelity_scorecard_summary.csv", index=False)
    out = io.StringIO()
    print_summary(tmp_path, out)
    text = out.getvalue()
    assert "fidelity_scorecard_summary" not in text and "Empty DataFrame" not in text
    assert "reproduction: 7 of the 10 published points that this run covers agree" in text.splitlines()[-1]


def test_a_variant_is_scored_against_the_same_points_beside_its_experiment():
    """bottleneck_fmnist20_trainfit (scored_against: bottleneck_fmnist20) at the base's published points: its own
    mean and verdict beside the base's, and the base's card (and count) unchanged."""
    points = published(("mim", 5, 5.0, 0.5), ("vae", 5, 3.0, 0.5))
    base = ours(("mim", 5, 5.2, 0.1, 3), ("vae", 5, 3.1, 0.1, 3))
    variant = ours(("mim", 5, 7.0, 0.1, 3), ("vae", 5, 3.3, 0.1, 3)).assign(experiment="toy2d_variant")
    card = fidelity_scorecard(points, {"toy2d": base})
    table = variant_scorecard(card, points, {"toy2d_variant": variant}, {"toy2d_variant": "toy2d"})
    assert list(table["model"]) == ["mim", "vae"] and set(table["scored_against"]) == {"toy2d"}
    assert list(table["verdict"]) == ["agree", "agree"]  # the base's own verdicts, from the card
    assert list(table["our_mean"]) == [5.2, 3.1] and list(table["variant_mean"]) == [7.0, 3.3]
    assert list(table["variant_verdict"]) == ["disagree", "agree"]  # 2.0 off a bar of 0.5; 0.3 within it
    assert list(card["verdict"]) == ["agree", "agree"] and len(card) == 2  # the headline counts only the base
    page = scorecard_html(card, scorecard_summary(card), table)
    assert "Variants scored against the same published points" in page and "toy2d_variant" in page
    assert variant_scorecard(card, points, {}, {}).empty
