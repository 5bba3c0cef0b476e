package verify

import (
	"encoding/xml"
	"strings"
)

// voicePhrases are the words a call says before the code, by language (the locale's first part).
var voicePhrases = map[string]struct{ lang, intro string }{
	"en": {"en-US", "Your verification code is"},
	"es": {"es-ES", "Su código de verificación es"},
	"fr": {"fr-FR", "Votre code de vérification est"},
	"de": {"de-DE", "Ihr Bestätigungscode lautet"},
	"pt": {"pt-BR", "Seu código de verificação é"},
}

// VoiceTwiML returns the TwiML of a call that reads code: one <Say> with the digits spaced by
// commas (so that text-to-speech reads "1, 2, 3" rather than "one hundred twenty-three"), said
// twice (loop="2"), in the locale's language (English when unknown).
func VoiceTwiML(code, locale string) string {
	lang, _, _ := strings.Cut(strings.ToLower(locale), "-")
	p, ok := voicePhrases[lang]
	if !ok {
		p = voicePhrases["en"]
	}
	digits := make([]string, 0, len(code))
	for _, r := range code {
		digits = append(digits, string(r))
	}
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString(`<Response><Say language="` + p.lang + `" loop="2">`)
	_ = xml.EscapeText(&b, []byte(p.intro+": "+strings.Join(digits, ", ")+"."))
	b.WriteString(`</Say></Response>`)
	return b.String()
}

// smsBodies are the texts of an SMS code, by language; %s is the code and %d the minutes it
// lives.
var smsBodies = map[string]string{
	"en": "Your verification code is %s. It expires in %d minutes. Do not share it.",
	"es": "Su código de verificación es %s. Caduca en %d minutos. No lo comparta.",
	"fr": "Votre code de vérification est %s. Il expire dans %d minutes. Ne le partagez pas.",
	"de": "Ihr Bestätigungscode lautet %s. Er läuft in %d Minuten ab. Geben Sie ihn nicht weiter.",
	"pt": "Seu código de verificação é %s. Ele expira em %d minutos. Não o compartilhe.",
}

func smsBody(locale string) string {
	lang, _, _ := strings.Cut(strings.ToLower(locale), "-")
	if b, ok := smsBodies[lang]; ok {
		return b
	}
	return smsBodies["en"]
}
