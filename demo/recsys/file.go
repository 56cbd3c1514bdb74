package recsys

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// FormatName is the format every model file declares in its header.
const FormatName = "faultline.dev/recsys-v1"

// magic opens every model file.
const magic = "FLRECSYS\n"

// Size limits of a model file. Decode refuses larger shapes before it
// allocates, so a corrupt header cannot make it allocate gigabytes.
const (
	maxHeaderBytes = 4 << 10
	maxDims        = 1024
	// MaxFileBytes is the largest model file Decode reads.
	MaxFileBytes = 256 << 20
)

// ErrCorrupt is wrapped by every error of Decode and ReadFile that says the
// file's bytes are wrong (bad magic, header, length or checksum), as
// opposed to the file being absent or unreadable.
var ErrCorrupt = errors.New("corrupt model file")

// payloadLen is the payload's length in bytes for h's shapes; ok is false
// when the shapes are out of bounds.
func payloadLen(h Header) (n int, ok bool) {
	if h.Users < 1 || h.Users > maxUsers || h.Items < 1 || h.Items > maxItems || h.Dims < 1 || h.Dims > maxDims {
		return 0, false
	}
	floats := h.Users*h.Dims + h.Items*h.Dims + h.Items
	if floats*8 > MaxFileBytes {
		return 0, false
	}
	return floats * 8, true
}

// Encode returns the model's file bytes, with Header.SHA256 computed (and
// set on m). The encoding is a pure function of the model.
func (m *Model) Encode() ([]byte, error) {
	h := m.Header
	n, ok := payloadLen(h)
	if !ok {
		return nil, fmt.Errorf("model shapes users %d, items %d, dims %d are out of bounds", h.Users, h.Items, h.Dims)
	}
	if len(m.P) != h.Users*h.Dims || len(m.Q) != h.Items*h.Dims || len(m.B) != h.Items {
		return nil, fmt.Errorf("model matrices (%d, %d, %d values) do not match the header's shapes", len(m.P), len(m.Q), len(m.B))
	}
	payload := make([]byte, 0, n)
	for _, part := range [][]float64{m.P, m.Q, m.B} {
		for _, v := range part {
			payload = binary.LittleEndian.AppendUint64(payload, math.Float64bits(v))
		}
	}
	h.Format = FormatName
	h.SHA256 = ""
	sum, err := checksum(h, payload)
	if err != nil {
		return nil, err
	}
	h.SHA256 = sum
	hdr, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode header: %w", err)
	}
	m.Header = h
	out := make([]byte, 0, len(magic)+len(hdr)+1+len(payload))
	out = append(out, magic...)
	out = append(out, hdr...)
	out = append(out, '\n')
	return append(out, payload...), nil
}

// checksum is the hex SHA-256 of h (with SHA256 empty) and the payload.
func checksum(h Header, payload []byte) (string, error) {
	h.SHA256 = ""
	hdr, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("encode header: %w", err)
	}
	s := sha256.New()
	s.Write(hdr)
	s.Write([]byte{'\n'})
	s.Write(payload)
	return hex.EncodeToString(s.Sum(nil)), nil
}

// Decode parses and verifies a model file. Every failure that is the
// bytes' fault wraps ErrCorrupt and says what is wrong.
func Decode(data []byte) (*Model, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%w: %d bytes is more than the %d a model file may have", ErrCorrupt, len(data), MaxFileBytes)
	}
	if !bytes.HasPrefix(data, []byte(magic)) {
		return nil, fmt.Errorf("%w: it does not start with %q (not a recsys model file, or its first bytes are damaged)", ErrCorrupt, magic[:len(magic)-1])
	}
	rest := data[len(magic):]
	nl := bytes.IndexByte(rest[:min(len(rest), maxHeaderBytes)], '\n')
	if nl < 0 {
		return nil, fmt.Errorf("%w: no header line within %d bytes (truncated?)", ErrCorrupt, maxHeaderBytes)
	}
	var h Header
	dec := json.NewDecoder(bytes.NewReader(rest[:nl]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	if h.Format != FormatName {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrCorrupt, h.Format, FormatName)
	}
	if h.Kind != KindModel && h.Kind != KindCheckpoint {
		return nil, fmt.Errorf("%w: kind %q, want %s or %s", ErrCorrupt, h.Kind, KindModel, KindCheckpoint)
	}
	n, ok := payloadLen(h)
	if !ok {
		return nil, fmt.Errorf("%w: shapes users %d, items %d, dims %d are out of bounds", ErrCorrupt, h.Users, h.Items, h.Dims)
	}
	payload := rest[nl+1:]
	if len(payload) != n {
		what := "truncated"
		if len(payload) > n {
			what = "has trailing bytes"
		}
		return nil, fmt.Errorf("%w: %s: payload is %d bytes, the header's shapes need %d", ErrCorrupt, what, len(payload), n)
	}
	sum, err := checksum(h, payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if sum != h.SHA256 {
		return nil, fmt.Errorf("%w: checksum mismatch: header says sha256 %s, content hashes to %s", ErrCorrupt, short(h.SHA256), short(sum))
	}
	m := &Model{Header: h}
	floats := make([]float64, n/8)
	for i := range floats {
		v := math.Float64frombits(binary.LittleEndian.Uint64(payload[i*8:]))
		if math.IsNaN(v) || math.IsInf(v, 0) {
			// A verified checksum over a NaN means training diverged: as
			// unservable as a damaged file.
			return nil, fmt.Errorf("%w: value %d is %v", ErrCorrupt, i, v)
		}
		floats[i] = v
	}
	ud, id := h.Users*h.Dims, h.Items*h.Dims
	m.P, m.Q, m.B = floats[:ud:ud], floats[ud:ud+id:ud+id], floats[ud+id:]
	return m, nil
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12] + "…"
	}
	return fmt.Sprintf("%q", sum)
}

// ReadFile reads and verifies the model file at path.
func ReadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read model %s: %w", path, err)
	}
	m, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	return m, nil
}

// WriteFile writes the model to path atomically: a temporary file in the
// same directory is written and fsynced, renamed over path, and the
// directory fsynced, so a reader (or a crash) sees the old file or the
// new one, never half of one.
func (m *Model) WriteFile(path string) error {
	data, err := m.Encode()
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return WriteAtomic(path, data)
}

// WriteAtomic writes data to path with the temp-fsync-rename-fsync dance.
func WriteAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes the file 0600; a model file is read by other users' servers.
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s to fsync it: %w", dir, err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
