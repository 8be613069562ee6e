"""What a cache records: the keys that say what decides its features (fingerprint, quick key), the
dev rows every later choice is made on, and the rows an update keeps."""
