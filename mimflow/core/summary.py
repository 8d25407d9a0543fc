"""What `make demo` prints at its end: each experiment's headline metrics (mean over seeds), and one line
saying how many of the published points the run reproduced (from the fidelity scorecard).

    python -m mimflow.core.summary [RESULTS_DIR]
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

HEADLINE = ["dataset", "model", "z_dim", "mid_dim", "MI_ksg_mean", "H_q_x_mean", "x_recon_err_mean",
            "clf_acc_KNN5_mean", "MI_ksg_count"]
SCORECARD = "fidelity_scorecard"


def reproduction_line(card: pd.DataFrame) -> str:
    """"reproduction: N of M published points agree (K undecided, D disagree)", where M counts the points the
    run compared; points of figures the config did not run are counted apart."""
    counts = card["verdict"].value_counts()
    agree, undecided, disagree, missing = (int(counts.get(v, 0)) for v in ("agree", "undecided", "disagree", "missing"))
    line = (f"reproduction: {agree} of {agree + undecided + disagree} published points agree "
            f"({undecided} undecided, {disagree} disagree)")
    if missing:
        line += f"; {missing} more published points are outside this run's grid"
    return line


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
