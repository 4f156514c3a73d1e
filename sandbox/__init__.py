"""The embedded practice cluster: a Kubernetes API server, controllers, an OCI registry and a GitHub Actions API."""
