"""What `make demo` prints at its end: each experiment's headline metrics (mean over seeds), and one line
saying how many of the published points the run reproduced (from the fidelity scorecard).

    python -m mimflow.core.summary [RESULTS_DIR]
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from .scorecard import headline

HEADLINE = ["dataset", "model", "z_dim", "mid_dim", "MI_ksg_mean", "H_q_x_mean", "x_recon_err_mean",
            "clf_acc_KNN5_mean", "MI_ksg_count"]
SCORECARD = "fidelity_scorecard"


def reproduction_line(card: pd.DataFrame) -> str:
    """"reproduction: N of the M published points that this run covers agree (...)", then the points that need
    runs this config does not make, with the preset that makes them (mimflow.core.scorecard.headline)."""
    return f"reproduction: {headline(card)}"


def print_summary(results: Path = Path("results"), out=sys.stdout) -> None:
    tables = sorted(p for p in (results / "tables").glob("*_summary.csv") if not p.name.startswith(SCORECARD))
    with pd.option_context("display.width", 160):
        for path in tables:
            table = pd.read_csv(path)
            shown = [c for c in HEADLINE if c in table.columns]
            print(f"== {path}", file=out)
            print(table[shown].round(3).to_string(index=False), file=out)
    card = results / "tables" / f"{SCORECARD}.csv"
    if card.exists():
        print(reproduction_line(pd.read_csv(card)) + f" (details: {results / 'fidelity_scorecard.html'})", file=out)
    else:
        print("reproduction: no published figure in this run's experiments (no scorecard)", file=out)


if __name__ == "__main__":
    print_summary(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("results"))
