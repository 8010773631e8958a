"""Engine backends; each imports its heavy library lazily and raises BackendUnavailable."""
