"""The Ray Serve application: the HTTP API and, in later issues, the retrieval deployment."""
