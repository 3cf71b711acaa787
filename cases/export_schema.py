"""Writes the schema SDL to schema.graphql (`python -m cases.export_schema`)."""

from pathlib import Path

from schema import schema

SDL_PATH = Path(__file__).resolve().parent.parent / "schema.graphql"


def sdl() -> str:
    return schema.as_str() + "\n"


if __name__ == "__main__":
    SDL_PATH.write_text(sdl())
    print(f"wrote {SDL_PATH}")
