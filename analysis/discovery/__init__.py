"""Scenario discovery under deep uncertainty: sampled futures, regret and PRIM boxes."""
