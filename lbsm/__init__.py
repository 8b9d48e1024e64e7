"""lbsm: a reproducible book of Keskar et al. (ICLR 2017), "On Large-Batch Training for Deep
Learning: Generalization Gap and Sharp Minima".

Modules, one job each, in the order data flows: ``data`` (official data sets as device tensors),
``models`` (F1, F2, C1-C4), ``machine`` (device, provenance, precision ``auto``), ``train`` (the
paper's protocol, ``fit`` and ``sweep``), ``store`` (the published results dataset and the weights
cache), ``sharpness`` (Metric 2.1), ``hessian`` (eigenvalues, trace), ``landscape`` (parametric
plots), ``remedies`` (Appendix E), ``experiments`` (Section 3), ``paper`` (the published numbers),
``profiles`` (smoke / cpu / paper), ``results`` (what each chapter shows), ``compute`` (the task
graph, in process or on Dask), ``report`` / ``tables`` / ``figures`` / ``text`` / ``status``
(rendering only), ``validate`` and ``cli``.
"""
__version__ = "0.1.0"
