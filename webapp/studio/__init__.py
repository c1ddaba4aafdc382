"""The browser studio: page views and templates (the pages talk to the REST API and sockets)."""
