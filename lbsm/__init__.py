"""lbsm: a reproducible book of Keskar et al. (ICLR 2017), "On Large-Batch Training for Deep
Learning: Generalization Gap and Sharp Minima".

Modules, one job each: ``data`` (official data sets as device tensors), ``models`` (F1, F2, C1-C4),
``train`` (the paper's protocol, ``fit`` and ``sweep``), ``store`` (results kept as files),
``sharpness`` (Metric 2.1), ``hessian`` (eigenvalues, trace), ``landscape`` (parametric plots),
``remedies`` (Appendix E), ``experiments`` (Section 3), ``paper`` (the published numbers),
``profiles`` (smoke / cpu / paper), ``cli``.
"""
__version__ = "0.1.0"
