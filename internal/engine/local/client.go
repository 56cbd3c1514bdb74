package local

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/internal/engine"
)

// Client talks to a supervisor through its control socket. Its methods
// mirror the Supervisor's, with a context and an error each.
type Client struct {
	socket string
	hc     *http.Client
}

// APIError is an error answered by the supervisor.
type APIError struct {
	StatusCode int
	Message    string
}

func (e *APIError) Error() string { return e.Message }

// Is makes a 404 answer match ErrNotFound.
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.StatusCode == http.StatusNotFound
}

// NewClient returns a client of the control socket at path.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns:    4,
		IdleConnTimeout: 30 * time.Second,
	}
	return &Client{socket: socket, hc: &http.Client{Transport: tr}}
}

// ErrNotRunning is matched by Dial's error when the environment has no live
// supervisor.
var ErrNotRunning = errors.New("environment is not running")

// Dial connects to the supervisor of environment name in stateDir. It fails
// with an error matching ErrNotRunning (and os.ErrNotExist when the
// environment is unknown) when no supervisor runs.
func Dial(stateDir, name string) (*Client, error) {
	st, err := ReadState(stateDir, name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("environment %s is not running (no state in %s): %w", name, EnvDir(stateDir, name), errors.Join(ErrNotRunning, os.ErrNotExist))
		}
		return nil, err
	}
	if !st.Owner.Alive() {
		return nil, fmt.Errorf("environment %s: its supervisor (pid %d) is gone; 'faultline env down --name %s' cleans up: %w", name, st.Owner.PID, name, ErrNotRunning)
	}
	return NewClient(st.Socket), nil
}

// Socket is the control socket's path.
func (c *Client) Socket() string { return c.socket }

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Do sends a request with in as its JSON body (nil: none) and decodes the
// JSON answer into out (nil: ignored). Routes added by other packages use it.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// send performs a request and turns error answers into *APIError; the
// caller closes the body of a successful answer.
func (c *Client) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://supervisor"+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("control socket %s: %w", c.socket, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var ae apiError
		if json.Unmarshal(data, &ae) != nil || ae.Error == "" {
			ae.Error = fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
		}
		return nil, &APIError{StatusCode: resp.StatusCode, Message: ae.Error}
	}
	return resp, nil
}

// Status returns the environment's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var st Status
	if err := c.Do(ctx, http.MethodGet, "/v1/status", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Targets lists the replicas as fault targets.
func (c *Client) Targets(ctx context.Context) ([]engine.Target, error) {
	var ts []engine.Target
	return ts, c.Do(ctx, http.MethodGet, "/v1/targets", nil, &ts)
}

// Nodes lists the nodes.
func (c *Client) Nodes(ctx context.Context) ([]engine.Node, error) {
	var ns []engine.Node
	return ns, c.Do(ctx, http.MethodGet, "/v1/nodes", nil, &ns)
}

// Replica returns one replica's status.
func (c *Client) Replica(ctx context.Context, name string) (*ReplicaStatus, error) {
	var st ReplicaStatus
	if err := c.Do(ctx, http.MethodGet, "/v1/replicas/"+url.PathEscape(name), nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// KillContainer signals containers of a replica (see Supervisor.KillContainer).
func (c *Client) KillContainer(ctx context.Context, name, container string, sig syscall.Signal) error {
	return c.Do(ctx, http.MethodPost, "/v1/replicas/"+url.PathEscape(name)+"/kill",
		KillRequest{Container: container, Signal: int(sig)}, nil)
}

// SetReplicaFailed freezes or restores a replica (see Supervisor.SetReplicaFailed).
func (c *Client) SetReplicaFailed(ctx context.Context, name string, failed bool) error {
	return c.Do(ctx, http.MethodPost, "/v1/replicas/"+url.PathEscape(name)+"/failed", FailedRequest{Failed: failed}, nil)
}

// ReplicaCgroupPath returns the path of a replica's cgroup.
func (c *Client) ReplicaCgroupPath(ctx context.Context, name string) (string, error) {
	var info CgroupInfo
	err := c.Do(ctx, http.MethodGet, "/v1/replicas/"+url.PathEscape(name)+"/cgroup", nil, &info)
	return info.Path, err
}

func (c *Client) nodeAction(ctx context.Context, node, action string) error {
	return c.Do(ctx, http.MethodPost, "/v1/nodes/"+url.PathEscape(node)+"/"+action, nil, nil)
}

// NodeDown fails a node (see Supervisor.NodeDown).
func (c *Client) NodeDown(ctx context.Context, node string) error {
	return c.nodeAction(ctx, node, "down")
}

// NodeUp brings a node back.
func (c *Client) NodeUp(ctx context.Context, node string) error { return c.nodeAction(ctx, node, "up") }

// Cordon marks a node unschedulable.
func (c *Client) Cordon(ctx context.Context, node string) error {
	return c.nodeAction(ctx, node, "cordon")
}

// Uncordon makes a node schedulable.
func (c *Client) Uncordon(ctx context.Context, node string) error {
	return c.nodeAction(ctx, node, "uncordon")
}

// Drain cordons a node and evicts its replicas; it returns when done. A
// deadline on ctx is passed on to the supervisor.
func (c *Client) Drain(ctx context.Context, node string) error {
	path := "/v1/nodes/" + url.PathEscape(node) + "/drain"
	if dl, ok := ctx.Deadline(); ok {
		path += "?timeout=" + url.QueryEscape(time.Until(dl).String())
	}
	return c.Do(ctx, http.MethodPost, path, nil, nil)
}

// Scale sets a service's replica count and returns the previous one.
func (c *Client) Scale(ctx context.Context, service string, replicas int) (int, error) {
	var resp ScaleResponse
	err := c.Do(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(service)+"/scale", ScaleRequest{Replicas: replicas}, &resp)
	return resp.Previous, err
}

// Logs streams a replica's log; with opts.Follow it goes on until ctx ends.
func (c *Client) Logs(ctx context.Context, replica string, opts LogOptions) (io.ReadCloser, error) {
	q := url.Values{}
	if opts.Container != "" {
		q.Set("container", opts.Container)
	}
	if opts.Previous {
		q.Set("previous", "1")
	}
	if opts.Follow {
		q.Set("follow", "1")
	}
	path := "/v1/replicas/" + url.PathEscape(replica) + "/logs"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.send(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Events streams the environment's events until ctx ends or the
// supervisor stops; the channel is closed then.
func (c *Client) Events(ctx context.Context) (<-chan Event, error) {
	resp, err := c.send(ctx, http.MethodGet, "/v1/events", nil)
	if err != nil {
		return nil, err
	}
	ch := make(chan Event, 64)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			var e Event
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			select {
			case ch <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

// Down asks the supervisor to stop gracefully and waits until its control
// socket is gone (every replica has stopped by then), or ctx ends.
func (c *Client) Down(ctx context.Context) error {
	if err := c.Do(ctx, http.MethodPost, "/v1/down", nil, nil); err != nil {
		return err
	}
	c.Close()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		conn, err := net.Dial("unix", c.socket)
		if err != nil {
			return nil
		}
		conn.Close()
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the supervisor to stop: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// Ping reports whether the supervisor answers.
func (c *Client) Ping(ctx context.Context) error {
	return c.Do(ctx, http.MethodGet, "/v1/nodes", nil, nil)
}
