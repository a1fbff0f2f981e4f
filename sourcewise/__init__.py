"""Entry points (CLI): the composition root that wires assistant/ and indexers/."""
