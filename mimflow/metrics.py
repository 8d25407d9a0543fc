"""The metrics of a low-dimensional run (keys of its metrics.json), registered in mimflow.registry.METRICS at
import. The built-ins are computed by mimflow.lowdim.evaluate with the original's exact definitions; a
plugin metric is computed after them from the evaluation's arrays (docs/extending.md)."""
from .registry import METRICS, Metric, register_metric

__all__ = ["METRICS", "Metric"]

register_metric("MI_ksg", "Mutual information (KSG)", "I(x; z) [nats]",
                description="KSG estimate of I(x; z) on the test x and their sampled z")
register_metric("H_q_x", "NLL (single-sample)", "−log q(x) [nats per data vector]",
                description="the single-sample estimate of -log q(x) on the test x")
register_metric("x_recon_err", "Reconstruction error", "mean ‖x − x̃‖₂ (x̃ sampled)",
                description="mean L2 distance between a test x and its sampled reconstruction")
for _k in (1, 3, 5, 10):
    register_metric(f"clf_acc_KNN{_k}", f"KNN-{_k} classification accuracy", "accuracy on sampled z",
                    description=f"{_k}-nearest-neighbour label accuracy in z space (train z -> test z)")
for _name, _description in [
    ("MI", "mean log q(z|x) - log p(z)"), ("H_p_z", "-mean log p(z)"), ("H_enc", "-mean log q(x, z)"),
    ("H_dec", "-mean log p(x, z)"), ("H_Msamp", "-mean log of the sample mixture joint"),
    ("H_mean", "(H_enc + H_dec) / 2"), ("Dkl_q_p", "KL(q(z|x) || p(z)), one sample"),
    ("Dkl_p_q", "KL(p(z) || q(z|x)), one sample"), ("Dkl", "(Dkl_q_p + Dkl_p_q) / 2"),
]:
    register_metric(_name, _name, f"{_name} [nats]", description=_description)
