"""History import as a Temporal workflow (extra ``temporal``).

The workflow cuts the import into activities: begin, list one page of chats, import a chunk of
chats, finish. Chunks are deterministic, so a retried activity resumes from its checkpoint;
after ``pages_per_run`` listing pages the workflow continues as new, so its history stays
small however large the account. Authentication and permission errors are not retried.

Host side::

    activities = HistoryImportActivities(importer, sink)          # your HistoryImporter
    worker = create_worker(client, "history", activities)
    await client.execute_workflow(HistoryImportWorkflow.run, HistoryImportInput(...),
                                  id="import-<channel>", task_queue="history")
"""

from ventros_channels.contrib.temporal.activities import HistoryImportActivities, create_worker
from ventros_channels.contrib.temporal.workflow import (
    NON_RETRYABLE,
    ChunkInput,
    ChunkResult,
    FinishInput,
    HistoryImportInput,
    HistoryImportSummary,
    HistoryImportWorkflow,
    ListInput,
    ListResult,
)

__all__ = [
    "NON_RETRYABLE",
    "ChunkInput",
    "ChunkResult",
    "FinishInput",
    "HistoryImportActivities",
    "HistoryImportInput",
    "HistoryImportSummary",
    "HistoryImportWorkflow",
    "ListInput",
    "ListResult",
    "create_worker",
]
