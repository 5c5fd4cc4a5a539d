"""Dependencies as ``Annotated`` aliases, so route signatures read like types."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header

from app.core.errors import ApiError
from worker.errors import ErrorCode
from worker.jobs import JobStore
from worker.settings import Settings, get_settings, hash_key

_store: JobStore | None = None


def store_dep() -> JobStore:
    global _store
    if _store is None:
        _store = JobStore(get_settings())
    return _store


def owner_dep(
    settings: Annotated[Settings, Depends(get_settings)],
    x_api_key: Annotated[str | None, Header(description="your API key")] = None,
) -> str:
    """The caller's identity: a digest of their key (or ``open`` in explicit open mode)."""
    if x_api_key:
        digest = hash_key(x_api_key)
        if any(hmac.compare_digest(digest, h) for h in settings.key_hashes):
            return digest[:24]
        raise ApiError(401, ErrorCode.UNAUTHORIZED, "the API key is not valid")
    if settings.open_mode:
        return "open"
    raise ApiError(401, ErrorCode.UNAUTHORIZED, "an API key is required in the X-API-Key header")


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[JobStore, Depends(store_dep)]
OwnerDep = Annotated[str, Depends(owner_dep)]
