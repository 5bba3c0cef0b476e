package node

import (
	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/accept"
	"github.com/switchboard-gw/switchboard/internal/api"
	"github.com/switchboard-gw/switchboard/internal/consent"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/events"
	"github.com/switchboard-gw/switchboard/internal/export"
	"github.com/switchboard-gw/switchboard/internal/media"
	"github.com/switchboard-gw/switchboard/internal/postgres"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/verify"
	"github.com/switchboard-gw/switchboard/internal/voice"
	"github.com/switchboard-gw/switchboard/internal/web"
	"github.com/switchboard-gw/switchboard/internal/webhook"
	"github.com/switchboard-gw/switchboard/internal/whatsapp"
)

// The node is the one place that holds the whole store: every other package declares the part
// it uses. These checks fail the build when an engine stops being a switchboard.Store, or when a
// consumer's interface asks for something the store does not have.
var (
	_ switchboard.Store = (*sqlite.DB)(nil)
	_ switchboard.Store = (*postgres.DB)(nil)

	_ accept.Store   = switchboard.Store(nil)
	_ api.Store      = switchboard.Store(nil)
	_ consent.Store  = switchboard.Store(nil)
	_ dispatch.Store = switchboard.Store(nil)
	_ events.Store   = switchboard.Store(nil)
	_ export.Store   = switchboard.Store(nil)
	_ media.Queue    = switchboard.Store(nil)
	_ verify.Store   = switchboard.Store(nil)
	_ voice.Store    = switchboard.Store(nil)
	_ web.Store      = switchboard.Store(nil)
	_ webhook.Store  = switchboard.Store(nil)
	_ whatsapp.Store = switchboard.Store(nil)

	// What the engines add beyond the store, wired in OpenEngine.
	_ dispatch.Limiter       = (*postgres.DB)(nil)
	_ switchboard.MediaBlobs = (*sqlite.DB)(nil)
	_ switchboard.MediaBlobs = (*postgres.DB)(nil)
)
