"""Scenarios: the definition of one lab, its folder format, and rendering it for one attempt."""
