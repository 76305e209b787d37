"""Pure logic over a conversation's message tree (no database)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar


class Node(Protocol):
    # Any, not int: mypy checks a type argument against the class attributes, and on a
    # mapped class those are SQLAlchemy descriptors rather than ints.
    id: Any
    parent_id: Any
    active_child_id: Any


N = TypeVar("N", bound=Node)


@dataclass
class Tree(Generic[N]):
    """Index of a conversation's messages by id and by parent."""

    nodes: dict[int, N]
    children: dict[int | None, list[N]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def build(cls, messages: Iterable[N]) -> Tree[N]:
        tree: Tree[N] = cls(nodes={})
        for message in sorted(messages, key=lambda m: m.id):
            tree.nodes[message.id] = message
            tree.children[message.parent_id].append(message)
        return tree

    def siblings(self, message: N) -> list[N]:
        return self.children[message.parent_id]

    def swipe_position(self, message: N) -> tuple[int, int]:
        siblings = self.siblings(message)
        return [s.id for s in siblings].index(message.id), len(siblings)

    def active_path(self, root_id: int | None) -> list[N]:
        """From the active root, follow each message's active child (else its newest)."""
        roots = self.children[None]
        if not roots:
            return []
        current = self.nodes.get(root_id) if root_id is not None else None
        if current is None or current.parent_id is not None:
            current = roots[-1]
        path = [current]
        while kids := self.children[current.id]:
            chosen = self.nodes.get(current.active_child_id) if current.active_child_id else None
            current = chosen if chosen is not None and chosen.parent_id == current.id else kids[-1]
            path.append(current)
        return path

    def path_to(self, message: N) -> list[N]:
        """The ancestors of ``message``, root first, ending with it."""
        path = [message]
        while path[-1].parent_id is not None:
            path.append(self.nodes[path[-1].parent_id])
        path.reverse()
        return path

    def subtree_ids(self, message: N) -> set[int]:
        ids, stack = set(), [message]
        while stack:
            current = stack.pop()
            ids.add(current.id)
            stack.extend(self.children[current.id])
        return ids
