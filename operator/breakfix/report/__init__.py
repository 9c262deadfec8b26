"""Reports for people and CI: terminal tables and JUnit XML."""
