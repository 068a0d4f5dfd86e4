"""`gradscope sweep` (being written)."""
