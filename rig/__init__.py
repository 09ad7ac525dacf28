"""rig: build paired screen-photo / ground-truth medical-image datasets."""

__version__ = "0.1.0"
