"""Pure numpy/OpenCV geometry and image quality: fiducials, registration, metrics.

Must not import rig, Qt, serial or torch (enforced by tests/test_import_rules.py),
so it can be reused by anyone checking a photo against its ground truth.
"""
