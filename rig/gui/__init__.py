"""The only package that imports Qt: the full-screen display and the operator console."""
