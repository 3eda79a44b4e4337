"""flowsim's test suite (a package, so that `tests.helpers` is ours even when another
installed distribution ships a top-level `tests` package)."""
