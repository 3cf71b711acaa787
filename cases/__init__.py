"""Application assembly, settings, authentication and the `cases` CLI."""
