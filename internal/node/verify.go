package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/verify"
	"github.com/switchboard-gw/switchboard/internal/voice"
)

// VerifySecretFile is the file in the data directory that holds the verify secret when none is
// configured.
const VerifySecretFile = "verify-secret"

// openVerify builds the verification service of the configuration.
func (n *Node) openVerify(ctx context.Context, opts Options) error {
	vc := n.cfg.Verify
	from, pool := vc.From, ""
	for _, s := range n.senderList() {
		if from == "" || s.From == from {
			from, pool = s.From, s.Pool
			break
		}
	}
	vcfg := verify.Config{
		Store: n.store, Messages: n.accept, Clock: n.clock, Logger: n.logger.With("component", "verify"), Backend: vc.Backend,
		From: from, Pool: pool, CodeLength: vc.CodeLength, TTL: vc.TTL, MaxSends: vc.MaxSends, MaxChecks: vc.MaxChecks,
		Limits: vc.Limits, AllowedCountries: vc.AllowedCountries, SafeList: vc.SafeList, Pumping: vc.Pumping,
		Fallback: vc.Fallback, FallbackAfter: vc.FallbackAfter, Observer: n.metrics,
		Caller: opts.VerifyCaller, WhatsAppTemplate: vc.WhatsAppTemplate, Templates: n.templates.Load,
		SMSTemplate: vc.SMSTemplate, AppName: vc.AppName, ErrorCodes: n.routes.provider(switchboard.ChannelSMS),
	}
	if vcfg.WhatsAppTemplate != "" && !n.cfg.WhatsApp.Enabled {
		n.logger.Warn("verify_whatsapp_template is ignored: whatsapp_enabled is false", "template", vcfg.WhatsAppTemplate)
		vcfg.WhatsAppTemplate = ""
	}
	if vcfg.Caller == nil {
		// Codes read out by a call go through the provider's Calls API (the simulator's too).
		vcfg.Caller = &voice.Caller{Provider: n.routes.calls}
	}
	switch vc.Backend {
	case verify.BackendBuiltin:
		secret := vc.Secret
		if secret == "" {
			var err error
			if secret, err = ensureVerifySecret(n.cfg.DataDir); err != nil {
				return fmt.Errorf("verify secret (set SWITCHBOARD_VERIFY_SECRET): %w", err)
			}
		}
		vcfg.Secret = []byte(secret)
	case verify.BackendTwilio:
		sid := vc.ServiceSID
		if sid == "" {
			if n.cfg.Provider != config.ProviderSimulator {
				return errors.New("verify_backend twilio needs a Verify service: set SWITCHBOARD_VERIFY_SERVICE_SID (VA...)")
			}
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			var err error
			sid, err = n.provider.CreateVerifyService(sctx, "Switchboard", vc.CodeLength)
			cancel()
			if err != nil {
				return fmt.Errorf("creating a Verify service on the simulator: %w", err)
			}
		}
		vcfg.Twilio = n.provider.Verify(sid)
	}
	if opts.VerifyConfig != nil {
		opts.VerifyConfig(&vcfg)
	}
	svc, err := verify.New(vcfg)
	if err != nil {
		return err
	}
	n.verify = svc
	return nil
}

// ensureVerifySecret returns the secret kept in the data directory, creating it (mode 0600).
func ensureVerifySecret(dataDir string) (string, error) {
	path := filepath.Join(dataDir, VerifySecretFile)
	raw, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(raw))) >= verify.MinSecretBytes {
		return strings.TrimSpace(string(raw)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	secret := hex.EncodeToString(b[:])
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", err
	}
	return secret, nil
}

// Verify is the node's verification service.
func (n *Node) Verify() *verify.Service { return n.verify }
