"""The rows of `make bench`, a family of rows a module: each module's `rows(bench)` yields
(measure, px, result, note) tuples from a `bench.context.Bench`; `bench.measure.ROWS` lists the
families in the table's order."""
