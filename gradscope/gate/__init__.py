"""The pass/fail policy of `check` and `run`: checks.py (Check, GateResult, the findings check, muting, the report's
gate section), sanity.py (training, loss, gradients, updates, overfit), baseline.py (against a saved report), and
the CI formats junit.py and github.py. Torch-free."""
