"""Hot spots: the space-time cube and its statistics, the engine, its inputs and runs."""
