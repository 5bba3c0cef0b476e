-- Verifications per tenant (issue 18). (SQLite: the migration is one write transaction; readers
-- go on reading the schema before it until the commit.)

-- A refusal records the tenant whose request was refused; a tenant lists its own. Every refusal
-- recorded before is tenant default's (a constant default rewrites no row).
ALTER TABLE verify_refusals ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
DROP INDEX verify_refusals_phone;
CREATE INDEX verify_refusals_phone ON verify_refusals (tenant, phone, id);
CREATE INDEX verify_refusals_tenant ON verify_refusals (tenant, id);

-- A number has one pending verification per tenant, not one across tenants: two tenants
-- verifying the same person each get their own verification and code, and neither learns of
-- the other's. The unique index keeps its name and leads with the phone number, so that it also
-- serves the lookup of every tenant's pending verification of a number (the twilio backend
-- refuses a start while another tenant's is pending: Twilio Verify has one verification per
-- number for the whole Verify service). Every existing row is tenant default's and one per
-- number, so the new index holds them all.
DROP INDEX verifications_pending_phone;
CREATE UNIQUE INDEX verifications_pending_phone ON verifications (phone, tenant) WHERE status = 'pending';
-- Twilio Verify answers a start for a number it has a pending verification of with that
-- verification (the same SID): two pending mirrors of one SID are the race of two tenants'
-- starts, which this index settles as the per-number index did before.
CREATE UNIQUE INDEX verifications_pending_provider_sid ON verifications (provider_sid)
	WHERE status = 'pending' AND provider_sid <> '';
