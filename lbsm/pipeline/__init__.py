"""Layer 5, the compute step: a chapter's runs and parts as a task graph on an executor (in
process or Dask), and the GPU chunks that add to the published results."""
