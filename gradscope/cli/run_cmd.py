"""`gradscope run` (being written)."""
