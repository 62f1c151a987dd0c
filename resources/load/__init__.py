"""The load engine: every table is written through here.

- contract.py: what a target table is (read from the catalog), what a load takes and reports;
- value_checks.py, rejections.py: each value checked against its column; what a column cannot
  store is nulled or its row left out, and recorded (ops.rejected_values);
- engine.py: the orchestration, one entry point per use: chunks -> binary COPY into a stage
  -> one set-based merge, or straight into an empty target (`load`); a stream from another
  database into one scope (`load_stream`);
- prepare.py: the column contract of a load (`Plan`) and each chunk's values converted and
  checked for COPY (`prepare_chunk`), their rejections tallied and recorded (`Tally`);
- binary_copy.py: the COPY wire: fast binary dumpers, a writer thread, a value the driver or
  the server refused (or a key the batch repeats) named with its table, column and key; a
  load COPYed straight in;
- merge.py: the merge and replace-scope statements and what runs them (a scope as a WHERE
  clause, whether a target or scope is empty, the merge applied, the scope's deletes);
- spool.py: pull first, apply later (spool while a source is read, apply in one transaction);
- locks.py: one run at a time per (asset, partition).

resources/warehouse.py (the `warehouse` resource) is the entry point assets use.
"""

from .contract import Chunk, LoadError, LoadResult, ScopeValue, TargetColumn, TargetTable, describe_table
from .engine import load, load_stream
from .locks import LockBusyError, advisory_xact_lock
from .rejections import Quarantine
from .spool import PulledRange, Spool, Spooler

__all__ = [
    "Chunk",
    "LoadError",
    "LoadResult",
    "LockBusyError",
    "PulledRange",
    "Quarantine",
    "ScopeValue",
    "Spool",
    "Spooler",
    "TargetColumn",
    "TargetTable",
    "advisory_xact_lock",
    "describe_table",
    "load",
    "load_stream",
]
