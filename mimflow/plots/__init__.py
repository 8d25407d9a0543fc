"""Figures: one module per figure family (stats over seeds, per-run 2-D plots, animations)."""
