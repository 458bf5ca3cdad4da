"""The VM lab: one QEMU machine per node, each with its own kernel, reached through the SSH backend."""
