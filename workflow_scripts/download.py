"""Snakemake adapter: fetch and verify one raw data file (rule download)."""
import sys

from mimflow.core.io import write_json_atomic
from mimflow.core.joblog import job_logger
from mimflow.data.download import ChecksumError, DownloadError, RemoteFile, download
from mimflow.workflow import remote_entry

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = job_logger(sm.log[0], sm.rule)
data = sm.config["data"]
remote = RemoteFile.from_config(sm.wildcards.filename, remote_entry(sm.config, sm.wildcards.source, sm.wildcards.filename))
try:
    record = download(remote, sm.output[0], retries=data["retries"], timeout=data["timeout_s"],
                      backoff_s=data["backoff_s"], local_dir=data["local_dir"] and f"{data['local_dir']}/{sm.wildcards.source}")
except (ChecksumError, DownloadError) as err:
    log.error("%s", err)
    sys.exit(f"mimflow: {err}")
write_json_atomic({"file": sm.wildcards.filename, **record}, sm.output.record)
log.info("%s: %s", sm.output[0], record["origin"])
