"""What the product writes: the audit trail, plan files, reports, sealed credentials,
and the one atomic, private way every file is written."""
