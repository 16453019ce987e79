"""Importing other registries' data into Airlock."""
