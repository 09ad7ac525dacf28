"""Capture sessions: plan, async runner, events, and their persistence."""
