"""Diagnostic playbooks: one module per playbook, run concurrently over a snapshot. Never imports Textual."""
