"""SSH keys pulltheplug makes itself: a VM lab's host keys (made before a machine's first boot, so its
known_hosts is written, never trusted on first use) and its throwaway login key."""

from __future__ import annotations

from dataclasses import dataclass

import asyncssh


@dataclass(frozen=True, slots=True)
class KeyPair:
    private: bytes  # OpenSSH format
    public: bytes  # one authorized_keys / known_hosts line: "ssh-ed25519 AAAA... comment"


def new_ed25519(comment: str) -> KeyPair:
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    return KeyPair(key.export_private_key("openssh"), key.export_public_key("openssh"))
