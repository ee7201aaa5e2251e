"""Supernet training (DARTS first/second order, DrNAS, DARTS-TSE, DrNAS-TSE) and what the training-based
scorers need of a trained supernet. `run.train_supernet` writes a run directory holding supernet.pt."""
