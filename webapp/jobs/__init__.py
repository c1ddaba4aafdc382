"""Jobs: long-running engine work (embed, train, optimize, refine, render) run by Celery workers."""
