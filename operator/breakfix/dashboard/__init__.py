"""The class dashboard: a read-only web view of every Lab and Exam, fed by the operator's own
watches and pushed to open pages as server-sent events."""
