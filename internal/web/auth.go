package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Cookie names.
const (
	sessionCookie = "sb_session"
	// loginCookie carries the login form's CSRF token (double submit): there is no session yet.
	loginCookie = "sb_login"
)

// session is a signed-in request's session.
type session struct {
	*switchboard.DashboardSession
	// CSRF is the token every form of this session carries.
	CSRF string
	// Tenant is the tenant whose data the session sees; empty sees every tenant's.
	Tenant string
	// Role is what the session may do: read sees; admin and platform also act (cancel, retry,
	// reply, record consent, replay, rotate).
	Role switchboard.Role
	// sole is set when Tenant is the installation's only tenant: everything there is is the
	// session's, so it sees the pages that count every tenant too (a single-tenant installation
	// upgraded from before tenants keeps its whole dashboard).
	sole bool
}

// CanAct reports whether the session may change things: the pages offer their actions only then.
func (s *session) CanAct() bool { return s.Role.Allows(switchboard.RoleAdmin) }

// AllTenants reports whether the session sees every tenant (the cross-tenant pages: failures,
// delivery charts, senders and their queues).
func (s *session) AllTenants() bool { return s.Tenant == "" || s.sole }

// sees reports whether the session may see a resource of tenant.
func (s *session) sees(tenant string) bool {
	return s.Tenant == "" || switchboard.TenantOr(tenant) == s.Tenant
}

// TenantLabel names what the session sees, for the page header.
func (s *session) TenantLabel() string {
	if s.Tenant == "" {
		return "all tenants"
	}
	return "tenant " + s.Tenant
}

// Who is the session's subject for display: the user name, or the API key's name.
func (s *session) Who() string {
	if rest, ok := strings.CutPrefix(s.Subject, "key:"); ok {
		if i := strings.Index(rest, " ("); i >= 0 && strings.HasSuffix(rest, ")") {
			return "API key " + rest[i+2:len(rest)-1]
		}
		return "API key"
	}
	return strings.TrimPrefix(s.Subject, "user:")
}

// newSecret returns 32 random bytes, URL-safe base64.
func newSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// hashSecret is the stored form of a session secret.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// csrfToken derives a session's CSRF token from its secret: only a holder of the cookie can know
// it, and nothing more needs storing.
func csrfToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("switchboard dashboard csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// equal compares secrets in constant time (of their hashes, so that lengths leak nothing either).
func equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// keyScope is what a session opened with key sees and may do: the key's tenant and role; a
// platform key sees every tenant (it is the operators' key).
func keyScope(key *switchboard.APIKey) (tenant string, role switchboard.Role) {
	role = key.Role
	if role == "" {
		role = switchboard.RoleAdmin
	}
	if role == switchboard.RolePlatform {
		return "", role
	}
	return switchboard.TenantOr(key.Tenant), role
}

// acting is authed for an action (a POST that changes something): the session's role must allow
// admin, else 403 and nothing changes. The pages offer such actions only to those sessions.
func (s *Server) acting(h authedFunc) http.HandlerFunc {
	return s.authed(func(w http.ResponseWriter, r *http.Request, sess *session) {
		if !sess.CanAct() {
			s.renderError(w, r, sess, http.StatusForbidden, "Your role ("+string(sess.Role)+") may look but not change anything here.")
			return
		}
		h(w, r, sess)
	})
}

// keysPage lists the API keys of the session's tenant (every tenant's for a session of all),
// never their secrets (only hashes are stored). For admin and platform sessions only: a read
// session is not shown the keys (404, and no link).
func (s *Server) keysPage(w http.ResponseWriter, r *http.Request, sess *session) {
	if !sess.CanAct() {
		s.renderError(w, r, sess, http.StatusNotFound, "No such page.")
		return
	}
	ks, err := s.cfg.Store.ListAPIKeys(r.Context(), sess.Tenant)
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	s.render(w, r, http.StatusOK, "keys", page{Title: "API keys", Nav: "keys", Session: sess, Data: ks})
}

// allTenants is authed for a page that aggregates across tenants: a session of one tenant gets
// 404, as for a page that is not there.
func (s *Server) allTenants(h authedFunc) http.HandlerFunc {
	return s.authed(func(w http.ResponseWriter, r *http.Request, sess *session) {
		if !sess.AllTenants() {
			s.renderError(w, r, sess, http.StatusNotFound, "No such page.")
			return
		}
		h(w, r, sess)
	})
}

// authedFunc is a handler that needs a session.
type authedFunc func(w http.ResponseWriter, r *http.Request, sess *session)

// authed requires a session: a page without one redirects to the login page, an action without
// one is refused with 403. An action (POST) must also carry the session's CSRF token.
func (s *Server) authed(h authedFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := s.session(r)
		if sess == nil {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				s.renderError(w, r, nil, http.StatusForbidden, "Log in first.")
				return
			}
			http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil || !equal(r.PostFormValue("csrf"), sess.CSRF) {
				s.renderError(w, r, sess, http.StatusForbidden, "The form's security token is missing or wrong; reload the page and try again.")
				return
			}
		}
		h(w, r, sess)
	}
}

