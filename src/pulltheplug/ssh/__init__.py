"""The SSH backend: a real cluster of hosts reached over SSH (inventory, sessions, checks, dead-man faults)."""
