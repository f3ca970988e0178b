"""The project initialization workflow: ordered, idempotent, durable steps (DBOS), with
persisted progress from 0 to 100 %."""

# Registers the delete and rotation workflows with DBOS at import, so every worker can run
# and recover them.
from slipway.pipeline import delete as delete
from slipway.pipeline import rotate as rotate
