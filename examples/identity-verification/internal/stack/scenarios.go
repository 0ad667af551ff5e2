package stack

import (
	"fmt"

	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/model"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/thirdparty"
)

// Scenario is one path through the workflow: an application and how the
// identity provider ends its sessions.
type Scenario struct {
	Name, Title string
	Application model.Application
	Script      thirdparty.Script
	// Demo marks the paths the demo shows.
	Demo bool

	// WantStatus is the execution's expected status; WantState the state
	// it ends in (the last state entered); WantError the error of a failed
	// execution.
	WantStatus, WantState, WantError string
	// WantSessions, WantScreenings and WantEmails count the requests the
	// third parties should receive (one SMS per session).
	WantSessions, WantScreenings, WantEmails int
}

// person makes the personal data of applicant n of scenario s: values no
// other part of a run holds, so that finding one anywhere is a leak.
func person(s, n int) model.Person {
	first := []string{"Wilhelmina", "Tobias", "Annelise", "Cormac", "Philippa", "Leopold"}[(s+n)%6]
	last := []string{"Quenby-Ardagh", "Fenwick-Marr", "Oyelaran", "Zyborska", "Hallgrimsdottir", "Castellanos-Reyes"}[(2*s+n)%6]
	return model.Person{
		FullName:    fmt.Sprintf("%s %s %c.", first, last, 'K'+rune(s)),
		DateOfBirth: fmt.Sprintf("19%02d-%02d-%02d", 60+7*s+n, 1+(3*s+n)%12, 10+(5*s+n)%18),
		NationalID:  fmt.Sprintf("QQ %02d %02d %02d %c", 11*s+n+10, 17+s, 40+n, 'A'+rune(s)),
		Address: model.Address{
			Street:   fmt.Sprintf("%d Larkspur Crescent, Flat %d", 17+s*4+n, 3+n),
			City:     []string{"Little Snoring", "Much Wenlock", "Great Snoring", "Nether Wallop", "Upper Slaughter"}[s%5],
			Postcode: fmt.Sprintf("NR%d %dX%c", 21+s, n, 'A'+rune(s)),
			Country:  "GB",
		},
	}
}

func application(s int, id string, coApplicants int) model.Application {
	app := model.Application{
		CreditApplicationID: id,
		Product:             "personal-loan",
		Amount:              float64(2500 + 500*s),
		Currency:            "GBP",
		CreditApplicant:     person(s, 0),
		PhoneNumber:         fmt.Sprintf("+44 7700 9004%02d", 61+s),
		Email:               fmt.Sprintf("applicant.%d.%s@example.org", s, []string{"quenby", "fenwick", "oyelaran", "zyborska", "hallgrim"}[s%5]),
		CoApplicants:        []model.CoApplicant{},
	}
	for n := 1; n <= coApplicants; n++ {
		app.CoApplicants = append(app.CoApplicants, model.CoApplicant{
			CoApplicantID:   fmt.Sprintf("CO-%d", n),
			CreditApplicant: person(s, n),
		})
	}
	return app
}

// Scenarios returns the paths through the workflow that the test runs; the
// demo runs those marked Demo.
func Scenarios() []Scenario {
	mismatch := person(4, 0)
	mismatch.NationalID = "QQ 99 88 77 Z"
	return []Scenario{
		{
			Name:        "happy",
			Title:       "happy path: verified at the first attempt, two co-applicants screened, approved",
			Application: application(0, "APP-2026-0042", 2),
			Demo:        true,
			WantStatus:  "SUCCEEDED", WantState: "Approved",
			WantSessions: 1, WantScreenings: 2,
		},
		{
			Name:        "retry",
			Title:       "retry path: the first identification is inconclusive, the second verifies, approved",
			Application: application(1, "APP-2026-0043", 1),
			Script:      thirdparty.Script{{Outcome: model.OutcomeInconclusive}, {Outcome: model.OutcomeVerified}},
			Demo:        true,
			WantStatus:  "SUCCEEDED", WantState: "Approved",
			WantSessions: 2, WantScreenings: 1,
		},
		{
			Name:        "rejection",
			Title:       "rejection path: the identity provider rejects, the applicant is told by email",
			Application: application(2, "APP-2026-0044", 0),
			Script:      thirdparty.Script{{Outcome: model.OutcomeRejected}},
			Demo:        true,
			WantStatus:  "SUCCEEDED", WantState: "Rejected",
			WantSessions: 1, WantEmails: 1,
		},
		{
			Name:        "retries-exhausted",
			Title:       "three inconclusive identifications: rejected after the last retry",
			Application: application(3, "APP-2026-0045", 1),
			Script: thirdparty.Script{
				{Outcome: model.OutcomeInconclusive}, {Outcome: model.OutcomeInconclusive}, {Outcome: model.OutcomeInconclusive},
			},
			WantStatus: "SUCCEEDED", WantState: "Rejected",
			WantSessions: 3, WantEmails: 1,
		},
		{
			Name:        "identity-mismatch",
			Title:       "the provider verified someone else: ContinueValidation fails, caught to the Fail state",
			Application: application(4, "APP-2026-0046", 1),
			Script:      thirdparty.Script{{Outcome: model.OutcomeVerified, VerifiedPerson: &mismatch}},
			WantStatus:  "FAILED", WantState: "VerificationFailed", WantError: "IdentityMismatchError",
			WantSessions: 1,
		},
	}
}

// Canaries returns every personal value of the scenarios that is long
// enough to be told apart from anything else in a run (the country code
// "GB" is not).
func Canaries() []string {
	var out []string
	add := func(p model.Person) {
		out = append(out, p.FullName, p.DateOfBirth, p.NationalID, p.Address.Street, p.Address.City, p.Address.Postcode)
	}
	for _, sc := range Scenarios() {
		add(sc.Application.CreditApplicant)
		out = append(out, sc.Application.PhoneNumber, sc.Application.Email)
		for _, co := range sc.Application.CoApplicants {
			add(co.CreditApplicant)
		}
		for _, st := range sc.Script {
			if st.VerifiedPerson != nil {
				add(*st.VerifiedPerson)
			}
		}
	}
	return out
}
