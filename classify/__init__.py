"""Stage 2: train heads on the feature cache (logistic regression, a Dense layer, an MLP, k nearest
neighbours: the registry in `classify.heads`), and predict and export with them."""
