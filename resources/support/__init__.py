"""Small libraries shared by the resources and their libraries: secret redaction, GC pauses,
a read-ahead thread."""
