"""Score something of one's own on finished runs, from Python: the total correlation of each run's codes.

    python docs/examples/score_total_correlation.py RUN_FOLDER [RUN_FOLDER ...]

mimflow.runs.load_run gives a run's best model, settings and data split from its folder. Here the test
split is encoded (the posterior means) and the total correlation of a Gaussian fitted to those codes,
1/2 (sum_d log var_d - log det Cov), is printed beside two of the run's own metrics: 0 for independent
code dimensions, larger the more they share.
"""
import sys

import numpy as np
import torch

from mimflow.runs import load_run


def gaussian_total_correlation(codes: np.ndarray) -> float:
    cov = np.cov(codes, rowvar=False)
    return 0.5 * float(np.log(np.diag(cov)).sum() - np.linalg.slogdet(cov)[1])


print("| run | KNN5 | MI_ksg | total correlation of the codes (nats) |")
print("|---|---|---|---|")
for folder in sys.argv[1:]:
    run = load_run(folder)
    with torch.no_grad():
        codes = run.model.encoder(run.data.x_test)[0].numpy()
    print(f"| {run.settings.model} | {run.metrics['clf_acc_KNN5']:.3f} | {run.metrics['MI_ksg']:.3f} | "
          f"{gaussian_total_correlation(codes):.3f} |")
