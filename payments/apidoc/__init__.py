"""The API's description: ``/openapi.json`` generated from the body schemas, and ``/docs``."""
