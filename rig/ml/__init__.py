"""Restoration of screen photos: datasets, models, training, inference, evaluation.

Only this package imports torch; ``calibration`` never does (see tests/test_import_rules.py).
Images are 8-bit grayscale in the display domain; networks see them as float in [0, 1],
shape (B, 1, H, W).
"""
