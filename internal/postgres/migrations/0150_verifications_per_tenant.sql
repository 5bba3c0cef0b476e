-- Verifications per tenant (issue 18).
--
-- Like every migration this runs in one transaction (internal/migrate), where CREATE INDEX
-- CONCURRENTLY cannot: the statements are ordered so that what blocks reads is short. Locks are
-- held until the commit, so the refusals come first (their ACCESS EXCLUSIVE lock, from ADD
-- COLUMN, then lasts through the build of the verifications' indexes: refused starts wait, as
-- every write of a verification does), then the new indexes of verifications are built under a
-- SHARE lock that lets reads of verifications go on while writes wait for the scan
-- (docs/production.md gives its length), and the old index is dropped and the new one renamed
-- last, so that the ACCESS EXCLUSIVE lock the drop takes on verifications ends at once.

-- A refusal records the tenant whose request was refused; a tenant lists its own. Every refusal
-- recorded before is tenant default's (a constant default rewrites no row).
ALTER TABLE verify_refusals ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT 'default';
CREATE INDEX verify_refusals_tenant_phone ON verify_refusals (tenant, phone, id);
CREATE INDEX verify_refusals_tenant ON verify_refusals (tenant, id);
DROP INDEX verify_refusals_phone;
ALTER INDEX verify_refusals_tenant_phone RENAME TO verify_refusals_phone;

-- A number has one pending verification per tenant, not one across tenants: two tenants
-- verifying the same person each get their own verification and code, and neither learns of
-- the other's. The unique index keeps its name (a node of the previous release recognizes its
-- violation, by that name, as verification_pending) and leads with the phone number, so that
-- it also serves the lookup of every tenant's pending verification of a number (the twilio
-- backend refuses a start while another tenant's is pending: Twilio Verify has one verification
-- per number for the whole Verify service). Every existing row is tenant default's and one per
-- number, so the new index holds them all.
CREATE UNIQUE INDEX verifications_pending_phone_tenant ON verifications (phone, tenant) WHERE status = 'pending';
-- Twilio Verify answers a start for a number it has a pending verification of with that
-- verification (the same SID): two pending mirrors of one SID are the race of two tenants'
-- starts, which this index settles as the per-number index did before.
CREATE UNIQUE INDEX verifications_pending_provider_sid ON verifications (provider_sid)
	WHERE status = 'pending' AND provider_sid <> '';
DROP INDEX verifications_pending_phone;
ALTER INDEX verifications_pending_phone_tenant RENAME TO verifications_pending_phone;
