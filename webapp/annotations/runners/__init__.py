"""Worker-side runners of the annotations app's job kinds (``job_kinds.py``), one module per kind."""
