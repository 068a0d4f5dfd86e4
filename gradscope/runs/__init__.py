"""The code that trains: training.py (the deterministic loop with the recorder, run options, devices),
state.py (CPU snapshots of a model, put back bit for bit) and interrupts.py (Ctrl-C and --timeout at step
boundaries)."""
