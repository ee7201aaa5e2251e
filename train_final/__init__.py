"""Retraining of searched architectures: data pipelines, stand-alone networks, the training loop."""
