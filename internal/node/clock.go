package node

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/clocksync"
	"github.com/switchboard-gw/switchboard/internal/config"
)

// clockEvery is how often a node measures its clock's offsets to the database and the provider.
const clockEvery = 15 * time.Second

// openClock makes the node's clock the cluster's when the store has a clock of its own
// (PostgreSQL): the node's clock corrected to the database's, measured now and then every
// clockEvery. Every time the node writes or compares — leases, due times, schedules, timelines,
// acceptance — is then on the database's time scale whatever the node's own clock says. SQLite
// has one process: its node's clock is the database's.
func (n *Node) openClock(ctx context.Context) {
	if n.engine.Now == nil {
		return
	}
	n.csync = clocksync.New(n.clock, n.engine.Now)
	m, err := n.csync.Measure(ctx)
	if err != nil {
		n.logger.Warn("could not read the database's clock; using this node's until it can", "err", err)
	} else if m.Offset.Abs() > n.cfg.ClockSkewWarn {
		n.logger.Warn("this node's clock is off the database's; correcting to the database's (fix NTP on this host)",
			"offset", m.Offset.Round(time.Millisecond), "warn_above", n.cfg.ClockSkewWarn, "max", n.cfg.ClockSkewMax)
	}
	n.clock = n.csync.Now
}

// healthLoop measures the clock offsets and the data directory's free space every clockEvery
// until ctx ends, exports them and warns about them.
func (n *Node) healthLoop(ctx context.Context) {
	n.reportClock()
	n.reportDisk()
	t := time.NewTicker(clockEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n.csync != nil {
			mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := n.csync.Measure(mctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				n.logger.Warn("measuring the clock offset to the database", "err", err)
			}
		}
		n.reportClock()
		n.reportDisk()
	}
}

// dataDir is the directory whose file system holds the node's writes: the SQLite database's,
// else the data directory.
func (n *Node) dataDir() string {
	if engine, dsn, err := config.ParseDatabaseURL(n.cfg.DatabaseURL); err == nil && engine == "sqlite" {
		return filepath.Dir(dsn)
	}
	return n.cfg.DataDir
}

// reportDisk exports the free space of the data directory's file system and warns under 10%.
func (n *Node) reportDisk() {
	dir := n.dataDir()
	if dir == "" {
		return
	}
	free, size, err := diskSpace(dir)
	if err != nil {
		return
	}
	n.metrics.DiskFree(free, size)
	if size > 0 && free < size/10 {
		n.logger.Warn("the data directory's file system is over 90% full; writes fail with disk_full when it is full",
			"dir", dir, "free_bytes", free, "size_bytes", size)
	}
}

// reportClock exports the last offsets and warns about those above clock_skew_warn.
func (n *Node) reportClock() {
	if n.csync != nil {
		if m, ok := n.csync.Last(); ok && m.Err == nil {
			n.metrics.ClockOffset("database", m.Offset)
			if m.Offset.Abs() > n.cfg.ClockSkewWarn {
				n.logger.Warn("clock skew: this node's clock is off the database's", "offset", m.Offset.Round(time.Millisecond),
					"warn_above", n.cfg.ClockSkewWarn, "max", n.cfg.ClockSkewMax)
			}
		}
	}
	if off, ok := n.provider.ClockOffset(); ok {
		n.metrics.ClockOffset("provider", off)
		if off.Abs() > n.cfg.ClockSkewWarn+time.Second { // the Date header has whole seconds
			n.logger.Warn("clock skew: this node's clock is off the provider's (Date header)", "offset", off.Round(time.Second),
				"warn_above", n.cfg.ClockSkewWarn)
		}
	}
}

// clockPause is the dispatcher's Pause: a node whose clock is more than clock_skew_max off the
// database's stops dispatching. Its times are corrected, but an offset that large means the
// host's time keeping is broken (and the correction is only as good as its last measurement).
func (n *Node) clockPause() string {
	if n.csync == nil {
		return ""
	}
	if _, ok := n.csync.Last(); !ok {
		return ""
	}
	if off := n.dbOffset(); off.Abs() > n.cfg.ClockSkewMax {
		return fmt.Sprintf("this node's clock is %s off the database's, more than clock_skew_max (%s); fix its time keeping (NTP)",
			off.Round(time.Millisecond), n.cfg.ClockSkewMax)
	}
	return ""
}

// health is /readyz's view of the node beyond its store: the clock offsets, and an error while
// the node's clock is too far off to dispatch.
func (n *Node) health(context.Context) (map[string]any, error) {
	clock := map[string]any{}
	if n.csync != nil {
		clock["database_offset_ms"] = n.dbOffset().Milliseconds()
	}
	if off, ok := n.provider.ClockOffset(); ok {
		clock["provider_offset_ms"] = off.Milliseconds()
	}
	info := map[string]any{"clock": clock}
	if why := n.clockPause(); why != "" {
		return nil, switchboard.Errorf(switchboard.EUNAVAILABLE, "clock_skew", "%s", why)
	}
	return info, nil
}

// healthLine is the dashboard's one line about this node's clock.
func (n *Node) healthLine() string {
	line := "Clock: "
	if n.csync != nil {
		line += fmt.Sprintf("%s off the database's", n.dbOffset().Round(time.Millisecond))
	} else {
		line += "the database's (SQLite)"
	}
	if off, ok := n.provider.ClockOffset(); ok {
		line += fmt.Sprintf(", %s off the provider's", off.Round(time.Second))
	}
	if why := n.clockPause(); why != "" {
		line += ". Dispatching is paused: " + why
	} else if n.csync != nil && n.dbOffset().Abs() > n.cfg.ClockSkewWarn {
		line += fmt.Sprintf(". Above clock_skew_warn (%s): fix NTP on this host", n.cfg.ClockSkewWarn)
	}
	return line + "."
}

// dbOffset is the database's clock minus this node's as last measured (the offset in use when
// no measurement succeeded; see clocksync.MinCorrection for why a small one is not applied).
func (n *Node) dbOffset() time.Duration {
	if m, ok := n.csync.Last(); ok && m.Err == nil {
		return m.Offset
	}
	return n.csync.Offset()
}
