"""The lab: a real multi-node Docker Swarm on one Linux machine (netns + dockerd per node)."""
