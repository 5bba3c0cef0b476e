package config

import (
	"strings"
	"testing"
	"time"
)

func TestAlertSettings(t *testing.T) {
	t.Parallel()
	c, err := Load(nil, envOfMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Alerts{DeliveryRateThreshold: 0, DeliveryRateRecover: 0.02, DeliveryRateWindow: 15 * time.Minute, DeliveryRateMinSamples: 20, Interval: time.Minute}
	if c.Alerts != want || c.MetricsQueueMaxAge != 5*time.Second {
		t.Fatalf("defaults: %+v, queue max age %v", c.Alerts, c.MetricsQueueMaxAge)
	}
	c, err = Load(nil, envOfMap(map[string]string{
		"SWITCHBOARD_ALERTS_DELIVERY_RATE_THRESHOLD": "0.9", "SWITCHBOARD_ALERTS_DELIVERY_RATE_WINDOW": "1h",
		"SWITCHBOARD_ALERTS_DELIVERY_RATE_MIN_SAMPLES": "5", "SWITCHBOARD_ALERTS_INTERVAL": "10s", "SWITCHBOARD_METRICS_QUEUE_MAX_AGE": "0",
		"SWITCHBOARD_ALERTS_DELIVERY_RATE_RECOVER": "0.05",
	}))
	want = Alerts{DeliveryRateThreshold: 0.9, DeliveryRateRecover: 0.05, DeliveryRateWindow: time.Hour, DeliveryRateMinSamples: 5, Interval: 10 * time.Second}
	if err != nil || c.Alerts != want || c.MetricsQueueMaxAge != 0 {
		t.Fatalf("settings: %+v %v %v", c.Alerts, c.MetricsQueueMaxAge, err)
	}
	for env, bad := range map[string]string{
		"SWITCHBOARD_ALERTS_DELIVERY_RATE_THRESHOLD":   "1.5",
		"SWITCHBOARD_ALERTS_DELIVERY_RATE_RECOVER":     "-0.1",
		"SWITCHBOARD_ALERTS_DELIVERY_RATE_WINDOW":      "0",
		"SWITCHBOARD_ALERTS_DELIVERY_RATE_MIN_SAMPLES": "0",
		"SWITCHBOARD_ALERTS_INTERVAL":                  "soon",
		"SWITCHBOARD_METRICS_QUEUE_MAX_AGE":            "-1s",
	} {
		if _, err := Load(nil, envOfMap(map[string]string{env: bad})); err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%s=%s: error %v does not name the variable", env, bad, err)
		}
	}
}
