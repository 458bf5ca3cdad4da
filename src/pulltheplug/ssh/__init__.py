"""The SSH backend: a real cluster of hosts reached over SSH (inventory, sessions, checks, dead-man faults).

asyncssh still names DSA key types, and recent cryptography releases warn at each of those names when asyncssh is
imported (eleven CryptographyDeprecationWarning lines on every command). We never offer DSA keys; that one
warning, from asyncssh only, is silenced here, before any module of this package imports asyncssh.
"""

import warnings

warnings.filterwarnings("ignore", message=r"DSA is deprecated", module=r"asyncssh(\.|$)")
