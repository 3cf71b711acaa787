"""node(id): any object of the viewer's school by its global id."""

from models import directory
from models.reads import users_by_id
from models.rows import CategoryRow, IncidentView, SchoolRow, StudentRow, UserRow
from resolvers import incidents
from resolvers.context import Context
from resolvers.errors import NotFound
from resolvers.ids import decode_any

NodeRow = IncidentView | StudentRow | CategoryRow | UserRow | SchoolRow


async def node(ctx: Context, global_id: str, *, with_history: bool = False) -> NodeRow:
    viewer = ctx.viewer
    decoded = decode_any(global_id)
    if decoded is None:
        raise NotFound("No such object")
    type_name, pk = decoded
    if type_name == "Incident":
        return await incidents.incident(ctx, global_id, with_history=with_history)
    if type_name == "School" and pk == viewer.school.id:
        return viewer.school
    found: NodeRow | None = None
    async with ctx.read() as conn:
        if type_name == "Student":
            found = await directory.student_by_id(conn, viewer.school.id, pk)
        elif type_name == "Category":
            found = await directory.category_by_id(conn, viewer.school.id, pk)
        elif type_name == "User":
            found = (await users_by_id(conn, viewer.school.id, [pk])).get(pk)
    if found is None:
        raise NotFound("No such object")
    return found
