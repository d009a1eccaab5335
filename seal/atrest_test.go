package seal_test

import (
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/seal"
	"github.com/cachestack/cachestack/sign"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/diskstore"
)

// planted is a secret the at-rest tests put in every part of a response.
const planted = "pl4nted-s3cret-7c1e"

// secretResponse holds planted in its URL, a request and a response header
// field, and its body.
func secretResponse() *cached.Response {
	return &cached.Response{
		Method:     http.MethodGet,
		URL:        "https://example.com/account?token=" + planted,
		StatusCode: http.StatusOK,
		Proto:      "HTTP/1.1",
		Header: cached.NewHeader(http.Header{
			"Content-Type": {"application/json"},
			"Set-Cookie":   {"session=" + planted},
		}),
		Body: []byte(`{"api_key":"` + planted + `"}`),
	}
}

// rawBytes returns every byte the backend holds, as one slice.
type rawBytes func(t *testing.T) []byte

// backend is a byte store the at-rest tests write through, and a way to
// read what it holds without going through it.
type backend struct {
	name string
	open func(t *testing.T) (store.Store[string, []byte], rawBytes)
}

var atRestBackends = []backend{
	{"memstore", func(t *testing.T) (store.Store[string, []byte], rawBytes) {
		m := newMem(t, nil)
		return m, func(t *testing.T) []byte {
			var all []byte
			for k, err := range m.Keys(context.Background()) {
				require.NoError(t, err)
				v, err := m.Get(context.Background(), k)
				require.NoError(t, err)
				all = append(all, v...)
			}
			return all
		}
	}},
	{"diskstore", func(t *testing.T) (store.Store[string, []byte], rawBytes) {
		dir := t.TempDir()
		d, err := diskstore.New(dir, nil)
		require.NoError(t, err)
		return d, func(t *testing.T) []byte {
			var all []byte
			err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
				if err != nil || e.IsDir() {
					return err
				}
				b, err := os.ReadFile(path)
				all = append(all, b...)
				return err
			})
			require.NoError(t, err)
			return all
		}
	}},
}

// TestNothingInClearAtRest writes a response holding a planted secret
// through a byte store, sealed in several stacks, and greps the bytes the
// store holds: the secret is there in clear without seal (so the test can
// fail), and nowhere once sealed.
func TestNothingInClearAtRest(t *testing.T) {
	t.Parallel()
	sealer := newSealer(t, testKey(0))
	signer, err := sign.New(bytes.Repeat([]byte("s"), sign.MinSecretLen))
	require.NoError(t, err)
	const key = "0123456789abcdef0123456789abcdef"

	stacks := []struct {
		name   string
		sealed bool
		lift   func(store.Store[string, []byte]) store.Store[string, *cached.Response]
	}{
		{"Plain", false, func(s store.Store[string, []byte]) store.Store[string, *cached.Response] {
			return codec.Bind(s, codec.Response())
		}},
		{"Signed", false, func(s store.Store[string, []byte]) store.Store[string, *cached.Response] {
			return codec.Bind(sign.Wrap(s, signer), codec.Response())
		}},
		{"Wrap", true, func(s store.Store[string, []byte]) store.Store[string, *cached.Response] {
			return codec.Bind(seal.Wrap(s, sealer), codec.Response())
		}},
		{"Codec", true, func(s store.Store[string, []byte]) store.Store[string, *cached.Response] {
			return codec.Bind(s, seal.Codec(codec.Response(), sealer, "responses"))
		}},
		{"SealOverSign", true, func(s store.Store[string, []byte]) store.Store[string, *cached.Response] {
			return codec.Bind(seal.Wrap(sign.Wrap(s, signer), sealer), codec.Response())
		}},
		{"SignOverSeal", true, func(s store.Store[string, []byte]) store.Store[string, *cached.Response] {
			return codec.Bind(sign.Wrap(seal.Wrap(s, sealer), signer), codec.Response())
		}},
	}
	for _, be := range atRestBackends {
		for _, tt := range stacks {
			t.Run(be.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				raw, held := be.open(t)
				st := tt.lift(raw)
				defer func() { require.NoError(t, st.Close()) }()
				want := secretResponse()
				require.NoError(t, st.Set(ctx, key, want, 0))
				got, err := st.Get(ctx, key)
				require.NoError(t, err)
				require.Equal(t, want.Body, got.Body)
				require.Equal(t, want.URL, got.URL)

				all := held(t)
				require.NotEmpty(t, all)
				if !tt.sealed {
					require.Contains(t, string(all), planted, "without seal the secret is in clear: the test can see it")
					return
				}
				require.NotContains(t, string(all), planted, "a planted secret in clear at rest")
				require.NotContains(t, string(all), "Set-Cookie", "a header field name in clear at rest")
				require.NotContains(t, string(all), "example.com", "the URL in clear at rest")
			})
		}
	}
}
