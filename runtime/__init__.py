"""Run infrastructure shared by every command: run folders, atomic files, seeds, RNG state, devices, settings.

It imports nothing from supernet, scoring, search or train_final, so every package may use it.
"""
