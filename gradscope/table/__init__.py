"""The central data and what is derived from it, pure and torch-free: the run record (record.py), per-layer and loss
summaries (summaries.py), the compare ranking and recommendation (comparison.py), and the one number speller
(numbers.py)."""
