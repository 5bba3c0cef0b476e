package switchboard

// CheckVerification checks a verification before a store creates or updates it: it has an ID, a
// phone number, a known status and its times.
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
	return nil
}
