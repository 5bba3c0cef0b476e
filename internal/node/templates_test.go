package node_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
)

// TestSendByTemplateThroughANode: a node configured with the example catalog renders and
// delivers a template, records its name and version, and picks up a catalog edit.
func TestSendByTemplateThroughANode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, err := os.ReadFile("../../examples/templates/field-service/en.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "en.yaml"), src, 0o600)
	n := startNode(t, nodeOpts{env: map[string]string{"SWITCHBOARD_TEMPLATES_DIR": dir}})
	ctx := context.Background()
	vars := map[string]string{"job_id": "J-77", "service": "Boiler service", "address": "12 Elm St",
		"date": "2026-03-05", "time": "14:30", "link": "https://app.example.com/jobs/J-77"}
	m, err := n.client.Send(ctx, &client.SendRequest{To: "+14155550100", Template: "job_assigned", Variables: vars})
	if err != nil {
		t.Fatal(err)
	}
	if m.Template != "job_assigned" || m.TemplateVersion != 1 || !strings.HasPrefix(m.Body, "New job J-77: Boiler service") {
		t.Fatalf("rendered: %+v", m)
	}
	n.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusDelivered)
	// A new version dropped into the directory is used once the watcher reloads it.
	v2 := `name: job_assigned
version: 2
locale: en
category: transactional
body: "Job {{job_id}} for you: {{service}} at {{address}}, {{date}} {{time}}. {{link}}"
variables:
  job_id: {type: string, max_length: 12, example: "J-10482"}
  service: {type: string, max_length: 40, example: "Boiler service"}
  address: {type: string, max_length: 80, example: "12 Elm St"}
  date: {type: date, example: "2026-03-05"}
  time: {type: time, example: "14:30"}
  link: {type: url, example: "https://app.example.com/jobs/J-10482"}
`
	os.WriteFile(filepath.Join(dir, "v2.yaml"), []byte(v2), 0o600)
	waitFor(t, 15*time.Second, "the catalog reload", func() bool {
		m, err := n.client.Send(ctx, &client.SendRequest{To: "+14155550100", Template: "job_assigned", Variables: vars})
		return err == nil && m.TemplateVersion == 2 && strings.HasPrefix(m.Body, "Job J-77 for you")
	})
}
