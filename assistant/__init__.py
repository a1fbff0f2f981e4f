"""Sourcewise core: settings, catalog, stores, embedding. Imports nothing from indexers/, ui/ or eval/."""
