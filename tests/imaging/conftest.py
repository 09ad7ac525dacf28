"""Shared fixtures for the imaging tests."""
