"""The REST API over evaluation data: reads, results in, imports, and the job queue (docs/api.md)."""
