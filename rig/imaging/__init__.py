"""Loading sources and rendering them to the 8-bit display frame (pure numpy)."""
