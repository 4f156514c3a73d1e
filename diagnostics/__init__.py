"""The pitstop engine: cluster access, snapshots, probes, fixes, apply/journal/undo. Never imports Textual."""
