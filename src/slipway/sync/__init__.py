"""The status sync: keeps the database true to the cluster. One list+watch per kind for this
installation's objects, a batched write of what changed (`missing` for objects deleted out of
band), and a coordination.k8s.io Lease so exactly one process of an installation runs it
(`slipway worker`); `sync_once` is `slipway sync --once`."""

from slipway.sync._leader import LeaderElector, LeaseTiming, candidate_identity
from slipway.sync._mapping import MISSING_MESSAGE, RowChange
from slipway.sync._syncer import StatusSync, SyncReport, lease_name, sync_once

__all__ = [
    "MISSING_MESSAGE",
    "LeaderElector",
    "LeaseTiming",
    "RowChange",
    "StatusSync",
    "SyncReport",
    "candidate_identity",
    "lease_name",
    "sync_once",
]
