package codec

import (
	"context"
	"errors"
	"fmt"

	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/keyset"
	"github.com/sfnenc/sfnenc/internal/format"
)

// buildStores returns a keyset store for each kmsKeyset keyring of cfg.
// It makes no KMS call: a store decrypts a class's keyset when the class is
// first used.
func buildStores(ctx context.Context, cfg *Config, o *options) (map[string]*keyset.Store, error) {
	stores := map[string]*keyset.Store{}
	for _, name := range sortedKeys(cfg.Keyrings) {
		kc := cfg.Keyrings[name].KMSKeyset
		if kc == nil {
			continue
		}
		if _, ok := o.keyrings[name]; ok {
			return nil, &ConfigError{Field: "keyrings." + name, Err: errors.New("WithKeyring cannot replace a kmsKeyset keyring")}
		}
		if o.clients == nil {
			f, err := envelope.DefaultKMSClients(ctx)
			if err != nil {
				return nil, err
			}
			o.clients = f
		}
		st, err := keyset.NewStore(cfg.KeysetDir(name), o.clients, kc.KeyARN, kc.BreakGlassKeyARNs...)
		if err != nil {
			return nil, &ConfigError{Field: "keyrings." + name, Err: err}
		}
		st.SetFailureAge(o.failureAge())
		stores[name] = st
	}
	return stores, nil
}

// keysetSealer loads the keyset of r's class (one KMS Decrypt the first time
// in the process) and returns a sealer over its primary key.
func (c *Codec) keysetSealer(ctx context.Context, r *rule, b binding) (*sealer, error) {
	ks, err := r.ks.Load(ctx, r.class, c.ec)
	if err != nil {
		return nil, &DataKeyError{Class: r.class, Err: err}
	}
	h := format.AppendKeysetHeader(nil, r.class, ks.Primary())
	aad := format.AppendAssociatedData(nil, h, r.ctxBytes, b.kind, b.value)
	n := len(h) / 3 * 3
	return &sealer{ks: ks, header: h, aad: aad, text: format.AppendText(nil, h[:n]), textLen: n, bind: b}, nil
}

// openKeyset opens a ModeKeyset token with the keyset of its class from
// rd's store.
func (d *decryptor) openKeyset(rd *reader, r *rule, tok *format.Token, b binding) ([]byte, error) {
	ks, err := rd.ks.Load(d.ctx, r.class, d.c.ec)
	if err != nil {
		return nil, err
	}
	d.aad = format.AppendAssociatedData(d.aad[:0], tok.Header, r.ctxBytes, b.kind, b.value)
	pt, err := ks.Open(d.pt[:0], tok.KeyID, tok.Payload, d.aad)
	if errors.Is(err, envelope.ErrOpen) {
		return nil, fmt.Errorf("%w: %w", ErrAuthentication, err)
	}
	if err != nil {
		return nil, err
	}
	d.pt = pt[:0]
	return pt, nil
}
