"""netcost.memo.by_identity: an entry is its owner's, never a later object's with the same id."""

from __future__ import annotations

from netcost.memo import by_identity


def test_an_entry_is_made_once_per_owner():
    memo: dict = {}
    made: list[int] = []

    def make(items):
        made.append(len(items))
        return sum(items)

    owner = [1, 2, 3]
    assert by_identity(memo, id(owner), owner, make, owner) == 6
    owner.append(4)  # the same object: the entry stands (the memo is for values never written to)
    assert by_identity(memo, id(owner), owner, make, owner) == 6
    assert made == [3]


def test_a_new_object_under_a_reused_id_is_made_afresh():
    memo: dict = {}
    first, second = [1], [2, 2]
    memo[id(second)] = (first, "stale")  # as if `first` had died and `second` took its id
    assert by_identity(memo, id(second), second, len, second) == 2
    assert memo[id(second)] == (second, 2)


def test_the_memo_is_emptied_past_its_limit():
    memo: dict = {}
    owners = [[i] for i in range(5)]
    for o in owners[:3]:
        by_identity(memo, id(o), o, len, o, limit=2)
    assert len(memo) == 3  # emptied only when more than 2 are there before a new entry
    by_identity(memo, id(owners[3]), owners[3], len, owners[3], limit=2)
    assert list(memo) == [id(owners[3])]
