"""Per-layer feature embeddings in 3D (an Embedding Projector computed on the server and
animated through training).

``methods`` holds the numerical core: input preparation, PCA / UMAP / t-SNE layouts, Procrustes
alignment between steps and quality measures. Submodules are imported where used: umap-learn
is heavy (numba compilation) and importing nnviz3d must stay fast.
"""