// session returns the request's live session, or nil.
func (s *Server) session(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil
	}
	ds, err := s.cfg.Store.GetSession(r.Context(), hashSecret(c.Value), s.cfg.Clock())
	if err != nil {
		if !switchboard.IsKind(err, switchboard.ENOTFOUND) {
			s.cfg.Logger.Error("dashboard: reading a session", "err", err)
		}
		return nil
	}
	sess := &session{DashboardSession: ds, CSRF: csrfToken(c.Value)}
	if ds.APIKeyHash != "" {
		// A session opened with an API key ends when the key is revoked, and sees what the key
		// may: its tenant (a platform key: every tenant), its role.
		key, err := s.cfg.Store.GetAPIKeyByHash(r.Context(), ds.APIKeyHash)
		if err != nil {
			return nil
		}
		sess.Tenant, sess.Role = keyScope(key)
		if !sess.Role.Allows(switchboard.RoleRead) {
			return nil // a send key cannot open the dashboard
		}
	} else {
		// The password user: the configured tenant (empty: every tenant) and role.
		sess.Tenant, sess.Role = s.cfg.UserTenant, s.cfg.UserRole
	}
	if sess.Tenant != "" {
		ts, err := s.cfg.Store.ListTenants(r.Context())
		if err != nil {
			s.cfg.Logger.Error("dashboard: listing tenants", "err", err)
		}
		sess.sole = err == nil && len(ts) == 1 && ts[0].ID == sess.Tenant
	}
	return sess
}

// safeNext is where to go after login: a dashboard path, never another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}

type loginData struct {
	Next         string
	CSRF         string
	PasswordForm bool
	User         string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.session(r) != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.showLogin(w, r, http.StatusOK, "", "")
}

// showLogin renders the login form with a fresh login CSRF token.
func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, msg, flash string) {
	token, err := newSecret()
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: token, Path: "/ui/login", HttpOnly: true,
		Secure: s.cfg.Secure, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	next := r.FormValue("next")
	s.render(w, r, status, "login", page{Title: "Log in", Error: msg, Flash: flash, Data: loginData{
		Next: safeNext(next), CSRF: token, PasswordForm: s.cfg.User != "", User: r.PostFormValue("user")}})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.showLogin(w, r, http.StatusBadRequest, "The form could not be read.", "")
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || c.Value == "" || !equal(c.Value, r.PostFormValue("csrf")) {
		s.showLogin(w, r, http.StatusForbidden, "The form's security token is missing or wrong; try again.", "")
		return
	}
	ip, now := s.cfg.ClientAddr.String(r), s.cfg.Clock()
	ds := &switchboard.DashboardSession{CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL)}
	switch {
	case r.PostFormValue("api_key") != "":
		hash := switchboard.HashAPIKeySecret(strings.TrimSpace(r.PostFormValue("api_key")))
		key, err := s.cfg.Store.GetAPIKeyByHash(r.Context(), hash)
		if err != nil {
			if !switchboard.IsKind(err, switchboard.EUNAUTHORIZED) {
				s.fail(w, r, nil, err)
				return
			}
			// Not counted: API keys are not guessable, and counting them would let anyone lock
			// out an address.
			s.cfg.Logger.Warn("dashboard: login refused", "method", "api_key", "ip", ip)
			s.showLogin(w, r, http.StatusUnauthorized, "Unknown or revoked API key.", "")
			return
		}
		if _, role := keyScope(key); !role.Allows(switchboard.RoleRead) {
			s.cfg.Logger.Warn("dashboard: login refused", "method", "api_key", "ip", ip, "role", role)
			s.showLogin(w, r, http.StatusForbidden, "A send key cannot open the dashboard: log in with a read or admin key.", "")
			return
		}
		ds.Subject, ds.APIKeyHash = "key:"+key.ID+" ("+key.Name+")", hash
	case r.PostFormValue("user") != "" || r.PostFormValue("password") != "":
		lk := limiterKey(r.PostFormValue("user"), ip)
		if d := s.limiter.wait(lk, now); d > 0 {
			secs := int((d + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			s.showLogin(w, r, http.StatusTooManyRequests, fmt.Sprintf("Too many failed logins; try again in %d s.", secs), "")
			return
		}
		userOK := s.cfg.User != "" && equal(r.PostFormValue("user"), s.cfg.User)
		passOK := s.cfg.Password != "" && equal(r.PostFormValue("password"), s.cfg.Password)
		if userOK && passOK {
			s.limiter.succeed(lk)
		}
		if !userOK || !passOK {
			s.limiter.fail(lk, now)
			s.cfg.Logger.Warn("dashboard: login refused", "method", "password", "ip", ip)
			s.showLogin(w, r, http.StatusUnauthorized, "Wrong user name or password.", "")
			return
		}
		ds.Subject = "user:" + s.cfg.User
	default:
		s.showLogin(w, r, http.StatusBadRequest, "Enter an API key, or a user name and password.", "")
		return
	}
	secret, err := newSecret()
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	ds.Hash = hashSecret(secret)
	if err := s.cfg.Store.CreateSession(r.Context(), ds); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	if _, err := s.cfg.Store.DeleteExpiredSessions(r.Context(), now); err != nil {
		s.cfg.Logger.Warn("dashboard: deleting expired sessions", "err", err)
	}
	s.cfg.Logger.Info("dashboard: login", "subject", ds.Subject, "ip", ip)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/ui", HttpOnly: true, Secure: s.cfg.Secure,
		SameSite: http.SameSiteStrictMode, Expires: ds.ExpiresAt})
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/ui/login", MaxAge: -1, HttpOnly: true,
		Secure: s.cfg.Secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, sess *session) {
	if err := s.cfg.Store.DeleteSession(r.Context(), sess.Hash); err != nil {
		s.fail(w, r, sess, err)
		return
	}
	s.cfg.Logger.Info("dashboard: logout", "subject", sess.Subject)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/ui", MaxAge: -1, HttpOnly: true,
		Secure: s.cfg.Secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}
