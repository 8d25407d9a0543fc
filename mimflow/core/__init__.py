"""What both experiment families share: settings, files, seeds, the epoch loop, provenance, metrics, tables."""
