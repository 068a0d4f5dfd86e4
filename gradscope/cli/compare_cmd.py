"""`gradscope compare` (being written)."""
