"""The code that trains: loop.py (the one training loop and step, with the user-error attribution), training.py
(train(): a Problem's deterministic run with the recorder, run options, devices),
state.py (CPU snapshots of a model, put back bit for bit) and interrupts.py (Ctrl-C and --timeout at step
boundaries)."""
