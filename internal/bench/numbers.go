package bench

import (
	"strconv"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/content"
)

// recipients are the numbers the benches send to: NANP's fictional range NPA-555-0100…0199
// (reserved for fiction, never a real subscriber) across every area code that libphonenumber
// accepts, so that they pass the API's validation like real numbers. There are a few tens of
// thousands; a long run cycles through them.
var recipients = sync.OnceValue(func() []string {
	var out []string
	for npa := 200; npa <= 999; npa++ {
		prefix := "+1" + strconv.Itoa(npa) + "5550"
		if _, err := content.NormalizePhone(prefix + "100"); err != nil {
			continue
		}
		if _, err := content.NormalizePhone(prefix + "199"); err != nil {
			continue
		}
		for line := 100; line <= 199; line++ {
			out = append(out, prefix+strconv.Itoa(line))
		}
	}
	return out
})

// recipient returns the i-th recipient, cycling.
func recipient(i int64) string {
	r := recipients()
	return r[uint64(i)%uint64(len(r))]
}
