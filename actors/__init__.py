"""Ray actors that own state and batches; nothing else writes what an actor owns."""
