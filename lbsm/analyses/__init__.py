"""Layer 3, analyses: functions of a trained model and its data (Metric 2.1, the Hessian, the
parametric plots, the knee of Fig. 4, the cone remark, Appendix C's performance model). Imports
``lbsm.core`` and ``lbsm.train``."""
