-- The Routine Load jobs of the CURRENT database that are not STOPPED/CANCELLED (run after USE <database>).
-- Doris's grammar has no "FROM <db>" form (that is StarRocks syntax): apache/doris DorisParser.g4,
--   SHOW ALL? ROUTINE LOAD ((FOR label=multipartIdentifier) | (LIKE STRING_LITERAL)?)   #showRoutineLoad
-- and ShowRoutineLoadStmt lists the session's current database when no job name is given.
-- Columns read: Name, State, ReasonOfStateChanged, Statistic (JSON), DataSourceProperties (JSON), CreateTime.
SHOW ROUTINE LOAD
