"""Feeds that put files into the landing folder: a replay of the reference dataset and a synthetic generator."""
