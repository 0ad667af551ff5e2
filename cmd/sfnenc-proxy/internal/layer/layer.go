// Package layer makes the sfnenc Lambda layer: a zip archive with the
// extension extensions/sfnenc-proxy and the wrapper script sfnenc-wrapper,
// both executable, which Lambda unpacks at /opt. [Write] makes it;
// [Wrapper] is the script.
package layer

import (
	"archive/zip"
	_ "embed"
	"fmt"
	"io"
	"os"
	"time"
)

// Wrapper is the script sfnenc-wrapper (AWS_LAMBDA_EXEC_WRAPPER=/opt/sfnenc-wrapper).
//
//go:embed sfnenc-wrapper
var Wrapper []byte

// Paths of the layer's files, relative to /opt.
const (
	ExtensionPath = "extensions/sfnenc-proxy"
	WrapperPath   = "sfnenc-wrapper"
)

// Write writes the layer to w, with the executable proxy (a static
// linux build of cmd/sfnenc-proxy) as its extension. The archive has fixed
// times, so the same inputs make the same bytes.
func Write(w io.Writer, proxy string) error {
	bin, err := os.ReadFile(proxy)
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	zw := zip.NewWriter(w)
	mod := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range []struct {
		name string
		data []byte
	}{{"extensions/", nil}, {ExtensionPath, bin}, {WrapperPath, Wrapper}} {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: mod}
		if f.data == nil {
			h.Method = zip.Store
			h.SetMode(0o755 | os.ModeDir)
		} else {
			h.SetMode(0o755)
		}
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return fmt.Errorf("layer: %w", err)
		}
		if _, err := fw.Write(f.data); err != nil {
			return fmt.Errorf("layer: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	return nil
}
