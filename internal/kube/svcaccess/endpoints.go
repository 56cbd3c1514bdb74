package svcaccess

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// endpoint is one ready backend of a Service port.
type endpoint struct {
	addr      string // IP from the slice (first address of the endpoint)
	port      int32  // the slice port matching the Service port's name
	namespace string // of the pod, when the endpoint names one
	pod       string // targetRef pod name, or ""
}

// key names the endpoint in Stats: namespace/pod, or address:port for
// endpoints without a pod.
func (e endpoint) key() string {
	if e.pod != "" {
		return e.namespace + "/" + e.pod
	}
	return e.hostPort()
}

func (e endpoint) hostPort() string {
	return net.JoinHostPort(e.addr, strconv.Itoa(int(e.port)))
}

// serviceIndex indexes EndpointSlices by the Service they belong to.
const serviceIndex = "service"

// nsWatch is the EndpointSlice informer of one namespace.
type nsWatch struct {
	factory  informers.SharedInformerFactory
	informer cache.SharedIndexInformer
	stop     chan struct{}
}

func newNSWatch(client kubernetes.Interface, ns string, onChange func()) (*nsWatch, error) {
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = discoveryv1.LabelServiceName
		}))
	inf := factory.Discovery().V1().EndpointSlices().Informer()
	if err := inf.AddIndexers(cache.Indexers{serviceIndex: func(obj any) ([]string, error) {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			return nil, nil
		}
		if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
			return []string{name}, nil
		}
		return nil, nil
	}}); err != nil {
		return nil, fmt.Errorf("endpointslice indexer for namespace %s: %w", ns, err)
	}
	if onChange != nil {
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(any, any) { onChange() },
			DeleteFunc: func(any) { onChange() },
		}); err != nil {
			return nil, fmt.Errorf("endpointslice handler for namespace %s: %w", ns, err)
		}
	}
	w := &nsWatch{factory: factory, informer: inf, stop: make(chan struct{})}
	factory.Start(w.stop)
	return w, nil
}

// waitSynced waits until the informer has listed the namespace's slices.
func (w *nsWatch) waitSynced(ctx context.Context) bool {
	return cache.WaitForCacheSync(ctx.Done(), w.informer.HasSynced)
}

// slices returns the cached EndpointSlices of a Service.
func (w *nsWatch) slices(service string) []*discoveryv1.EndpointSlice {
	objs, err := w.informer.GetIndexer().ByIndex(serviceIndex, service)
	if err != nil {
		return nil
	}
	out := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			out = append(out, s)
		}
	}
	return out
}

// pods returns the pods any slice of the namespace names, ready or not.
func (w *nsWatch) pods() map[string]bool {
	out := map[string]bool{}
	for _, o := range w.informer.GetStore().List() {
		s, ok := o.(*discoveryv1.EndpointSlice)
		if !ok {
			continue
		}
		for _, ep := range s.Endpoints {
			if ref := ep.TargetRef; ref != nil && ref.Kind == "Pod" {
				out[refNamespace(ref.Namespace, s.Namespace)+"/"+ref.Name] = true
			}
		}
	}
	return out
}

// shutdown stops the informer and waits for its goroutines.
func (w *nsWatch) shutdown() {
	close(w.stop)
	w.factory.Shutdown()
}

func refNamespace(ref, slice string) string {
	if ref != "" {
		return ref
	}
	return slice
}

// readyEndpoints returns the ready endpoints of the Service port named
// portName ("" for an unnamed port) across the Service's slices, without
// duplicates (an endpoint may sit in two slices while they are rebalanced),
// sorted by key so that round-robin order is stable.
func readyEndpoints(list []*discoveryv1.EndpointSlice, portName string) []endpoint {
	seen := map[string]bool{}
	var out []endpoint
	for _, s := range list {
		if s.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		port, ok := slicePort(s, portName)
		if !ok {
			continue
		}
		for _, ep := range s.Endpoints {
			if !endpointReady(ep.Conditions) || len(ep.Addresses) == 0 {
				continue
			}
			e := endpoint{addr: ep.Addresses[0], port: port}
			if ref := ep.TargetRef; ref != nil && ref.Kind == "Pod" && ref.Name != "" {
				e.namespace, e.pod = refNamespace(ref.Namespace, s.Namespace), ref.Name
			}
			if seen[e.hostPort()] {
				continue
			}
			seen[e.hostPort()] = true
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b endpoint) int {
		return cmp.Or(cmp.Compare(a.key(), b.key()), cmp.Compare(a.hostPort(), b.hostPort()))
	})
	return out
}

// slicePort finds the slice port with the Service port's name.
func slicePort(s *discoveryv1.EndpointSlice, name string) (int32, bool) {
	for _, p := range s.Ports {
		pn := ""
		if p.Name != nil {
			pn = *p.Name
		}
		if pn == name && p.Port != nil && *p.Port > 0 {
			return *p.Port, true
		}
	}
	return 0, false
}

// endpointReady: ready true or unset (unknown means ready for consumers),
// and not terminating.
func endpointReady(c discoveryv1.EndpointConditions) bool {
	if c.Ready != nil && !*c.Ready {
		return false
	}
	return c.Terminating == nil || !*c.Terminating
}
