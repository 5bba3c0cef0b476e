package templates_test

import (
	"fmt"

	"github.com/switchboard-gw/switchboard/internal/templates"
)

func ExampleCatalog_Render() {
	catalog, err := templates.Load("../../examples/templates")
	if err != nil {
		panic(err)
	}
	// No version: the newest. es-MX falls back to es.
	r, err := catalog.Render("job_updated", 0, "es-MX", map[string]string{
		"job_id": "J-7", "change": "rescheduled", "date": "2026-03-06", "time": "09:00",
		"address": "Calle Olmo 12", "link": "https://app.example.com/jobs/J-7",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Template, r.Version, r.Locale, r.Segments, r.Encoding)
	fmt.Println(r.Body)
	// Output:
	// job_updated 2 es 1 GSM-7
	// El trabajo J-7 fue reprogramado. Ahora: 6 de marzo de 2026 a las 09:00, Calle Olmo 12. Detalles: https://app.example.com/jobs/J-7
}

func ExampleLint() {
	catalog, _ := templates.Load("../../examples/templates")
	for _, f := range templates.Lint(catalog) {
		if f.Template == "signup_code" {
			fmt.Printf("%s %s@%d/%s: %s\n", f.Severity, f.Template, f.Version, f.Locale, f.Message)
		}
	}
	// Output:
	// info signup_code@1/en: 1 segment, GSM-7, 80 characters with example values
	// info signup_code@1/es: 1 segment, UCS-2, 66 characters with example values; 'ó' (U+00F3) at character 15 forces UCS-2
}

func ExampleCatalog_RenderTenant() {
	catalog, err := templates.Load("../../examples/templates")
	if err != nil {
		panic(err)
	}
	vars := map[string]string{"company": "Acme Heating", "technician": "Ana", "eta": "10:45", "link": "https://track.example.com/v/8f3k2"}
	// Tenant acme overrides technician_on_the_way (tenants/acme/); globex gets the shared one.
	for _, tenant := range []string{"acme", "globex"} {
		r, err := catalog.RenderTenant(tenant, "technician_on_the_way", 0, "en", vars)
		if err != nil {
			panic(err)
		}
		from := "the shared catalog"
		if r.Tenant != "" {
			from = "tenant " + r.Tenant + "'s override"
		}
		fmt.Printf("%s: %s@%d from %s: %s\n", tenant, r.Template, r.Version, from, r.Body)
	}
	// Output:
	// acme: technician_on_the_way@1 from tenant acme's override: Acme Heating: Ana has left the depot and arrives around 10:45 AM. Live map: https://track.example.com/v/8f3k2
	// globex: technician_on_the_way@1 from the shared catalog: Acme Heating: Ana is on the way and should arrive around 10:45 AM. Track the visit: https://track.example.com/v/8f3k2
}
