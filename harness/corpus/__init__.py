"""Corpus scheduling for `namcheck audit`: worker processes, a Dask cluster, the resumable
results file."""
