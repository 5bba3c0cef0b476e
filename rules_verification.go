package switchboard

// CheckVerification checks a verification before a store creates or updates it: it has an ID, a
// phone number, a known status, its times and metadata within CheckMetadata's limits.
func CheckVerification(v *Verification) error {
	switch {
	case v == nil || v.ID == "" || v.To == "":
		return Errorf(EINVALID, "invalid_verification", "a verification needs an ID and a phone number")
	case !v.Status.Valid():
		return Errorf(EINVALID, "invalid_verification", "unknown verification status %q", v.Status)
	case v.CreatedAt.IsZero() || v.UpdatedAt.IsZero() || v.ExpiresAt.IsZero():
		return Errorf(EINVALID, "invalid_verification", "a verification needs its times")
	}
	v.Tenant = TenantOr(v.Tenant)
	if err := ValidTenantID(v.Tenant); err != nil {
		return err
	}
	if len(v.Metadata) == 0 {
		v.Metadata = nil // as a read of the stored row has it
	}
	return CheckMetadata(v.Metadata)
}
