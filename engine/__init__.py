"""Quarry's model engine: embedders and rerankers behind two narrow protocols (no Qt here)."""
