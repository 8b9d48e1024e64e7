"""A results store that serves only what it holds: the view a chapter takes of a campaign's
published trials, whose weights are not published, so that reading them never trains or solves.

``ServingStore(root)`` is a :class:`lbsm.core.store.Store` whose ``analysis`` raises
:class:`NotStored` for an analysis it lacks instead of computing it; everything it holds is served
with the same checks. A part that may meet an analysis a campaign has not computed yet (a reading
added after its first trials) catches ``NotStored`` and leaves that minimizer out.
"""
from __future__ import annotations

from .store import Store


class NotStored(LookupError):
    """A serving store was asked for an analysis it does not hold."""


class ServingStore(Store):
    @classmethod
    def of(cls, store: Store) -> "ServingStore":
        """``store``'s results and weights, served only."""
        return cls(store.root, store.weights_root)

    def analysis(self, kind: str, params: dict, compute, version: int, device=None) -> dict:
        def refuse():
            raise NotStored(f"{self.root} holds no {kind} analysis "
                            f"{self.analysis_path(kind, params, version).stem} (run "
                            f"{params.get('run', params.get('sb', '?'))}); this store only serves "
                            "what it holds: compute it where the run's weights are")
        if not self.has_analysis(kind, params, version):
            refuse()
        return super().analysis(kind, params, refuse, version, device)
