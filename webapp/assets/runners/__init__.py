"""Worker-side runners of the assets app's job kinds (``job_kinds.py``), one module per kind."""
