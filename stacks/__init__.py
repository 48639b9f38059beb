"""The Pulumi program: stack settings, the composition of components, and the names of its outputs."""
