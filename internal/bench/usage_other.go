//go:build !unix

package bench

import "time"

// cpuTime is unknown on this platform.
func cpuTime() (time.Duration, bool) { return 0, false }

// resetPeakRSS is not possible on this platform.
func resetPeakRSS() bool { return false }

// peakRSS is unknown on this platform.
func peakRSS() int64 { return 0 }

// loadAvg is unknown on this platform.
func loadAvg() (float64, bool) { return 0, false }
