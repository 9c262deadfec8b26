"""The Kopf operator: thin handlers around the pure scenario, checks and status logic."""
