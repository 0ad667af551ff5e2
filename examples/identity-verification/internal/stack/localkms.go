package stack

import (
	"context"
	"fmt"
	"io"

	"github.com/sfnenc/sfnenc/internal/launch"
)

// LocalKMS is a local-kms process (a KMS API server) on loopback.
type LocalKMS struct {
	// Endpoint is the URL to give KMS clients (AWS_ENDPOINT_URL_KMS).
	Endpoint string

	proc *launch.Process
}

// StartLocalKMS starts the local-kms binary bin on a free port, seeded from
// seedFile, with its data in dataDir (which should be fresh). Its output
// goes to logTo if not nil.
func StartLocalKMS(ctx context.Context, bin, seedFile, dataDir string, logTo io.Writer) (*LocalKMS, error) {
	p, endpoint, err := launch.StartLocalKMS(ctx, bin, launch.LocalKMS{
		Region: Region, Account: Account, DataPath: dataDir, SeedPath: seedFile,
	}, logTo, nil)
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	return &LocalKMS{Endpoint: endpoint, proc: p}, nil
}

// Close stops local-kms.
func (k *LocalKMS) Close() { k.proc.Stop() }
