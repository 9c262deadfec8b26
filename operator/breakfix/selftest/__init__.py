"""Proving the catalog: every lab is broken as described and solved by its reference solution."""
