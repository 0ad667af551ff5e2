package codec

import (
	"context"
	"errors"

	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/keyset"
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
