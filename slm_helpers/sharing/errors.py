"""The errors of :mod:`slm_helpers.sharing`: each says what was expected, what was found and what to do."""

from __future__ import annotations


class SharingError(Exception):
    """Base class: something about a model package or a hub is not as it should be."""


class InvalidRepoIdError(SharingError, ValueError):
    """A repo id that is not ``owner/name`` made of safe characters."""


class InvalidVersionError(SharingError, ValueError):
    """A version or revision name the hub does not accept."""


class ManifestError(SharingError):
    """A package without a readable, well-formed ``manifest.json``."""


class TamperedFileError(SharingError):
    """A package whose files do not match its manifest (changed, missing or unexpected files)."""


class UnsafeFileError(SharingError):
    """A file the course refuses to publish or load (pickles, symlinks, unknown formats)."""


class RepoNotFoundError(SharingError, LookupError):
    """A repo id the hub does not hold."""


class VersionNotFoundError(SharingError, LookupError):
    """A revision the repo does not hold."""


class VersionExistsError(SharingError):
    """Publishing a version that already exists: published versions never change."""


class HubBusyError(SharingError, TimeoutError):
    """The repo stayed locked by another publisher for longer than the timeout."""
