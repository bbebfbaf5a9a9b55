"""Looking inside a network: which inputs a class depends on, what a unit responds to, the
loss landscape around its weights (``analysis.landscape``)."""
