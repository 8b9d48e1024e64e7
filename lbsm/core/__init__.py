"""Layer 1, the ground everything stands on: the protocol's constants and vocabulary, the data
sets, the six networks, the machine's arithmetic, the results store, input checks, the paper's
own numbers and the catalog of what the book reproduces. Imports nothing else of lbsm."""
