-- Every Routine Load job of the CURRENT database, STOPPED and CANCELLED ones included (run after
-- USE <database>); see show_routine_loads.sql for the grammar this follows.
SHOW ALL ROUTINE LOAD
