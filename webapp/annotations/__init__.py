"""Immutable annotation versions (part masks), their export, and trained segmentation branches."""
