"""Reading the data: the sources and their splits, stable samples, content hashes, decoding and
resizing, augmented views, the tf.data pipeline every stage reads images through, and thumbnails."""
