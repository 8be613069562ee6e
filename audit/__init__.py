"""`make audit`: label issues, duplicates, leakage and outliers found from the cache
(`audit.find` for notebooks)."""
