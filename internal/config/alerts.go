package config

import (
	"fmt"
	"strconv"
	"time"
)

// Alerts are the settings of the built-in alerts.
type Alerts struct {
	// DeliveryRateThreshold fires alert.delivery_rate_low for a sender whose share of delivered
	// messages among its outcomes in DeliveryRateWindow is below it; 0 disables the alert.
	DeliveryRateThreshold float64
	// DeliveryRateRecover is the margin above the threshold at which a firing alert recovers.
	DeliveryRateRecover float64
	// DeliveryRateWindow is the sliding window of outcomes.
	DeliveryRateWindow time.Duration
	// DeliveryRateMinSamples is how many outcomes a sender needs in the window before its rate
	// counts either way.
	DeliveryRateMinSamples int
	// Interval is how often each node evaluates the alerts.
	Interval time.Duration
}

// buildAlerts reads the alert and metrics settings.
func (c *Config) buildAlerts(v map[string]string) error {
	var err error
	a := &c.Alerts
	if a.DeliveryRateThreshold, err = strconv.ParseFloat(v["alerts_delivery_rate_threshold"], 64); err != nil ||
		a.DeliveryRateThreshold < 0 || a.DeliveryRateThreshold > 1 {
		return fmt.Errorf("config: alerts_delivery_rate_threshold=%q must be a number from 0 to 1 such as 0.9 (0 disables); set SWITCHBOARD_ALERTS_DELIVERY_RATE_THRESHOLD", v["alerts_delivery_rate_threshold"])
	}
	if a.DeliveryRateRecover, err = strconv.ParseFloat(v["alerts_delivery_rate_recover"], 64); err != nil ||
		a.DeliveryRateRecover < 0 || a.DeliveryRateRecover > 1 {
		return fmt.Errorf("config: alerts_delivery_rate_recover=%q must be a number from 0 to 1 such as 0.02; set SWITCHBOARD_ALERTS_DELIVERY_RATE_RECOVER", v["alerts_delivery_rate_recover"])
	}
	if a.DeliveryRateWindow, err = parseDays(v["alerts_delivery_rate_window"]); err != nil || a.DeliveryRateWindow <= 0 {
		return fmt.Errorf("config: alerts_delivery_rate_window=%q is not a positive duration such as 15m; set SWITCHBOARD_ALERTS_DELIVERY_RATE_WINDOW", v["alerts_delivery_rate_window"])
	}
	if a.DeliveryRateMinSamples, err = strconv.Atoi(v["alerts_delivery_rate_min_samples"]); err != nil || a.DeliveryRateMinSamples < 1 {
		return fmt.Errorf("config: alerts_delivery_rate_min_samples=%q must be a positive integer; set SWITCHBOARD_ALERTS_DELIVERY_RATE_MIN_SAMPLES", v["alerts_delivery_rate_min_samples"])
	}
	if a.Interval, err = time.ParseDuration(v["alerts_interval"]); err != nil || a.Interval <= 0 {
		return fmt.Errorf("config: alerts_interval=%q is not a positive duration such as 1m; set SWITCHBOARD_ALERTS_INTERVAL", v["alerts_interval"])
	}
	if c.MetricsQueueMaxAge, err = time.ParseDuration(v["metrics_queue_max_age"]); err != nil || c.MetricsQueueMaxAge < 0 {
		return fmt.Errorf("config: metrics_queue_max_age=%q is not a duration such as 5s (0: every scrape); set SWITCHBOARD_METRICS_QUEUE_MAX_AGE", v["metrics_queue_max_age"])
	}
	return nil
}
