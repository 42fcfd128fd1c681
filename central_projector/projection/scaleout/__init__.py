"""Scale-out: projection and ingest spread over workers by partition, with leases."""
