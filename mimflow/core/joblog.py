"""Logging of a workflow job: everything it logs goes to its rule's `log:` file, and a fault the user can
act on (mimflow.core.io.JobError: a full disk, an unreadable file) ends the job with one line, in the log
and on stderr, instead of a traceback."""
from __future__ import annotations

import logging
import sys

from .io import JobError


def job_logger(log_path: str, name: str) -> logging.Logger:
    """Route the root logger to the job's log file (replacing any handler) and return a named logger."""
    try:
        handler = logging.FileHandler(log_path)
    except OSError as err:
        sys.exit(f"error: cannot write the job log {log_path} ({err.strerror}): make its folder writable and rerun")
    logging.basicConfig(handlers=[handler], level=logging.INFO, format="%(asctime)s %(name)s %(message)s", force=True)
    logger = logging.getLogger(name)
    default_hook = sys.excepthook

    def report(kind, value, traceback):
        if isinstance(value, JobError):
            logger.error("error: %s", value)
            print(f"error: {value}", file=sys.stderr)
            return  # the process still ends with status 1, as for any uncaught exception
        logger.error("failed", exc_info=(kind, value, traceback))
        default_hook(kind, value, traceback)

    sys.excepthook = report
    return logger
