"""Stage 2: train heads (Keras Dense, scikit-learn logistic regression) on the feature cache."""
