"""Several rigs, one dataset: merging rig projects into a research project (``rig merge``)."""
