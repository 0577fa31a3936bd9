"""Names of the directory attributes that carry a lock (schema: config/schema/bhxh.ldif)."""

LOCKED_VALUE = "000001010000Z"
LOCK_ATTRIBUTES = ("bhxhLockReason", "bhxhLockClause", "bhxhLockNote", "bhxhLockedBy",
                   "bhxhLockTime")
AUX_CLASS = "bhxhAccount"
