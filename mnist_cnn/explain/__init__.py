"""Why the network answered what it did: attribution, neighbours, the feature index."""
