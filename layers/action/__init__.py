"""Action: patrol plans and the outcome of disruption."""
