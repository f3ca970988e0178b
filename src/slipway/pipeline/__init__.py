"""The project initialization workflow: ordered, idempotent, durable steps (DBOS), with
persisted progress from 0 to 100 %."""

# Registers the delete workflow with DBOS at import, so every worker can recover a delete run.
from slipway.pipeline import delete as delete
