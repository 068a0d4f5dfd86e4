"""Recording: the hooks that read gradients, parameters and activations off a live model (the only code that touches it)."""
