"""Framework entry points: callbacks that record with the same recorder as `gradscope.watch`.

`gradscope.integrations.lightning.GradscopeCallback` (a Lightning Callback) and `gradscope.integrations.hf.
GradscopeCallback` (a transformers TrainerCallback). Each module imports its framework when it is imported itself;
this package imports neither.
"""
