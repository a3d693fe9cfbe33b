"""Outcomes of disruption: the measures, the fast path, the JAG's table."""
