-- The dashboard's and the API's verification lists filter by number, newest first.
CREATE INDEX verifications_phone ON verifications (phone, id);
