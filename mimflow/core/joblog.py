"""Logging of a workflow job: everything it logs goes to its rule's `log:` file."""
from __future__ import annotations

import logging


def job_logger(log_path: str, name: str) -> logging.Logger:
    """Route the root logger to the job's log file (replacing any handler) and return a named logger."""
    logging.basicConfig(filename=log_path, level=logging.INFO, format="%(asctime)s %(name)s %(message)s", force=True)
    return logging.getLogger(name)
