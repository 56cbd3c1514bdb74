package netfault

import (
	"io"
	"net"
	"testing"
)

// BenchmarkLink compares a clean Link with a direct loopback connection:
// bulk throughput (MB/s) and small-message round trips (ns/op).
func BenchmarkLink(b *testing.B) {
	paths := []struct {
		name string
		pair func(b *testing.B) (client, server *net.TCPConn)
	}{
		{"direct", func(b *testing.B) (*net.TCPConn, *net.TCPConn) {
			c, s := connect(b, listen(b))
			b.Cleanup(func() { c.Close(); s.Close() })
			return c, s
		}},
		{"link", func(b *testing.B) (*net.TCPConn, *net.TCPConn) {
			p := newPair(b, NewSet())
			return p.client, p.server
		}},
	}
	for _, path := range paths {
		b.Run("bulk/"+path.name, func(b *testing.B) {
			client, server := path.pair(b)
			buf := make([]byte, 64<<10)
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, _ = io.Copy(io.Discard, server)
			}()
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for b.Loop() {
				if _, err := client.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			_ = client.CloseWrite()
			<-done
		})
		b.Run("roundtrip/"+path.name, func(b *testing.B) {
			client, server := path.pair(b)
			echo(b, server)
			msg := make([]byte, 64)
			b.ResetTimer()
			for b.Loop() {
				roundTrip(b, client, msg)
			}
		})
	}
}
