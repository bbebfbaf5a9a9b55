"""Data sets nnviz3d ships with or reads without a download (the demo's digits)."""
