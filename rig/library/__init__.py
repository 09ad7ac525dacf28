"""The source library: importing images and labels, de-identification, lookup."""
