package service

import (
	"testing"

	"github.com/sfnenc/sfnenc/codec"
)

func TestReady(t *testing.T) {
	token := codec.TokenPrefix + "AQEHY29udGFjdA"
	tests := []struct {
		name    string
		url     string
		fields  []string
		wantErr string
	}{
		{name: "no fields", url: "http://127.0.0.1:1"},
		{name: "plaintext", url: "http://127.0.0.1:1", fields: []string{"phoneNumber", "+44 7700 900123", "email", "a@example.com"}},
		{name: "url not set", fields: []string{"email", token}, wantErr: "MAIL_API_URL is not set"},
		{name: "token", url: "http://127.0.0.1:1", fields: []string{"phoneNumber", "+44 7700 900123", "email", token}, wantErr: "email is missing or still encrypted"},
		{name: "empty", url: "http://127.0.0.1:1", fields: []string{"phoneNumber", "", "email", token}, wantErr: "phoneNumber is missing or still encrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("MAIL_API_URL", tt.url)
			err := FromEnv("mail service", "MAIL_API_URL").Ready(tt.fields...)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("Ready: error %q, want %q", got, tt.wantErr)
			}
		})
	}
}
