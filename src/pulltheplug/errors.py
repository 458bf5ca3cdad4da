"""One small exception tree: the CLI turns any of these into one line and exit code 2."""


class PulltheplugError(Exception):
    """Something the user can fix; the message says what to do."""


class SpecError(PulltheplugError):
    """An experiment or campaign spec is wrong."""


class LabError(PulltheplugError):
    """The lab cannot be made, found or used."""


class NotRootError(LabError):
    """The command needs root (namespaces, cgroups, dockerd)."""


class MissingToolError(LabError):
    """A program the lab needs is not installed."""


class ClusterError(PulltheplugError):
    """The cluster (lab or real hosts) does not answer as needed."""


class FaultError(PulltheplugError):
    """A fault could not be injected or reverted."""


class RunError(PulltheplugError):
    """A run folder is missing or unreadable."""
