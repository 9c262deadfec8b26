"""Everything that talks to the API server: the client, applying manifests, gathering state."""
