"""Strawberry types of each subgraph and what they share, plus the committed SDL files."""
