"""The project initialization workflow: ordered, idempotent, durable steps (DBOS), with
persisted progress from 0 to 100 %."""
