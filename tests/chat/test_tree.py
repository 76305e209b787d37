from __future__ import annotations

from dataclasses import dataclass

from afterdark.chat.tree import Tree


@dataclass
class Node:
    id: int
    parent_id: int | None
    active_child_id: int | None = None


def build() -> Tree[Node]:
    # 1,2 greetings; 3 user under 1; 4,5 replies under 3 (5 active); 6 user under 4
    nodes = [Node(1, None), Node(2, None), Node(3, 1, 5), Node(4, 3, 6), Node(5, 3), Node(6, 4)]
    nodes[0].active_child_id = 3
    return Tree.build(nodes)


def test_active_path_follows_active_children() -> None:
    tree = build()
    assert [n.id for n in tree.active_path(1)] == [1, 3, 5]


def test_active_path_without_active_child_takes_newest() -> None:
    tree = build()
    tree.nodes[3].active_child_id = None
    assert [n.id for n in tree.active_path(1)] == [1, 3, 5]


def test_unknown_root_falls_back_to_newest_root() -> None:
    assert [n.id for n in build().active_path(99)] == [2]


def test_swipe_position_and_path_to() -> None:
    tree = build()
    assert tree.swipe_position(tree.nodes[4]) == (0, 2)
    assert tree.swipe_position(tree.nodes[5]) == (1, 2)
    assert tree.swipe_position(tree.nodes[2]) == (1, 2)
    assert [n.id for n in tree.path_to(tree.nodes[6])] == [1, 3, 4, 6]


def test_subtree_ids() -> None:
    tree = build()
    assert tree.subtree_ids(tree.nodes[3]) == {3, 4, 5, 6}
    assert tree.subtree_ids(tree.nodes[6]) == {6}


def test_empty_tree_has_empty_path() -> None:
    assert Tree.build([]).active_path(None) == []
