package twiliosim

// serviceOfNumber returns the SID of the Messaging Service an owned number belongs to, or "".
func (s *Simulator) serviceOfNumber(number string) string { return "" }
