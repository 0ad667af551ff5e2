// Package extension is the client side of the Lambda Extensions API that an
// external extension needs to live beside the runtime: [Register] (for the
// SHUTDOWN event only, the one event that Lambda Managed Instances allow)
// and [Extension.WaitShutdown].
package extension

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

const (
	hdrName = "Lambda-Extension-Name"
	hdrID   = "Lambda-Extension-Identifier"
)

// Extension is a registered extension.
type Extension struct {
	api, id string
	client  *http.Client
}

// Register registers the extension name (the file name of its executable
// in /opt/extensions, as Lambda requires) with the Extensions API at api
// (host:port, as in AWS_LAMBDA_RUNTIME_API), for the SHUTDOWN event.
func Register(ctx context.Context, api, name string) (*Extension, error) {
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+api+"/2020-01-01/extension/register",
		bytes.NewReader([]byte(`{"events":["SHUTDOWN"]}`)))
	if err != nil {
		return nil, fmt.Errorf("extension: register: %w", err)
	}
	req.Header.Set(hdrName, name)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("extension: register: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("extension: register: HTTP %d: %.500s", resp.StatusCode, body)
	}
	id := resp.Header.Get(hdrID)
	if id == "" {
		return nil, fmt.Errorf("extension: register: no %s in the answer", hdrID)
	}
	return &Extension{api: api, id: id, client: client}, nil
}

// WaitShutdown asks for the extension's next events until SHUTDOWN comes,
// and returns nil then.
func (e *Extension) WaitShutdown(ctx context.Context) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.api+"/2020-01-01/extension/event/next", nil)
		if err != nil {
			return fmt.Errorf("extension: next event: %w", err)
		}
		req.Header.Set(hdrID, e.id)
		resp, err := e.client.Do(req)
		if err != nil {
			return fmt.Errorf("extension: next event: %w", err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("extension: next event: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("extension: next event: HTTP %d: %.500s", resp.StatusCode, body)
		}
		var ev struct {
			EventType string `json:"eventType"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			return fmt.Errorf("extension: next event: %w", err)
		}
		if ev.EventType == "SHUTDOWN" {
			return nil
		}
	}
}
