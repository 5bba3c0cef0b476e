package api

import (
	"bytes"
	_ "embed" // the OpenAPI document
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"

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

// routeRules maps "METHOD /path" (the mux pattern) to its rule, from the embedded document.
var routeRules, routeRulesErr = parseRouteRules(openAPIJSON)

// parseRouteRules reads the role declarations of every operation under /v1 of an OpenAPI
// document. An operation under /v1 without a valid role is an error, naming it.
func parseRouteRules(doc []byte) (map[string]routeRule, error) {
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	rules := map[string]routeRule{}
	var missing []string
	for path, item := range d.Paths {
		if !strings.HasPrefix(path, "/v1/") {
			continue
		}
		for method, raw := range item {
			switch method {
			case "get", "put", "post", "delete", "patch":
			default:
				continue // parameters, summary…
			}
			var op map[string]json.RawMessage
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("openapi.json: %s %s: %w", method, path, err)
			}
			key := strings.ToUpper(method) + " " + path
			var role switchboard.Role
			if r, ok := op[RoleExtension]; !ok || json.Unmarshal(r, &role) != nil || !role.Valid() {
				missing = append(missing, key)
				continue
			}
			rule := routeRule{Need: role}
			if r, ok := op[SendReadsOwnExtension]; ok {
				if err := json.Unmarshal(r, &rule.SendReadsOwn); err != nil {
					return nil, fmt.Errorf("openapi.json: %s: %s must be true or false", key, SendReadsOwnExtension)
				}
				if rule.SendReadsOwn && role != switchboard.RoleRead {
					return nil, fmt.Errorf("openapi.json: %s: %s is for read routes only", key, SendReadsOwnExtension)
				}
			}
			rules[key] = rule
		}
	}
	if len(missing) > 0 {
		return rules, fmt.Errorf("openapi.json: these operations declare no valid %s (send, read, admin or platform): %s",
			RoleExtension, strings.Join(missing, ", "))
	}
	return rules, nil
}
