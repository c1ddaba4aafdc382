"""Edit sessions: an image, its participants and an ordered edit stack with a revision number."""
