"""Requests as columns (numpy arrays): what analysis reads when a run holds millions of requests.

One `RequestRecord` costs ~200 bytes and a microsecond to make; ten million of them do not fit the budget
(10 s, 1 GB). Strings (entry, error, node, task) are codes into small name lists, outcomes are 0 ok,
1 fail, 2 info, a missing `sent` is NaN and a missing status is -1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pulltheplug.records.model import Outcome, RequestRecord

OUTCOMES: tuple[Outcome, ...] = ("ok", "fail", "info")
OK, FAIL, INFO = 0, 1, 2
NONE = -1  # the code of a missing string, and the status of no answer

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I8 = npt.NDArray[np.int8]


def codes_of(values: Sequence[str | None]) -> tuple[I32, list[str]]:
    """Codes (NONE for None) and the names they index, in order of first appearance."""
    names: dict[str, int] = {}
    codes = np.fromiter((NONE if v is None else names.setdefault(v, len(names)) for v in values), np.int32,
                        count=len(values))
    return codes, list(names)


@dataclass(frozen=True)
class RequestColumns:
    k: I64
    due: F64
    sent: F64  # NaN: never sent
    end: F64
    target: I32
    targets: list[str]
    outcome: I8
    status: I32  # NONE: no answer
    error: I32
    errors: list[str]
    node: I32
    nodes: list[str]
    task: I32
    tasks: list[str]

    def __len__(self) -> int:
        return len(self.k)

    @classmethod
    def from_records(cls, records: Sequence[RequestRecord]) -> RequestColumns:
        n = len(records)
        target, targets = codes_of([r.target for r in records])
        error, errors = codes_of([r.error for r in records])
        node, nodes = codes_of([r.node for r in records])
        task, tasks = codes_of([r.task for r in records])
        index = {o: i for i, o in enumerate(OUTCOMES)}
        return cls(
            k=np.fromiter((r.k for r in records), np.int64, count=n),
            due=np.fromiter((r.due for r in records), np.float64, count=n),
            sent=np.fromiter((np.nan if r.sent is None else r.sent for r in records), np.float64, count=n),
            end=np.fromiter((r.end for r in records), np.float64, count=n),
            target=target, targets=targets,
            outcome=np.fromiter((index[r.outcome] for r in records), np.int8, count=n),
            status=np.fromiter((NONE if r.status is None else r.status for r in records), np.int32, count=n),
            error=error, errors=errors, node=node, nodes=nodes, task=task, tasks=tasks,
        )

    def record(self, i: int) -> RequestRecord:
        """Request `i` as a record (for the few that analysis looks at one by one)."""

        def name(codes: I32, names: list[str]) -> str | None:
            c = int(codes[i])
            return None if c == NONE else names[c]

        sent = float(self.sent[i])
        status = int(self.status[i])
        return RequestRecord(int(self.k[i]), float(self.due[i]), None if np.isnan(sent) else sent, float(self.end[i]),
                             self.targets[self.target[i]], OUTCOMES[self.outcome[i]],
                             None if status == NONE else status, name(self.error, self.errors),
                             name(self.node, self.nodes), name(self.task, self.tasks))

    def latest(self) -> list[RequestRecord]:
        """The request that ended last, alone (what `phases_of` dates a run's end by); none for no request."""
        return [self.record(int(np.argmax(self.end)))] if len(self) else []

    def records(self, where: npt.NDArray[np.bool_] | None = None) -> list[RequestRecord]:
        idx = range(len(self)) if where is None else np.flatnonzero(where)
        return [self.record(int(i)) for i in idx]
