"""The task-vector factory: build bundles from scored datasets (``bundle build`` / ``bundle add-task``)."""
