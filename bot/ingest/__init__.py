"""Getting articles in: import files now; feeds and pages as the ingest flow grows."""
