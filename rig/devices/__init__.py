"""Devices: camera and rig-controller interfaces with real and simulated backends."""
