"""Inference-Time Architecture Search: a space of architectures shaped by a call budget, search
algorithms (gp, random, greedy) that share one evaluator, and the search driver."""
