"""Teams, memberships with roles, and the one permission module every entry point uses."""
