"""lbsm: a reproducible book of Keskar et al. (ICLR 2017), "On Large-Batch Training for Deep
Learning: Generalization Gap and Sharp Minima".

Six layers, each importing only from the ones before it (``tests/test_layers.py``):
``lbsm.core`` (constants, data, models, machine, store, the paper's numbers), ``lbsm.train`` (the
paper's protocol, remedies, ensembles), ``lbsm.analyses`` (Metric 2.1, Hessian, parametric plots),
``lbsm.experiments`` (typed specs, profiles, the paper's sections on stored runs),
``lbsm.pipeline`` (the compute step, GPU chunks) and ``lbsm.report`` (rendering only); then
``lbsm.cli`` and ``lbsm.book``.
"""
__version__ = "0.1.0"
