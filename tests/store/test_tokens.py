"""API tokens in SQLite: found by hash while live, listed, revoked once, touched on use."""

from __future__ import annotations

import dataclasses

import pytest

from oore.errors import NotFound
from oore.ids import new_id
from oore.model import ApiToken, TokenScope, utcnow
from oore.store.sqlite import SqliteStore


def make_token(name: str, scope: TokenScope = TokenScope.READ) -> ApiToken:
    return ApiToken(id=new_id(), name=name, scope=scope, created_at=utcnow())


async def test_a_token_is_found_by_its_hash_until_revoked(store: SqliteStore) -> None:
    ci = make_token("ci", TokenScope.WRITE)
    laptop = make_token("laptop")
    await store.create_token(ci, "hash-ci")
    await store.create_token(laptop, "hash-laptop")
    assert await store.find_token("hash-ci") == ci
    assert await store.find_token("hash-unknown") is None
    revoked = await store.revoke_token(ci.id)
    assert revoked.revoked_at is not None
    assert await store.find_token("hash-ci") is None
    assert await store.find_token("hash-laptop") == laptop
    assert await store.list_tokens() == [revoked, laptop]


async def test_revoking_again_keeps_the_first_time(store: SqliteStore) -> None:
    token = make_token("ci")
    await store.create_token(token, "h")
    first = await store.revoke_token(token.id)
    again = await store.revoke_token(token.id)
    assert again.revoked_at == first.revoked_at
    with pytest.raises(NotFound):
        await store.revoke_token("nope")


async def test_touch_records_the_last_use(store: SqliteStore) -> None:
    token = make_token("ci")
    await store.create_token(token, "h")
    assert (await store.list_tokens())[0].last_used_at is None
    await store.touch_token(token.id)
    used = (await store.list_tokens())[0].last_used_at
    assert used is not None
    await store.touch_token("nope")  # a token revoked and gone meanwhile: nothing to record
    assert await store.list_tokens() == [dataclasses.replace(token, last_used_at=used)]
