// Package thirdparty holds the example's stand-ins for the services outside
// the bank that the workflow talks to: an identity provider, an SMS gateway
// and a mail service. They are small HTTP services that record every
// request they receive, so that tests can show that these third parties got
// the personal data in plaintext while Step Functions only ever held tokens.
//
// The identity provider completes a session when its verification link is
// opened, as an applicant would on a phone; the SMS gateway can hand each
// message to a simulated handset (see SMSGateway.OnMessage) that does so.
package thirdparty

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/model"
)

func newID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return false
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Script tells the identity provider how the sessions of one credit
// application end, in order; when the script is used up, sessions end
// verified.
type Script []Step

// Step is how one identification session ends.
type Step struct {
	// Outcome is model.OutcomeVerified, OutcomeInconclusive or
	// OutcomeRejected.
	Outcome string
	// VerifiedPerson, if not nil, is reported instead of the person the
	// session was opened for (a provider that verified someone else).
	VerifiedPerson *model.Person
}

// Provider is the local identity provider.
//
//	POST /v1/identification-sessions  model.SessionRequest -> model.Session
//	GET  /verify/{sessionId}?t=SECRET the verification link: ends the session
//	                                  and reports it to the webhook
//	POST /v1/screenings               model.ScreeningRequest -> model.Screening
type Provider struct {
	// BaseURL is where the provider is reached; verification links start
	// with it. Set it before the first request.
	BaseURL string
	// WebhookURL receives each session's model.IdentificationResult, posted
	// to WebhookURL + "/provider-callbacks". Set it before the first request.
	WebhookURL string

	mu         sync.Mutex
	scripts    map[string]Script
	sessions   map[string]*session
	requests   []model.SessionRequest
	issued     []model.Session
	screenings []model.ScreeningRequest
	results    []model.IdentificationResult
	errs       []error
	pending    sync.WaitGroup
}

type session struct {
	id, secret string
	req        model.SessionRequest
	done       bool
}

// NewProvider returns an identity provider with no sessions.
func NewProvider() *Provider {
	return &Provider{scripts: map[string]Script{}, sessions: map[string]*session{}}
}

// SetScript sets how the sessions of the credit application reference end.
func (p *Provider) SetScript(reference string, s Script) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.scripts[reference] = s
}

// SessionRequests returns the session requests received so far.
func (p *Provider) SessionRequests() []model.SessionRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]model.SessionRequest(nil), p.requests...)
}

// Sessions returns the sessions opened so far, in the order of
// SessionRequests.
func (p *Provider) Sessions() []model.Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]model.Session(nil), p.issued...)
}

// ScreeningRequests returns the screening requests received so far.
func (p *Provider) ScreeningRequests() []model.ScreeningRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]model.ScreeningRequest(nil), p.screenings...)
}

// Results returns the session results reported to the webhook so far.
func (p *Provider) Results() []model.IdentificationResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]model.IdentificationResult(nil), p.results...)
}

// Wait waits for the reports to the webhook under way and returns the
// errors of those that failed since the last call.
func (p *Provider) Wait() error {
	p.pending.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	err := errors.Join(p.errs...)
	p.errs = nil
	return err
}

// ServeHTTP serves the provider's API and verification links.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/v1/identification-sessions":
		var req model.SessionRequest
		if !decode(w, r, &req) {
			return
		}
		s := &session{id: newID("ses_"), secret: newID(""), req: req}
		issued := model.Session{SessionID: s.id, VerificationURL: p.BaseURL + "/verify/" + s.id + "?t=" + s.secret}
		p.mu.Lock()
		p.requests = append(p.requests, req)
		p.issued = append(p.issued, issued)
		p.sessions[s.id] = s
		p.mu.Unlock()
		reply(w, issued)
	case strings.HasPrefix(r.URL.Path, "/verify/"):
		p.verify(w, r, strings.TrimPrefix(r.URL.Path, "/verify/"))
	case r.URL.Path == "/v1/screenings":
		var req model.ScreeningRequest
		if !decode(w, r, &req) {
			return
		}
		p.mu.Lock()
		p.screenings = append(p.screenings, req)
		p.mu.Unlock()
		reply(w, model.Screening{Result: "clear"})
	default:
		http.NotFound(w, r)
	}
}

