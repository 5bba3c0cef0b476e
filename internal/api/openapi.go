package api

import (
	"bytes"
	_ "embed" // the OpenAPI document
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"

	switchboard "github.com/switchboard-gw/switchboard"
)

// openAPIJSON is the OpenAPI 3.1 document of the whole HTTP surface: the API, the webhook ingress
// and the simulator's control API. TestOpenAPI holds it to the routes actually served.
//
//go:embed openapi.json
var openAPIJSON []byte

// openAPIDocument returns the OpenAPI document with info.version set to version. The rest of the
// document is kept byte for byte, so that it reads as written.
func openAPIDocument(version string) ([]byte, error) {
	var doc struct {
		Info json.RawMessage `json:"info"`
	}
	if err := json.Unmarshal(openAPIJSON, &doc); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	if len(infoVersion.FindAllIndex(doc.Info, -1)) != 1 || bytes.Count(openAPIJSON, doc.Info) != 1 {
		return nil, fmt.Errorf("openapi.json: info has no single version to set")
	}
	v, _ := json.Marshal(version)
	info := infoVersion.ReplaceAllLiteral(doc.Info, append([]byte(`"version": `), v...))
	return bytes.Replace(openAPIJSON, doc.Info, info, 1), nil
}

// infoVersion matches the version member of the info object, which has no nested object with one.
var infoVersion = regexp.MustCompile(`"version"\s*:\s*"(?:[^"\\]|\\.)*"`)

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	doc, err := openAPIDocument(switchboard.Version)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(doc)
	return nil
}
