package node_test

import "testing"

// TestMediaStoreDatabaseOpens: a node with media_store=database opens on SQLite although its store
// is wrapped (secrets at rest): what the engine can do is asked of the engine, not the wrapper.
// TestDrillClockSkew covers the same for the database clock on PostgreSQL.
func TestMediaStoreDatabaseOpens(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{env: map[string]string{"SWITCHBOARD_MEDIA_STORE": "database"}})
	if n.URL() == "" {
		t.Fatal("no node")
	}
}
