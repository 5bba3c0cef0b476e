-- Dashboard pages at 1,000,000 messages (issue 21): each page's query reads a bounded run of
-- index entries instead of the table.
--
-- The messages page's search by status walks (status, id) newest first with the page limit. The
-- index compares status with NOCASE (statuses are lowercase, so equality is the same) and only a
-- search that asks for NOCASE can use it: without statistics the planner would otherwise take it
-- for the dispatcher's "status IN ('queued', 'scheduled')" over the outbox index messages_due
-- (TestQueryPlans pins both).
CREATE INDEX messages_status ON messages (status COLLATE NOCASE, id);
-- The charts range on created_at; the index covers what they group and count.
CREATE INDEX messages_created ON messages (created_at, from_number, category, status, id);
-- A conversation's thread: one pair of numbers, newest first, in both directions.
CREATE INDEX messages_thread ON messages (to_number, from_number, created_at, id);
CREATE INDEX inbound_messages_thread ON inbound_messages (from_number, to_number, received_at, id);
