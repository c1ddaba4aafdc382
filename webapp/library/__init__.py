"""The team library of edit vectors: files, provenance, tags, scales, usage."""
