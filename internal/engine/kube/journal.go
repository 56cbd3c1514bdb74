package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/faultline-dev/faultline/internal/engine"
)

// The in-cluster journal: one coordination.k8s.io Lease per injection, in
// the journal namespace, named after the injection. The Lease's holder,
// renewTime and leaseDurationSeconds are the owner and the TTL (kubectl
// get lease shows them); the journal entry itself (undo steps included) is
// JSON in an annotation. A Lease, not a ConfigMap, because its spec already
// says who holds it until when.
const (
	// JournalLabel marks journal Leases (value journalVersion).
	JournalLabel   = "faultline.dev/journal"
	journalVersion = "v1"
	// entryAnnotation holds the engine.Entry JSON.
	entryAnnotation = "faultline.dev/entry"
	managedByLabel  = "app.kubernetes.io/managed-by"
)

type leaseJournal struct {
	client kubernetes.Interface
	ns     string
}

// encodeLease builds the Lease recording e, held for ttl from now.
func encodeLease(e *engine.Entry, ns string, ttl time.Duration, now time.Time) (*coordv1.Lease, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode journal entry %s: %w", e.ID, err)
	}
	// All annotations of an object share 256 KiB.
	if len(data) > 200<<10 {
		return nil, fmt.Errorf("journal entry %s is %d bytes, too large for a Lease annotation", e.ID, len(data))
	}
	holder := e.Owner.Host + "/" + strconv.Itoa(e.Owner.PID)
	secs := int32(max(1, (ttl+time.Second-1)/time.Second))
	renew := metav1.NewMicroTime(now)
	created := metav1.NewMicroTime(e.Created)
	return &coordv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: e.ID, Namespace: ns,
			Labels:      map[string]string{JournalLabel: journalVersion, managedByLabel: "faultline"},
			Annotations: map[string]string{entryAnnotation: string(data)}},
		Spec: coordv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, AcquireTime: &created, RenewTime: &renew},
	}, nil
}

// decodeLease reads the entry a Lease records. Its LeaseUntil is the
// Lease's renewTime + leaseDurationSeconds: the Lease spec is what other
// tools see and what counts.
func decodeLease(l *coordv1.Lease) (*engine.Entry, error) {
	raw, ok := l.Annotations[entryAnnotation]
	if !ok {
		return nil, fmt.Errorf("journal lease %s/%s has no %s annotation", l.Namespace, l.Name, entryAnnotation)
	}
	var e engine.Entry
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return nil, fmt.Errorf("journal lease %s/%s is corrupt: %w", l.Namespace, l.Name, err)
	}
	if e.ID != l.Name {
		return nil, fmt.Errorf("journal lease %s/%s records injection %q", l.Namespace, l.Name, e.ID)
	}
	if l.Spec.RenewTime != nil && l.Spec.LeaseDurationSeconds != nil {
		e.LeaseUntil = l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second)
	}
	return &e, nil
}

// orphaned reports whether nobody holds an entry: its lease ran out, or its
// owner ran on this host and is gone. An owner on another host is only
// judged by its lease (its process cannot be seen from here).
func orphaned(e *engine.Entry, now time.Time, host string) (bool, string) {
	if !e.LeaseUntil.IsZero() && now.After(e.LeaseUntil) {
		return true, fmt.Sprintf("its lease ran out %s ago", now.Sub(e.LeaseUntil).Round(time.Second))
	}
	if e.Owner.Host == host && !e.Owner.Alive() {
		return true, fmt.Sprintf("its owner (pid %d on %s) is gone", e.Owner.PID, host)
	}
	return false, ""
}

func (j *leaseJournal) create(ctx context.Context, e *engine.Entry, ttl time.Duration) error {
	l, err := encodeLease(e, j.ns, ttl, time.Now())
	if err != nil {
		return err
	}
	if _, err := j.client.CoordinationV1().Leases(j.ns).Create(ctx, l, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("journal injection %s as lease %s/%s: %w", e.ID, j.ns, e.ID, err)
	}
	return nil
}

// write records e (undo steps, renewed lease) over the existing Lease.
func (j *leaseJournal) write(ctx context.Context, e *engine.Entry, ttl time.Duration) error {
	want, err := encodeLease(e, j.ns, ttl, time.Now())
	if err != nil {
		return err
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := j.client.CoordinationV1().Leases(j.ns).Get(ctx, e.ID, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = j.client.CoordinationV1().Leases(j.ns).Create(ctx, want, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		cur.Labels, cur.Annotations, cur.Spec = want.Labels, want.Annotations, want.Spec
		_, err = j.client.CoordinationV1().Leases(j.ns).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("journal injection %s (lease %s/%s): %w", e.ID, j.ns, e.ID, err)
	}
	return nil
}

func (j *leaseJournal) remove(ctx context.Context, id string) error {
	err := j.client.CoordinationV1().Leases(j.ns).Delete(ctx, id, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove journal lease %s/%s: %w", j.ns, id, err)
	}
	return nil
}

// list returns every journaled entry; unreadable Leases are returned as
// errors alongside the readable ones.
func (j *leaseJournal) list(ctx context.Context) ([]*engine.Entry, []error, error) {
	list, err := j.client.CoordinationV1().Leases(j.ns).List(ctx, metav1.ListOptions{LabelSelector: JournalLabel + "=" + journalVersion})
	if err != nil {
		return nil, nil, fmt.Errorf("list journal leases in %s: %w", j.ns, err)
	}
	var out []*engine.Entry
	var errs []error
	for i := range list.Items {
		e, err := decodeLease(&list.Items[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, e)
	}
	return out, errs, nil
}