// verify ends a session when its link is opened, and reports the result to
// the webhook once the answer is sent.
func (p *Provider) verify(w http.ResponseWriter, r *http.Request, id string) {
	p.mu.Lock()
	s := p.sessions[id]
	if s == nil || r.URL.Query().Get("t") != s.secret || s.done {
		p.mu.Unlock()
		http.Error(w, "this link is not valid", http.StatusNotFound)
		return
	}
	s.done = true
	step := Step{Outcome: model.OutcomeVerified}
	if sc := p.scripts[s.req.Reference]; len(sc) > 0 {
		step, p.scripts[s.req.Reference] = sc[0], sc[1:]
	}
	verified := s.req.Person
	if step.VerifiedPerson != nil {
		verified = *step.VerifiedPerson
	}
	res := model.IdentificationResult{
		SessionID:      s.id,
		Reference:      s.req.Reference,
		Outcome:        step.Outcome,
		VerifiedPerson: verified,
		CheckedAt:      time.Now().UTC().Format(time.RFC3339),
	}
	p.results = append(p.results, res)
	p.pending.Add(1)
	p.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "Thank you: your identity check is complete.")
	go func() {
		defer p.pending.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := model.PostJSON(ctx, http.DefaultClient, "webhook service", p.WebhookURL+"/provider-callbacks", res, nil); err != nil {
			p.mu.Lock()
			p.errs = append(p.errs, fmt.Errorf("provider: report session %s: %w", res.SessionID, err))
			p.mu.Unlock()
		}
	}()
}

// SMSGateway is the local SMS gateway.
//
//	POST /v1/sms  model.SMS -> model.MessageID
type SMSGateway struct {
	// OnMessage, if set, is called in a goroutine of its own with each
	// message accepted (a handset receiving it).
	OnMessage func(model.SMS)

	mu   sync.Mutex
	sent []model.SMS
	wg   sync.WaitGroup
}

// Messages returns the messages received so far.
func (g *SMSGateway) Messages() []model.SMS {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]model.SMS(nil), g.sent...)
}

// Wait waits for the OnMessage calls under way.
func (g *SMSGateway) Wait() { g.wg.Wait() }

// ServeHTTP serves POST /v1/sms.
func (g *SMSGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/sms" {
		http.NotFound(w, r)
		return
	}
	var m model.SMS
	if !decode(w, r, &m) {
		return
	}
	g.mu.Lock()
	g.sent = append(g.sent, m)
	g.mu.Unlock()
	reply(w, model.MessageID{MessageID: newID("sms_")})
	if g.OnMessage != nil {
		g.wg.Go(func() { g.OnMessage(m) })
	}
}

// MailService is the local mail service.
//
//	POST /v1/messages  model.Email -> model.MessageID
type MailService struct {
	mu   sync.Mutex
	sent []model.Email
}

// Messages returns the messages received so far.
func (m *MailService) Messages() []model.Email {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]model.Email(nil), m.sent...)
}

// ServeHTTP serves POST /v1/messages.
func (m *MailService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/messages" {
		http.NotFound(w, r)
		return
	}
	var e model.Email
	if !decode(w, r, &e) {
		return
	}
	m.mu.Lock()
	m.sent = append(m.sent, e)
	m.mu.Unlock()
	reply(w, model.MessageID{MessageID: newID("mail_")})
}

// Handset returns an SMSGateway.OnMessage function that opens the first
// link of each message, as the applicant would, and reports failures to
// onError.
func Handset(onError func(error)) func(model.SMS) {
	return func(m model.SMS) {
		i := strings.Index(m.Body, "http://")
		if i < 0 {
			i = strings.Index(m.Body, "https://")
		}
		if i < 0 {
			onError(fmt.Errorf("handset: a message holds no link"))
			return
		}
		link := m.Body[i:]
		if j := strings.IndexAny(link, " \n"); j >= 0 {
			link = link[:j]
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
		if err != nil {
			onError(fmt.Errorf("handset: the link in a message is not a URL"))
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			// A *url.Error names the link, which is a secret of the session.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			onError(fmt.Errorf("handset: open link: %w", err))
			return
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		if resp.StatusCode != http.StatusOK {
			onError(fmt.Errorf("handset: the link answered HTTP %d", resp.StatusCode))
		}
	}
}
