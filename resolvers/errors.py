"""Expected refusals, each carrying the contract's error code."""


class CasesError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def extensions(self) -> dict[str, str]:
        extensions = {"code": self.code}
        if self.field is not None:
            extensions["field"] = self.field
        return extensions


class Unauthenticated(CasesError):
    code = "UNAUTHENTICATED"


class Forbidden(CasesError):
    code = "FORBIDDEN"


class NotFound(CasesError):
    code = "NOT_FOUND"


class BadUserInput(CasesError):
    code = "BAD_USER_INPUT"


class Conflict(CasesError):
    code = "CONFLICT"


class ModuleDisabled(CasesError):
    code = "MODULE_DISABLED"

    def __init__(self, message: str = "The Cases module is switched off") -> None:
        super().__init__(message)
