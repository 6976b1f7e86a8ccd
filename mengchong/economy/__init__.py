"""The economy: the points ledger and the item inventory, kernel services every plugin may call."""
