"""Exams: several labs under one clock, weighted, scored as one."""
