"""What a batch folder holds and how its tables are laid out: the one owner of the format.

Layout of a batch directory::

    plan.json        the batch's plan and fingerprint, written once when the batch starts
    manifest.jsonl   one JSON line per finished run attempt (ok or failed), fsynced per line
    runs/ID.parquet  one shard per successful run, written atomically
    results.parquet  all successful runs in one long table, written at the end
    batch.json       provenance, written at the end

A results table (a shard or the combined file) has the identifying columns first (scenario,
replicate, seed), then one column per sweep key, then ``step`` (the month), then the metrics.
"""

from __future__ import annotations

PLAN, MANIFEST, RUNS = "plan.json", "manifest.jsonl", "runs"
RESULTS, PROVENANCE = "results.parquet", "batch.json"
BATCH_FILES = (PLAN, MANIFEST, RUNS, RESULTS, PROVENANCE)

ID_COLUMNS = ("scenario", "replicate", "seed")
STEP = "step"
