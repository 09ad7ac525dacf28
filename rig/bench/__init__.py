"""Benchmarks behind ``rig bench``; each returns a JSON-able dict."""
