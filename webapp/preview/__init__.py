"""Live seed/truncation preview: a WebSocket consumer, a Celery render task and the page."""
