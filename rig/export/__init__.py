"""Paired datasets out: patient-level splits, CheXphoto / folders / webdataset layouts, cards."""
