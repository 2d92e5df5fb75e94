"""`mutmut`, also mutating methods whose only decorator is `@override` (scripts/mutation).

mutmut 3 leaves every decorated function unmutated except `@staticmethod`/`@classmethod`: a
decorator may run side effects when the function is copied (boxed/mutmut#387). The tap marks
every singer-sdk hook it implements with `typing_extensions.override`, which only sets
`__override__` on the function, so copying it is harmless; without this, 42 methods (the
paginators' `get_next`, the streams' hooks) would never be mutated. The trampoline mutmut puts
in their place keeps the decorator. Any other decorator (`@property`, stacked ones) is still
skipped, as mutmut does.
"""

from __future__ import annotations

import sys

import libcst as cst
from libcst.metadata import PositionProvider
from mutmut.__main__ import cli
from mutmut.mutation.file_mutation import MutationVisitor

_skip = MutationVisitor._skip_node_and_children


def _only_override(node: cst.CSTNode) -> bool:
    return (
        isinstance(node, cst.FunctionDef)
        and bool(node.decorators)
        and all(
            isinstance(d.decorator, cst.Name) and d.decorator.value == "override"
            for d in node.decorators
        )
    )


def _skip_node_and_children(self: MutationVisitor, node: cst.CSTNode) -> bool:
    if not _only_override(node):
        return _skip(self, node)
    assert isinstance(node, cst.FunctionDef)
    position = self.get_metadata(PositionProvider, node, None)
    if position and position.start.line in self._ignored_node_lines:
        return _skip(self, node)  # `# pragma: no mutate block` on the `def` line
    return _skip(self, node.with_changes(decorators=()))


MutationVisitor._skip_node_and_children = _skip_node_and_children  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(cli())
