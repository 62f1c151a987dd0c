"""Asset checks shared by the code location: columns, counts, keys."""
