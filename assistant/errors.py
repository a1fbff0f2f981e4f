"""Error hierarchy. Messages are shown to users as-is, so they say what to do."""


class SourcewiseError(Exception):
    """Base for every error whose message is fit for the user."""


class ConfigError(SourcewiseError):
    """Settings or command-line input that cannot work."""


class SourceError(SourcewiseError):
    """A whole source cannot be read (bad path, wrong ref, unreachable URL, malformed export)."""


class StoreError(SourcewiseError):
    """The vector store or catalog refused an operation."""


class LockedError(StoreError):
    """Another process holds the data directory's writer lock."""


class EmbeddingError(SourcewiseError):
    """The embedding model could not be loaded or run."""


class ItemError(SourcewiseError):
    """One item (file, page) cannot be indexed; recorded and counted, the run goes on.

    ``reason`` is a short machine-friendly code (``binary``, ``too-large``, ...) and the
    message a human explanation.
    """

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or reason)
        self.reason = reason


class PermissionDeniedError(SourcewiseError):
    """The caller may not see or change this thread, feedback, flag or source."""


class NotFoundError(SourcewiseError):
    """A named thing (interaction, flag, user, source) does not exist."""


class DimensionMismatchError(ConfigError, StoreError):
    """The embedding model's vectors and an existing collection's disagree in size.

    A ``ConfigError`` (the settings must change: a new collection) that is also a
    ``StoreError``, so every door that already reports store trouble reports this too.
    """

    def __init__(self, where: str, have: int, got: int) -> None:
        super().__init__(
            f"{where} holds {have}-dimensional vectors but the embedding model makes {got}-dimensional "
            f"ones — collection has dim {have}, got {got}; the embedding model changed. Keep the model "
            "that built it, or index into a new collection: set a new store.collection_prefix "
            "(SOURCEWISE_STORE__COLLECTION_PREFIX) and run `sourcewise index --full`"
        )
        self.have = have
        self.got = got


class RunStopped(Exception):
    """A progress sink raises it when the run must stop on purpose (a cancelled or stopping
    indexing job): the run is recorded ``interrupted``, as for Ctrl-C, never ``failed``, so
    a cancel does not raise the ``index_failing`` alert."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
