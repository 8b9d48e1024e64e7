"""Layer 2, training: the paper's protocol (``protocol``: TrainConfig, fit, Run), the remedies
of Appendix E (``remedies``) and the vmapped seed ensembles for a GPU (``ensemble``). Imports
only ``lbsm.core``."""
