"""Worker-side runners of the editsessions app's job kinds (``job_kinds.py``), one module per kind."""
