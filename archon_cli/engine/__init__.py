"""Run one architecture on one query: layers of components, each layer's calls in flight together."""
