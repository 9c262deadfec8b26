"""The checks engine: declarative checks evaluated against a snapshot of cluster state.

Everything here is pure: gathering the snapshot is the job of `breakfix.kube.gather`.
"""
