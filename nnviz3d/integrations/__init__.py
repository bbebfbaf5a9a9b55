"""One-line live views for training frameworks: ``nnviz3d.integrations.lightning`` and
``nnviz3d.integrations.transformers`` (each imports its framework; nothing here does)."""
