"""`gradscope check` (being written)."""
