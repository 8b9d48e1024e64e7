"""Layer 4, experiments: the profiles and the typed specs of the paper's sections, and each
section computed on stored runs through the results store's cache. Imports the layers below."""
