"""The first provider-admin key of a fresh control plane.

Every key is made through the API by a key that may make it, so the chain needs one key to start:
``secchain api --control-db ... --bootstrap-key-file F`` reads the secret from F (or, when F does
not exist and no provider-admin key does either, generates one and writes F with mode 0600), and
makes sure the key ``bootstrap-admin`` holds it. The secret never appears in a log.
"""

from __future__ import annotations

import os
from pathlib import Path

from shared.control import Actor, ControlRepository, KeyRecord
from shared.control.keys import hash_key, new_secret
from shared.control.sqlite import now_rfc3339

BOOTSTRAP_KEY_ID = "bootstrap-admin"
_LOCAL = Actor("local-operator", "provider-admin")


def ensure_bootstrap_key(repo: ControlRepository, path: Path) -> str | None:
    """The bootstrap secret (None when F is absent and a provider-admin key exists already)."""
    if path.exists():
        secret = path.read_text().strip()
        if len(secret) < 20:
            raise ValueError(f"{path}: a bootstrap key needs at least 20 characters")
    elif any(k.role == "provider-admin" for k in repo.list_keys(provider_only=True)):
        return None
    else:
        secret = new_secret()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret + "\n")
    digest = hash_key(secret)
    current = repo.get_key(BOOTSTRAP_KEY_ID)
    if current is not None and current.sha256 != digest:
        repo.delete_key(BOOTSTRAP_KEY_ID, _LOCAL)
        current = None
    if current is None:
        repo.create_key(KeyRecord(BOOTSTRAP_KEY_ID, "provider-admin", None, digest, "bootstrap key file",
                                  now_rfc3339(), _LOCAL.key_id), _LOCAL)
    return secret
