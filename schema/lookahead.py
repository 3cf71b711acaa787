"""What the client's selection asks for, so a resolver can read it in one go."""

from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

Selection = SelectedField | FragmentSpread | InlineFragment


def asks_for(info: Info, field_name: str) -> bool:
    """True when `field_name` appears anywhere below the current field."""
    return any(_contains(selection, field_name) for selection in info.selected_fields)


def _contains(selection: Selection, field_name: str) -> bool:
    if isinstance(selection, SelectedField) and selection.name == field_name:
        return True
    return any(_contains(child, field_name) for child in selection.selections)
