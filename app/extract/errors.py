"""Why a file could not be turned into text; every case is the environment's fault, not ours.

    ExtractionError              base; carries ``status`` ("skipped" or "failed") and a reason
    ├── Unsupported              binary or unknown format (skipped)
    ├── EmptyFile                zero bytes or no text at all (skipped)
    ├── TooLarge                 larger than the user's max file size (skipped)
    ├── Unreadable               permission denied, vanished, not a regular file (skipped)
    ├── Encrypted                password-protected document (skipped)
    ├── UndecodableText          bytes that fit no text encoding (skipped)
    ├── NeedsOcr                 a scan or photo, and OCR is off or not installed (skipped)
    ├── Corrupt                  truncated or malformed document (failed)
    ├── TooMuchMemory            parsing needed more than the per-worker memory limit (failed)
    └── ExtractionTimeout        the per-file time limit ran out, or the worker died (failed)

Anything else escaping an extractor is a bug in Quarry; the sandbox turns it into ``Corrupt``
with the exception text so one odd file never stops a run, and logs the traceback.
"""

from __future__ import annotations

SKIPPED = "skipped"
FAILED = "failed"


class ExtractionError(Exception):
    """A file that yields no text for a reason the user can understand and act on."""

    status: str = SKIPPED
    #: Whether trying again later could succeed (a timeout may, an encrypted PDF never will).
    retryable: bool = False

    @property
    def reason(self) -> str:
        """Short human-readable reason, as shown in the problem-files list."""
        return str(self) or type(self).__name__


class Unsupported(ExtractionError):
    """Binary file or a format Quarry has no extractor for."""


class EmptyFile(ExtractionError):
    """Zero bytes, or a document whose text is blank."""


class TooLarge(ExtractionError):
    """The file exceeds the configured maximum size."""


class Unreadable(ExtractionError):
    """The OS refused to read the file (permissions, vanished, special file)."""


class Encrypted(ExtractionError):
    """The document needs a password."""


class UndecodableText(ExtractionError):
    """Looks like text but no encoding decodes it sensibly (e.g. invalid UTF-8 garbage)."""


class NeedsOcr(ExtractionError):
    """Text only in images (a scan, a photo) while OCR is off or has no engine.

    The indexer remembers such files, so switching OCR on re-reads exactly these.
    """


class Corrupt(ExtractionError):
    """Truncated or malformed document; the library that parses it gave up."""

    status = FAILED


class TooMuchMemory(ExtractionError):
    """Parsing the file needed more memory than one extraction worker may use."""

    status = FAILED


class ExtractionTimeout(ExtractionError):
    """Extraction ran past the per-file limit or crashed its worker process."""

    status = FAILED
    retryable = True


ERRORS: dict[str, type[ExtractionError]] = {
    cls.__name__: cls
    for cls in (
        ExtractionError,
        Unsupported,
        EmptyFile,
        TooLarge,
        Unreadable,
        Encrypted,
        UndecodableText,
        NeedsOcr,
        Corrupt,
        TooMuchMemory,
        ExtractionTimeout,
    )
}
