package templates

import (
	"context"
	"time"
)

// Watch keeps a catalog of dir current until ctx is done. It loads dir at once and calls
// onChange with the result, then looks for changes every poll interval (WithPollInterval,
// default one second: it compares the names, sizes and modification times of the files, so it
// needs no file-system notifications and works on network and ConfigMap volumes) and reloads
// once a change has held for one interval, so that a file caught half-written is usually read
// again whole before anything is reported. Writing files atomically (a temporary file renamed
// into place, or a name starting with "." that is then renamed) avoids half-written reads
// altogether.
//
// onChange(c, nil) delivers a new catalog to use from now on. onChange(c, err) reports a load
// that failed (err is a *LoadError, which also covers a directory that cannot be read): c is then the
// last good catalog Watch delivered, unchanged, or nil when there was none yet, so a broken edit
// never replaces a working catalog. Callers usually keep c when it is not nil and log err.
//
// onChange runs on Watch's goroutine, one call at a time. Watch returns when ctx is done.
func Watch(ctx context.Context, dir string, onChange func(*Catalog, error), opts ...Option) {
	o := newOptions(opts)
	if o.poll <= 0 {
		o.poll = DefaultPollInterval
	}
	var current *Catalog
	last, pending := "", ""
	load := func() {
		c, err := Load(dir, opts...)
		last = c.fingerprint // as scanned before the files were read: a later change shows
		if err != nil {
			onChange(current, err)
			return
		}
		current = c
		onChange(c, nil)
	}
	load()
	ticker := time.NewTicker(o.poll)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		fp := fingerprint(dir)
		switch {
		case fp == last:
			pending = ""
		case fp == pending:
			pending = ""
			load()
		default:
			pending = fp // changed: load once it holds still for an interval
		}
	}
}
