package node

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-gw/switchboard/internal/secretbox"
)

// openSecrets wraps the store so that endpoint secrets are encrypted at rest with the
// configured secret key, and brings the stored ones to the current key (plaintext rows written
// before a key was set, rows of a key rotated out). Without a key it says at start, once and
// clearly, that secrets are stored in plaintext (and metrics say so too); a stored secret that
// no listed key opens stops the node here.
func (n *Node) openSecrets(ctx context.Context) error {
	keys, err := secretbox.ParseKeyring(n.cfg.Security.SecretKey)
	if err != nil {
		return fmt.Errorf("secret_key (SWITCHBOARD_SECRET_KEY): %w", err)
	}
	box := secretbox.Wrap(n.store, keys)
	r, err := box.Reseal(ctx)
	if err != nil {
		return fmt.Errorf("stored secrets: %w", err)
	}
	n.store, n.secretsEncrypted = box, keys != nil
	if keys == nil {
		n.logger.Warn("secrets are stored in PLAINTEXT: set SWITCHBOARD_SECRET_KEY to encrypt endpoint signing secrets and tenants' Twilio credentials at rest (SWITCHBOARD_SECRET_KEY_REQUIRED=true refuses to start without it)",
			"endpoints_with_plaintext_secrets", r.Plaintext, "tenants_with_plaintext_credentials", r.PlaintextCredentials)
		return nil
	}
	if r.Resealed > 0 || r.ResealedCredentials > 0 {
		n.logger.Info("stored secrets encrypted with the current key", "key_id", keys.Current(), "endpoints", r.Resealed,
			"tenant_credentials", r.ResealedCredentials)
	}
	return nil
}

// secretsGauge is switchboard_secrets_encrypted: 1 when stored secrets are encrypted, 0 when
// they are stored in plaintext.
func (n *Node) secretsGauge() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchboard_secrets_encrypted",
		Help: "1 when stored secrets (endpoint signing secrets) are encrypted with secret_key, 0 when they are stored in plaintext."})
	if n.secretsEncrypted {
		g.Set(1)
	}
	return g
}
