"""Running extraction: up to date or not (`build`), shards by the local or the Dask runner, then the
cache (`extraction`), and libjpeg's warnings."""
