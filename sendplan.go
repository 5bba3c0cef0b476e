package switchboard

// PolicyBlock is why policy stops a message right before it is handed to the provider (an
// opt-out that arrived after acceptance, WhatsApp's window rule, media over the provider's
// limits): Switchboard's error class and words for the timeline. The message ends blocked and
// records the code its provider has for the class (ErrorCodes) as detail, so that the dashboard
// groups it with the provider's own refusals.
type PolicyBlock struct {
	Class  ErrorClass
	Reason string
}

// SendPlan is how a message goes, decided right before its attempt by the send policies the
// dispatcher asks (WhatsApp's window, the media limits).
type SendPlan struct {
	// Block, when set, stops the message (blocked) instead.
	Block *PolicyBlock
	// ContentSID and ContentVariables send a content template instead of the body.
	ContentSID, ContentVariables string
	// Note explains the decision on the attempt's timeline entry.
	Note string
}
